package redisstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkjwt/pkjwt/replay"
	"github.com/redis/go-redis/v9"
)

// Defaults for the zero fields of a [Config].
const (
	DefaultPrefix        = "pkjwt:jti:"
	DefaultTimeout       = 2 * time.Second
	DefaultCheckInterval = time.Second
	DefaultWaitTimeout   = 100 * time.Millisecond
)

// tags is the number of hash tags claim keys are spread over. Each tag has
// its own epoch marker in the same hash slot as its claims.
const tags = 1024

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

	// CheckInterval is how often a background goroutine reads INFO from
	// every primary to detect what the epoch markers cannot see: a restart
	// that reloaded persisted data (the newest writes may be missing), a
	// replica promoted in a failover, and evicted keys. See the package
	// documentation.
	//
	// Zero means DefaultCheckInterval. Negative disables the checks: only
	// losses the markers show are then detected.
	CheckInterval time.Duration

	// WaitReplicas, when positive, makes each claim wait (Redis WAIT) until
	// that many replicas acknowledged it, and fail (closed) when fewer did
	// within WaitTimeout. It narrows, without closing, the window in which
	// a failover loses a claim; it costs a replication round trip per
	// claim.
	//
	// Zero means no waiting. Negative is an error.
	WaitReplicas int

	// WaitTimeout bounds the wait for WaitReplicas. With WaitReplicas, it
	// must be shorter than Timeout (when Timeout bounds the claim).
	//
	// Zero means DefaultWaitTimeout. Negative is an error.
	WaitTimeout time.Duration

	// Logger receives the losses the store detects. Nil discards them.
	Logger *slog.Logger
}

// Store is a [replay.Store] in Redis. It is safe for concurrent use. The
// caller owns the client and closes it after [Store.Close].
type Store struct {
	client       redis.UniversalClient
	prefix       string
	timeout      time.Duration
	waitReplicas int
	waitTimeout  time.Duration
	logger       *slog.Logger

	// id (128 random bits, hex) and claims make each claim's token.
	id     string
	claims atomic.Uint64

	// floor is the latest epoch the store has seen in a marker or set
	// itself, in Unix milliseconds (0: none); it is every claim's epoch.
	floor atomic.Int64

	// The checker's view of the primaries, guarded by checkMu.
	checkMu   sync.Mutex
	known     map[string]nodeState
	needsBump bool

	lost       chan struct{} // a claim recreated a marker: bump the others
	firstCheck chan struct{} // closed when the first check is over

	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

var _ replay.Store = (*Store)(nil)

// bumpScript moves the epoch marker KEYS[1] forward to ARGV[1] (Unix ms),
// never backward, and returns it.
var bumpScript = redis.NewScript(`
local to = tonumber(ARGV[1])
local m = tonumber(redis.call('GET', KEYS[1]))
if not m or m < to then
	redis.call('SET', KEYS[1], ARGV[1])
	m = to
end
return m
`)

// New returns a store that claims keys through client: a *redis.Client
// (also from redis.NewFailoverClient, for Sentinel), a *redis.ClusterClient,
// or another [redis.UniversalClient]. It refuses a *redis.Ring: a Ring sends
// a key to another shard while its own is down, where earlier claims are
// unknown, and never notices. It returns an error if client is nil or cfg
// is invalid, and starts the checker goroutine (which also moves the epoch
// markers forward after a loss); call [Store.Close] to stop it.
//
// The claims need Redis 7.0 or later (SET with NX and GET).
func New(client redis.UniversalClient, cfg Config) (*Store, error) {
	switch {
	case client == nil:
		return nil, errors.New("redisstore: nil client")
	case cfg.WaitReplicas < 0:
		return nil, fmt.Errorf("redisstore: negative WaitReplicas %d", cfg.WaitReplicas)
	case cfg.WaitTimeout < 0:
		return nil, fmt.Errorf("redisstore: negative WaitTimeout %v", cfg.WaitTimeout)
	}
	if _, ok := client.(*redis.Ring); ok {
		return nil, errors.New("redisstore: *redis.Ring is not supported: it loses claims when a shard is down (use one primary, Sentinel or a Redis Cluster)")
	}
	s := &Store{
		client:       client,
		prefix:       cfg.Prefix,
		timeout:      cfg.Timeout,
		waitReplicas: cfg.WaitReplicas,
		waitTimeout:  cfg.WaitTimeout,
		logger:       cfg.Logger,
		done:         make(chan struct{}),
		lost:         make(chan struct{}, 1),
		firstCheck:   make(chan struct{}),
	}
	var id [16]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails
	s.id = hex.EncodeToString(id[:]) + "."
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	if s.waitTimeout == 0 {
		s.waitTimeout = DefaultWaitTimeout
	}
	if s.waitReplicas > 0 && s.timeout > 0 && s.waitTimeout >= s.timeout {
		return nil, fmt.Errorf("redisstore: WaitTimeout %v must be shorter than Timeout %v, or every unacknowledged claim ends as a timeout", s.waitTimeout, s.timeout)
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	interval := cfg.CheckInterval
	if interval == 0 {
		interval = DefaultCheckInterval
	}
	s.wg.Go(func() { s.checker(interval) })
	return s, nil
}

// Close stops the checker goroutine and waits for it to exit. It does not
// close the client; claims still work after Close, without checks. Close
// always returns nil; calling it again does nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.wg.Wait()
	})
	return nil
}

