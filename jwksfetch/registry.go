package jwksfetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	gocache "github.com/patrickmn/go-cache"

	"github.com/pkjwt/pkjwt/verify"
)

// Defaults of [RegistryConfig].
const (
	DefaultMaxSources  = 10000
	DefaultIdleTimeout = time.Hour
)

// RegistryConfig is the policy of a [Registry]. The zero value is the
// default policy; each field documents its zero value. NewRegistry copies
// it.
type RegistryConfig struct {
	// Remote is the policy of every Remote the registry starts. A nil
	// HTTPClient means one default client (see [RemoteConfig.HTTPClient])
	// shared by all of them.
	Remote RemoteConfig
	// MaxSources bounds the number of Remotes alive at once. When a new
	// jwks_uri would exceed it, the Remote used least recently is closed
	// (a call in progress on it may then fail with ErrClosed), so set it
	// above the number of jwks_uri values in use. Zero: DefaultMaxSources
	// (10,000). Negative: an error.
	MaxSources int
	// IdleTimeout is how long a Remote that no Key call has used stays
	// alive (refreshing in the background); then it is closed, and the
	// next Key call for its jwks_uri starts a new one. Measured on the real
	// clock. Zero: DefaultIdleTimeout (1 h). Negative: an error.
	IdleTimeout time.Duration
}

// Registry hands out key sources by jwks_uri, for servers with many
// clients: clients that share a jwks_uri share one [Remote], at most
// MaxSources Remotes are alive, and those idle for IdleTimeout are closed
// (their background refresh stops). Remotes start on first use.
//
// The Remotes live in a github.com/patrickmn/go-cache cache whose
// expiration is the idle timeout and whose eviction callback closes them.
// The registry sweeps the cache itself, so that Close stops every
// goroutine (go-cache's own janitor only stops when the cache is garbage
// collected).
//
// A Registry is safe for concurrent use. Close it when done.
type Registry struct {
	cfg        RemoteConfig
	client     *http.Client
	ownsClient bool
	max        int
	idle       time.Duration

	closed atomic.Bool
	// mu serializes every change to cache (create, touch, sweep, evict,
	// close), so that the eviction callback, which fills evicted, always
	// runs under it. Lookups take only the cache's own read lock.
	mu      sync.Mutex
	cache   *gocache.Cache // jwks_uri -> *entry
	evicted []*Remote
	stop    chan struct{}
	done    chan struct{}
}

// entry is one Remote of a Registry.
type entry struct {
	remote  *Remote
	touched atomic.Int64 // UnixNano when its expiration was last extended
	evicted atomic.Bool  // no longer in the cache; remote is closed or closing
}

