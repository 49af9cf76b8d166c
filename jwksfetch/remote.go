package jwksfetch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkjwt/pkjwt/verify"
)

// Defaults of [RemoteConfig].
const (
	DefaultTimeout            = 5 * time.Second
	DefaultMaxResponseBytes   = 512 << 10
	DefaultRefreshInterval    = 5 * time.Minute
	DefaultMinRefreshInterval = 30 * time.Second
	DefaultMaxStaleness       = 24 * time.Hour
	DefaultMaxWait            = 2 * time.Second
)

// RemoteConfig is the policy of a [Remote]. The zero value is the default
// policy; each field documents its zero value. NewRemote copies it.
type RemoteConfig struct {
	// HTTPClient fetches the document. Nil: a client of this package with
	// Timeout as its overall timeout, no proxy, no redirects, TLS 1.2 or
	// later, and an address check at dial time that refuses loopback,
	// private (RFC 1918, fc00::/7), link-local (169.254.0.0/16 with the
	// cloud metadata address, fe80::/10), CGNAT, unspecified, multicast and
	// reserved addresses, also in IPv4-mapped, 6to4 and NAT64 form.
	//
	// A custom client MUST protect against server-side request forgery
	// itself: the jwks_uri of a dynamically registered client is chosen by
	// whoever registers it. The response-size cap, the status and content
	// type checks and Timeout apply to every client.
	HTTPClient *http.Client
	// Timeout bounds one fetch (connection, TLS, headers and body). Zero:
	// DefaultTimeout (5 s). Negative: an error.
	Timeout time.Duration
	// MaxResponseBytes caps the document; a longer one is refused (and
	// never read beyond the cap plus one byte). Zero:
	// DefaultMaxResponseBytes (512 KiB). Negative: an error.
	MaxResponseBytes int64
	// RefreshInterval is the period of the background refresh. After a
	// failed fetch the next attempt comes sooner, backing off from
	// MinRefreshInterval. Zero: DefaultRefreshInterval (5 min). Negative: no
	// background refresh; keys are fetched at construction and on demand
	// only.
	RefreshInterval time.Duration
	// MinRefreshInterval rate-limits the fetches callers cause (an unknown
	// kid, no keys yet, stale keys): at most one per MinRefreshInterval,
	// however many callers ask; concurrent callers share one fetch. Zero:
	// DefaultMinRefreshInterval (30 s). Negative: no limit (fetches are
	// still shared).
	MinRefreshInterval time.Duration
	// MaxStaleness is how long keys remain usable after the last successful
	// fetch while fetches fail; beyond it Key fails with ErrUnavailable.
	// Zero: DefaultMaxStaleness (24 h). Negative: an error.
	MaxStaleness time.Duration
	// MaxWait bounds how long Key waits for a fetch it needs (the first
	// one, or one for an unknown kid); the fetch goes on in the background,
	// and Key answers from the keys it has. Key never waits beyond its ctx
	// either. Zero: DefaultMaxWait (2 s). Negative: Key never waits.
	MaxWait time.Duration
	// InsecureAllowLoopbackAndHTTP lets the default client fetch http://
	// URIs and connect to loopback addresses (127.0.0.0/8, ::1), for tests
	// and development. Other forbidden addresses stay forbidden. It MUST NOT
	// be set in production: a client could then make the server fetch
	// from itself.
	InsecureAllowLoopbackAndHTTP bool
	// InsecureAllowPrivateNetworks lets the default client connect to
	// private addresses (RFC 1918, CGNAT 100.64.0.0/10, unique local
	// fc00::/7), for development networks. Link-local addresses, cloud
	// metadata endpoints among them, stay forbidden. It MUST NOT be set
	// where clients are not trusted: a client could then make the server
	// fetch from the internal network.
	InsecureAllowPrivateNetworks bool
	// Logger receives what cannot be returned: failed background fetches,
	// recoveries, skipped keys. Nil: nothing is logged. Key material is
	// never logged.
	Logger *slog.Logger
	// OnFetch, if set, is called after every fetch with its error (nil on
	// success). It must be quick and safe for concurrent use. Hooks.Fetch
	// reports more.
	OnFetch func(uri string, err error)
	// Hooks receive every key lookup and fetch, for metrics and traces.
	// Nil: none, at no cost.
	Hooks *Hooks
	// Now returns the current time, for staleness and the rate limit. Nil:
	// time.Now. Timers (the background refresh, MaxWait, Timeout) use the
	// real clock.
	Now func() time.Time
}