// Provision records that Redis is new to the store's prefix: no claim was
// ever made in it, so none can have been lost. It creates the missing epoch
// markers with a zero epoch and leaves existing ones alone, so that the
// first claims are not refused as after a loss (see the package
// documentation). Call it once, when putting a new Redis (or a new Prefix)
// into service, before any claim. Never call it after Redis may have lost
// data: it would hide the loss from every store using the prefix.
func (s *Store) Provision(ctx context.Context) error {
	p := s.client.Pipeline()
	for i := range tags {
		p.SetNX(ctx, s.tag(i)+"epoch", "0", 0)
	}
	if _, err := p.Exec(ctx); err != nil {
		return fmt.Errorf("redisstore: provision: %w", err)
	}
	return nil
}

// Epoch returns the store's epoch as of its last claim or check: the
// latest epoch marker it has read, or loss it has detected (zero if none).
func (s *Store) Epoch() time.Time { return msTime(s.floor.Load()) }

// keys returns the claim key and the epoch marker key of key: the claim key
// is the SHA-256 of key under the prefix and a hash tag taken from the
// hash, so that keys spread evenly over hash slots whatever bytes key holds
// (a "{...}" in a client's jti cannot pin claims to one slot), and the
// marker shares the claim's slot.
func (s *Store) keys(key string) (claimKey, markerKey string) {
	h := sha256.Sum256([]byte(key))
	tag := s.tag(int(binary.BigEndian.Uint16(h[:2])) % tags)
	return tag + base64.RawURLEncoding.EncodeToString(h[:]), tag + "epoch"
}

func (s *Store) tag(i int) string { return s.prefix + "{" + strconv.Itoa(i) + "}" }