// NewRegistry returns a Registry with the policy cfg. It returns an error
// if cfg is invalid.
func NewRegistry(cfg RegistryConfig) (*Registry, error) {
	rc, err := cfg.Remote.withDefaults()
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.MaxSources < 0:
		return nil, errors.New("jwksfetch: negative MaxSources")
	case cfg.MaxSources == 0:
		cfg.MaxSources = DefaultMaxSources
	}
	switch {
	case cfg.IdleTimeout < 0:
		return nil, errors.New("jwksfetch: negative IdleTimeout")
	case cfg.IdleTimeout == 0:
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	r := &Registry{
		cfg:    rc,
		client: rc.HTTPClient,
		max:    cfg.MaxSources,
		idle:   cfg.IdleTimeout,
		cache:  gocache.New(cfg.IdleTimeout, 0), // 0: no janitor goroutine
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	if r.client == nil {
		r.client, r.ownsClient = newHTTPClient(rc.Timeout, policyOf(rc)), true
	}
	r.cache.OnEvicted(func(_ string, v any) {
		e := v.(*entry)
		e.evicted.Store(true)
		r.evicted = append(r.evicted, e.remote)
	})
	go r.sweep(min(max(cfg.IdleTimeout/4, time.Millisecond), time.Minute))
	return r, nil
}

// Source returns the key source for jwks_uri uri, an https URL (http too
// with InsecureAllowLoopbackAndHTTP). It is a light handle: its Key method
// finds, or starts, the registry's Remote for uri, and behaves as
// [Remote.Key]. Source returns an error if uri is invalid (a forbidden
// scheme wraps ErrForbiddenAddress) or the registry is closed.
func (r *Registry) Source(uri string) (verify.KeySource, error) {
	if r.closed.Load() {
		return nil, fmt.Errorf("jwksfetch: registry: %w", ErrClosed)
	}
	if err := checkURI(uri, r.cfg.InsecureAllowLoopbackAndHTTP); err != nil {
		return nil, err
	}
	return &source{r: r, uri: uri}, nil
}

// source is what Registry.Source returns. It remembers its entry, so
// that a lookup skips the cache while the entry lives.
type source struct {
	r   *Registry
	uri string
	e   atomic.Pointer[entry]
}

var _ verify.KeySource = (*source)(nil)

// Key implements verify.KeySource. After the registry is closed it returns
// an error wrapping ErrClosed.
func (s *source) Key(ctx context.Context, kid, alg string) (verify.Key, error) {
	e := s.e.Load()
	if e == nil || e.evicted.Load() {
		var err error
		if e, err = s.r.entry(s.uri); err != nil {
			return verify.Key{}, err
		}
		s.e.Store(e)
	}
	if now := time.Now().UnixNano(); now-e.touched.Load() > int64(s.r.idle/4) {
		s.r.touch(s.uri, e, now)
	}
	return e.remote.Key(ctx, kid, alg)
}

// Len returns the number of Remotes alive.
func (r *Registry) Len() int { return r.cache.ItemCount() }

// entry returns the entry for uri, starting its Remote if needed.
func (r *Registry) entry(uri string) (*entry, error) {
	if x, ok := r.cache.Get(uri); ok {
		return x.(*entry), nil
	}
	return r.create(uri)
}

// touch extends the expiration of e, if it is still uri's entry. An entry
// used at least every IdleTimeout/4 thus never expires, and one unused
// expires between 3/4 and 1 IdleTimeout after its last use.
func (r *Registry) touch(uri string, e *entry, now int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() || now-e.touched.Load() <= int64(r.idle/4) {
		return
	}
	if x, ok := r.cache.Get(uri); ok && x.(*entry) == e {
		r.cache.Set(uri, e, r.idle)
		e.touched.Store(now)
	}
}

// create starts the Remote for uri, unless another caller just did.
func (r *Registry) create(uri string) (*entry, error) {
	r.mu.Lock()
	if r.closed.Load() {
		r.mu.Unlock()
		return nil, fmt.Errorf("%w: %s: registry: %w", ErrUnavailable, uri, ErrClosed)
	}
	if x, ok := r.cache.Get(uri); ok {
		r.mu.Unlock()
		return x.(*entry), nil
	}
	r.cache.Delete(uri) // an expired entry not swept yet
	if r.cache.ItemCount() >= r.max {
		r.cache.DeleteExpired()
		if r.cache.ItemCount() >= r.max {
			r.evictLRU()
		}
	}
	rem := newRemote(uri, r.cfg, r.client, false)
	e := &entry{remote: rem}
	e.touched.Store(time.Now().UnixNano())
	r.cache.Set(uri, e, r.idle)
	evicted := r.takeEvicted()
	r.mu.Unlock()
	closeRemotes(evicted)
	return e, nil
}

// evictLRU deletes the entry used least recently. r.mu must be held.
func (r *Registry) evictLRU() {
	var (
		oldest string
		t      int64
	)
	for uri, it := range r.cache.Items() {
		if tt := it.Object.(*entry).touched.Load(); oldest == "" || tt < t {
			oldest, t = uri, tt
		}
	}
	r.cache.Delete(oldest)
}

// takeEvicted returns the Remotes the cache evicted. r.mu must be held.
func (r *Registry) takeEvicted() []*Remote {
	ev := r.evicted
	r.evicted = nil
	return ev
}

func closeRemotes(rs []*Remote) {
	for _, rem := range rs {
		rem.Close()
	}
}

// sweep deletes expired entries every interval until Close.
func (r *Registry) sweep(interval time.Duration) {
	defer close(r.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.mu.Lock()
			r.cache.DeleteExpired()
			evicted := r.takeEvicted()
			r.mu.Unlock()
			closeRemotes(evicted)
		}
	}
}

// Close closes every Remote and stops the registry. Sources it handed out
// then fail with an error wrapping ErrClosed. Close is safe to call more
// than once; it returns nil.
func (r *Registry) Close() error {
	r.mu.Lock()
	if r.closed.Swap(true) {
		r.mu.Unlock()
		return nil
	}
	r.mu.Unlock()
	close(r.stop)
	<-r.done

	r.mu.Lock()
	r.cache.DeleteExpired()
	for _, it := range r.cache.Items() {
		e := it.Object.(*entry)
		e.evicted.Store(true)
		r.evicted = append(r.evicted, e.remote)
	}
	r.cache.Flush()
	evicted := r.takeEvicted()
	r.mu.Unlock()
	closeRemotes(evicted)
	if r.ownsClient {
		r.client.CloseIdleConnections()
	}
	return nil
}
