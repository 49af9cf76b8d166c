package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pkjwt/pkjwt/replay"
	"github.com/redis/go-redis/v9"
)

// Defaults for the zero fields of a [Config].
const (
	DefaultPrefix  = "pkjwt:jti:"
	DefaultTimeout = 2 * time.Second
)

// Config configures [New]. The zero value is ready to use.
type Config struct {
	// Prefix is prepended to every key, to keep claims apart from other data
	// in the same Redis database. Stores that must see each other's claims
	// MUST use the same Prefix.
	//
	// Empty means DefaultPrefix.
	Prefix string

	// Timeout bounds each Claim, on top of the deadline of its ctx. go-redis
	// applies a context deadline to socket reads and writes only when the
	// client's options have ContextTimeoutEnabled set; without it, Timeout
	// still bounds waiting for a connection and retries, and the client's
	// ReadTimeout and WriteTimeout bound the I/O.
	//
	// Zero means DefaultTimeout. Negative means no bound beyond ctx.
	Timeout time.Duration
}

// Store is a [replay.Store] in Redis. It is safe for concurrent use and
// starts no goroutines; the caller owns the client and closes it.
type Store struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
}

var _ replay.Store = (*Store)(nil)

// New returns a store that claims keys through client: a *redis.Client, a
// *redis.ClusterClient, a *redis.Ring, or any other [redis.UniversalClient].
// It returns an error if client is nil.
func New(client redis.UniversalClient, cfg Config) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: nil client")
	}
	s := &Store{client: client, prefix: cfg.Prefix, timeout: cfg.Timeout}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	return s, nil
}

// Claim records key as used until the time until; see [replay.Store.Claim].
//
// It returns nil when Redis set the key, [replay.ErrReplayed] when the key
// was already set, an error wrapping the ctx error when ctx (or Timeout)
// ends before Redis answers, an error for an empty key or a zero until, and
// a wrapped Redis or network error for anything else, which never wraps
// replay.ErrReplayed. until is rounded up to the millisecond. An until in
// the past records nothing: Claim reports ErrReplayed if key is still
// claimed from before, nil otherwise.
func (s *Store) Claim(ctx context.Context, key string, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: claim: %w", err)
	}
	if key == "" {
		return errors.New("redisstore: empty key")
	}
	if until.IsZero() {
		return errors.New("redisstore: zero until time")
	}
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	reply, err := s.client.SetArgs(ctx, s.prefix+key, "1", redis.SetArgs{
		Mode:     "NX",
		ExpireAt: expireAt(until),
	}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		// SET NX answers nil exactly when the key exists.
		return replay.ErrReplayed
	case err != nil:
		if cerr := ctxErr(ctx); cerr != nil && !errors.Is(err, cerr) {
			// A deadline reaches go-redis as a socket timeout; say which.
			return fmt.Errorf("redisstore: claim: %w: %w", cerr, err)
		}
		return fmt.Errorf("redisstore: claim: %w", err)
	case reply != "OK":
		return fmt.Errorf("redisstore: claim: unexpected reply %q to SET", reply)
	}
	return nil
}

// ctxErr is ctx.Err(), except that it already reports a deadline that has
// passed: a socket deadline set from ctx can fire before ctx's own timer.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// expireAt rounds until up to a whole millisecond, the precision of PXAT, so
// that the claim never expires early. Times before 1970 become the earliest
// time Redis accepts, which is as much in the past.
func expireAt(until time.Time) time.Time {
	ms := until.UnixMilli()
	if time.UnixMilli(ms).Before(until) {
		ms++
	}
	return time.UnixMilli(max(ms, 1))
}