// Claim records key as used until the time until; see [replay.Store.Claim].
//
// It returns the epoch (see the package documentation) and a nil error when
// the key was not claimed before, or when the key holds this very call's
// token because go-redis retried a claim whose reply was lost;
// [replay.ErrReplayed] when the key was already claimed; an error wrapping
// the ctx error when ctx (or Timeout) ends before Redis answers; an error
// when fewer than WaitReplicas replicas acknowledged in time; an error for
// an empty key or a zero until; and a wrapped Redis or network error for
// anything else, which never wraps replay.ErrReplayed. until is rounded up
// to the millisecond. An until in the past records nothing: Claim reports
// ErrReplayed if key is still claimed from before, nil otherwise.
func (s *Store) Claim(ctx context.Context, key string, until time.Time) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, fmt.Errorf("redisstore: claim: %w", err)
	}
	if key == "" {
		return time.Time{}, errors.New("redisstore: empty key")
	}
	if until.IsZero() {
		return time.Time{}, errors.New("redisstore: zero until time")
	}
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	select {
	case <-s.firstCheck:
	default:
		// No claim before the first check: it may find that the primary
		// is a promoted replica or restarted since its data was written.
		select {
		case <-s.firstCheck:
		case <-ctx.Done():
			return time.Time{}, claimError(ctx, ctx.Err())
		}
	}
	// Unique to this claim: the store's random id and a counter.
	token := s.id + strconv.FormatUint(s.claims.Add(1), 36)
	claimKey, markerKey := s.keys(key)

	// One round trip: the claim first, then the marker of its tag. A loss
	// between the two shows as a missing marker; a loss before the claim
	// too, so a claim that succeeds only because Redis forgot the key is
	// never reported against an old epoch.
	var pipe redis.Pipeliner
	if s.waitReplicas > 0 {
		node, err := s.node(ctx, claimKey)
		if err != nil {
			return time.Time{}, claimError(ctx, err)
		}
		pipe = node.Pipeline()
	} else {
		pipe = s.client.Pipeline()
	}
	set := pipe.Do(ctx, "set", claimKey, token, "nx", "pxat", expireAtMillis(until), "get")
	get := pipe.Get(ctx, markerKey)
	var wait *redis.Cmd
	if s.waitReplicas > 0 {
		wait = pipe.Do(ctx, "wait", s.waitReplicas, max(s.waitTimeout.Milliseconds(), 1))
	}
	_, _ = pipe.Exec(ctx) // each command's error is checked below

	prev, err := set.Text()
	switch {
	case errors.Is(err, redis.Nil):
		prev = ""
	case err != nil:
		return time.Time{}, claimError(ctx, err)
	}
	if wait != nil {
		n, err := wait.Int64()
		if err != nil {
			return time.Time{}, claimError(ctx, err)
		}
		if int(n) < s.waitReplicas {
			return time.Time{}, fmt.Errorf("redisstore: claim acknowledged by %d replicas, want %d", n, s.waitReplicas)
		}
	}
	marker, err := s.marker(ctx, markerKey, get)
	if err != nil {
		return time.Time{}, claimError(ctx, err)
	}
	// The store's epoch is the latest it has seen in any tag: it never
	// moves backward from one claim to the next.
	s.raiseFloor(marker)
	epoch := msTime(s.floor.Load())
	if prev != "" && prev != token {
		return epoch, replay.ErrReplayed
	}
	return epoch, nil
}

// node returns a client of the primary that serves key, for commands that
// must share the claim's connection (WAIT).
func (s *Store) node(ctx context.Context, key string) (interface{ Pipeline() redis.Pipeliner }, error) {
	switch c := s.client.(type) {
	case *redis.ClusterClient:
		return c.MasterForKey(ctx, key)
	case *redis.Client:
		return c, nil
	}
	return nil, errors.New("redisstore: WaitReplicas needs a *redis.Client or *redis.ClusterClient")
}

// marker returns the epoch marker get read, in Unix ms. A missing marker
// means the tag lost its data (or Redis is new): marker creates it with the
// current time, unless another store just did, and reports the loss.
func (s *Store) marker(ctx context.Context, key string, get *redis.StringCmd) (int64, error) {
	v, err := get.Result()
	if errors.Is(err, redis.Nil) {
		now := strconv.FormatInt(time.Now().UnixMilli(), 10)
		v, err = s.client.SetArgs(ctx, key, now, redis.SetArgs{Mode: "NX", Get: true}).Result()
		if errors.Is(err, redis.Nil) {
			v, err = now, nil
		}
		if err != nil {
			return 0, err
		}
		ms, perr := parseMarker(v)
		if perr == nil {
			s.markerLost(ms)
		}
		return ms, perr
	}
	if err != nil {
		return 0, err
	}
	return parseMarker(v)
}

func parseMarker(v string) (int64, error) {
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms < 0 {
		return 0, fmt.Errorf("redisstore: bad epoch marker %q", v)
	}
	return ms, nil
}

func claimError(ctx context.Context, err error) error {
	if cerr := ctxErr(ctx); cerr != nil && !errors.Is(err, cerr) {
		// A deadline reaches go-redis as a socket timeout; say which.
		return fmt.Errorf("redisstore: claim: %w: %w", cerr, err)
	}
	return fmt.Errorf("redisstore: claim: %w", err)
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

// expireAtMillis rounds until up to a whole millisecond, the precision of
// PXAT, so that the claim never expires early. Times before 1970 become the
// earliest time Redis accepts, which is as much in the past.
func expireAtMillis(until time.Time) int64 {
	ms := until.UnixMilli()
	if time.UnixMilli(ms).Before(until) {
		ms++
	}
	return max(ms, 1)
}

func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