func (c RemoteConfig) withDefaults() (RemoteConfig, error) {
	switch {
	case c.Timeout < 0:
		return c, errors.New("jwksfetch: negative Timeout")
	case c.MaxResponseBytes < 0:
		return c, errors.New("jwksfetch: negative MaxResponseBytes")
	case c.MaxStaleness < 0:
		return c, errors.New("jwksfetch: negative MaxStaleness")
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if c.RefreshInterval == 0 {
		c.RefreshInterval = DefaultRefreshInterval
	}
	if c.MinRefreshInterval == 0 {
		c.MinRefreshInterval = DefaultMinRefreshInterval
	}
	if c.MaxStaleness == 0 {
		c.MaxStaleness = DefaultMaxStaleness
	}
	if c.MaxWait == 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// Remote is a [verify.KeySource] backed by one jwks_uri (RFC 7591 §2,
// RFC 7517 §5). It fetches the document at construction, in the
// background, and then every RefreshInterval; it fetches again, at most
// once per MinRefreshInterval and once for any number of concurrent
// callers, when asked for a kid it does not know. It serves the last good
// keys while fetches fail, for up to MaxStaleness. Keys that fail the
// package's checks are skipped and logged.
//
// A Remote is safe for concurrent use. Between fetches it holds no
// goroutine, only a timer; Close stops it.
type Remote struct {
	uri        string
	cfg        RemoteConfig
	client     *http.Client
	ownsClient bool

	state atomic.Pointer[keyState]

	ctx    context.Context // cancelled by Close; parent of every fetch
	cancel context.CancelFunc
	wg     sync.WaitGroup // running fetches

	mu         sync.Mutex
	closed     bool
	inflight   *fetchCall
	lastForced time.Time // Now of the last fetch a caller caused
	timer      *time.Timer
}

var _ verify.KeySource = (*Remote)(nil)

// keyState is one immutable snapshot of a Remote's keys.
type keyState struct {
	keys     []verify.Key
	fetched  time.Time // Now of the last successful fetch; zero: none
	err      error     // error of the last fetch, nil if it succeeded
	failures int       // consecutive failed fetches
	skipped  string    // the skipped keys of the last successful fetch
}

// fetchCall is one fetch that any number of callers wait for.
type fetchCall struct {
	done   chan struct{}
	forced bool // caused by a caller, see start
}

// NewRemote returns a Remote for the JWK Set at uri, an https URL (http too
// with InsecureAllowLoopbackAndHTTP). It starts the first fetch and
// returns without waiting for it. It returns an error if uri or cfg is
// invalid; a forbidden scheme wraps ErrForbiddenAddress. Close it when done.
func NewRemote(uri string, cfg RemoteConfig) (*Remote, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := checkURI(uri, c.InsecureAllowLoopbackAndHTTP); err != nil {
		return nil, err
	}
	client, owns := c.HTTPClient, false
	if client == nil {
		client, owns = newHTTPClient(c.Timeout, policyOf(c)), true
	}
	return newRemote(uri, c, client, owns), nil
}

// newRemote starts a Remote with a validated config.
func newRemote(uri string, cfg RemoteConfig, client *http.Client, ownsClient bool) *Remote {
	r := &Remote{uri: uri, cfg: cfg, client: client, ownsClient: ownsClient}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.state.Store(&keyState{})
	if c, started := r.start(false); started {
		go r.run(c)
	}
	return r
}

// Key implements [verify.KeySource]. With current keys and a known kid it
// does not block or allocate. Otherwise it causes a fetch (rate-limited,
// shared with concurrent callers) and waits for it, at most MaxWait and
// never beyond ctx.
//
// It returns the errors of [verify.SelectKey] (wrapping
// verify.ErrKeyNotFound or verify.ErrKeyIDRequired), or an error wrapping
// ErrUnavailable when it has no usable keys (none fetched yet, or stale
// beyond MaxStaleness) or when ctx ended while it waited for a fetch (then
// also wrapping ctx.Err()).
func (r *Remote) Key(ctx context.Context, kid, alg string) (verify.Key, error) {
	st := r.state.Load()
	if st.fresh(r.cfg.Now(), r.cfg.MaxStaleness) {
		k, err := verify.SelectKey(st.keys, kid, alg)
		if err == nil || !errors.Is(err, verify.ErrKeyNotFound) {
			if r.cfg.Hooks != nil {
				r.observeHit(ctx, st, err)
			}
			return k, err
		}
	}
	return r.slowKey(ctx, kid, alg)
}

// slowKey is Key when the current keys do not answer: it fetches (if the
// rate limit allows), waits, and selects from what it has then.
func (r *Remote) slowKey(ctx context.Context, kid, alg string) (_ verify.Key, err error) {
	c, started := r.start(true)
	if r.cfg.Hooks != nil {
		defer r.observeSlow(ctx, time.Now(), c, started, &err)
	}
	if c != nil {
		if started {
			go r.run(c)
		}
		if err := r.wait(ctx, c); err != nil {
			return verify.Key{}, err
		}
	}
	st := r.state.Load()
	if now := r.cfg.Now(); !st.fresh(now, r.cfg.MaxStaleness) {
		return verify.Key{}, r.unavailable(st, now)
	}
	return verify.SelectKey(st.keys, kid, alg)
}

// wait waits for c, at most MaxWait (then the fetch goes on without the
// caller), and returns an error if ctx ends first.
func (r *Remote) wait(ctx context.Context, c *fetchCall) error {
	if r.cfg.MaxWait < 0 {
		return nil
	}
	t := time.NewTimer(r.cfg.MaxWait)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
	case <-ctx.Done():
		return fmt.Errorf("%w: %s: waiting for a fetch: %w", ErrUnavailable, r.uri, ctx.Err())
	}
	return nil
}

// unavailable returns the error of a Remote whose keys st are not fresh.
func (r *Remote) unavailable(st *keyState, now time.Time) error {
	cause := st.err
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		cause = ErrClosed
	}
	switch {
	case st.fetched.IsZero() && cause == nil:
		return fmt.Errorf("%w: %s: no keys fetched yet", ErrUnavailable, r.uri)
	case st.fetched.IsZero():
		return fmt.Errorf("%w: %s: no keys fetched yet: %w", ErrUnavailable, r.uri, cause)
	case cause == nil:
		return fmt.Errorf("%w: %s: keys fetched %v ago, more than %v", ErrUnavailable, r.uri, now.Sub(st.fetched), r.cfg.MaxStaleness)
	default:
		return fmt.Errorf("%w: %s: keys fetched %v ago, more than %v: %w", ErrUnavailable, r.uri, now.Sub(st.fetched), r.cfg.MaxStaleness, cause)
	}
}

// fresh reports whether the keys of s may be used at now.
func (s *keyState) fresh(now time.Time, maxStaleness time.Duration) bool {
	return !s.fetched.IsZero() && now.Sub(s.fetched) <= maxStaleness
}

// start returns the fetch in flight, or a new one (started true: the caller
// must run it). A fetch that callers cause (forced) is subject to the rate
// limit: start returns nil when it applies, or when r is closed.
func (r *Remote) start(forced bool) (c *fetchCall, started bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.closed:
		return nil, false
	case r.inflight != nil:
		return r.inflight, false
	}
	if forced {
		now := r.cfg.Now()
		if !r.lastForced.IsZero() && now.Sub(r.lastForced) < r.cfg.MinRefreshInterval {
			return nil, false
		}
		r.lastForced = now
	}
	r.inflight = &fetchCall{done: make(chan struct{}), forced: forced}
	r.wg.Add(1)
	return r.inflight, true
}

// run performs fetch c, publishes its outcome and schedules the next
// background refresh.
func (r *Remote) run(c *fetchCall) {
	defer r.wg.Done()
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.Timeout)
	start, stats := time.Now(), fetchStats{}
	keys, skipped, err := fetch(ctx, r.client, r.uri, r.cfg.MaxResponseBytes, &stats)
	cancel()

	old := r.state.Load()
	var st *keyState
	if err != nil {
		err = fmt.Errorf("fetch: %w", err)
		st = &keyState{keys: old.keys, fetched: old.fetched, err: err, failures: old.failures + 1, skipped: old.skipped}
	} else {
		st = &keyState{keys: keys, fetched: r.cfg.Now(), skipped: summary(skipped)}
	}
	r.state.Store(st)
	if r.ctx.Err() == nil { // not aborted by Close
		r.report(old, st, skipped)
		r.observeFetch(c, start, &stats, st, len(skipped))
	}

	r.mu.Lock()
	r.inflight = nil
	if !r.closed && r.cfg.RefreshInterval > 0 {
		d := r.next(st)
		if r.timer == nil {
			r.timer = time.AfterFunc(d, r.tick)
		} else {
			r.timer.Reset(d)
		}
	}
	r.mu.Unlock()
	close(c.done)
}

// tick is the background refresh, run by the timer.
func (r *Remote) tick() {
	if c, started := r.start(false); started {
		r.run(c)
	}
	// Otherwise a fetch is in flight and schedules the next tick, or r is
	// closed.
}

// next returns the delay before the background refresh after st: the
// refresh interval, or after failures a backoff from MinRefreshInterval up
// to it; with ±10 % jitter so that many Remotes do not fetch in step.
func (r *Remote) next(st *keyState) time.Duration {
	d := r.cfg.RefreshInterval
	if st.err != nil && r.cfg.MinRefreshInterval > 0 {
		b := r.cfg.MinRefreshInterval << min(st.failures-1, 20)
		if b > 0 && b < d {
			d = b
		}
	}
	return d - d/10 + rand.N(d/5+1)
}

// report logs the outcome of a fetch and calls OnFetch.
func (r *Remote) report(old, st *keyState, skipped []*KeyError) {
	log := r.cfg.Logger
	if st.err != nil {
		args := []any{"uri", r.uri, "err", st.err, "failures", st.failures}
		switch now := r.cfg.Now(); {
		case st.fetched.IsZero():
			log.Warn("jwksfetch: fetch failed, no keys yet", args...)
		case !st.fresh(now, r.cfg.MaxStaleness):
			log.Error("jwksfetch: fetch failed, cached keys too old to use", append(args, "age", now.Sub(st.fetched))...)
		default:
			log.Warn("jwksfetch: fetch failed, serving cached keys", append(args, "age", now.Sub(st.fetched))...)
		}
	} else {
		if old.err != nil {
			log.Info("jwksfetch: fetch succeeded again", "uri", r.uri, "failures", old.failures)
		}
		level := slog.LevelDebug
		if st.skipped != old.skipped {
			level = slog.LevelWarn
		}
		for _, ke := range skipped {
			log.Log(context.Background(), level, "jwksfetch: key skipped", "uri", r.uri, "index", ke.Index, "kid", ke.KID, "reason", ke.Err.Error())
		}
		log.Debug("jwksfetch: fetched", "uri", r.uri, "keys", len(st.keys), "skipped", len(skipped))
	}
	if r.cfg.OnFetch != nil {
		r.cfg.OnFetch(r.uri, st.err)
	}
}

// summary identifies a list of skipped keys, to log changes only.
func summary(skipped []*KeyError) string {
	var b strings.Builder
	for _, ke := range skipped {
		b.WriteString(ke.Error())
		b.WriteByte('\n')
	}
	return b.String()
}

// Close stops the background refresh, aborts a fetch in flight and waits
// for it. Key keeps answering from the keys already fetched (while they
// are fresh) but never fetches again. Close is safe to call more than
// once; it returns nil.
func (r *Remote) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	if r.timer != nil {
		r.timer.Stop()
	}
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
	if r.ownsClient {
		r.client.CloseIdleConnections()
	}
	r.observeClosed()
	return nil
}
