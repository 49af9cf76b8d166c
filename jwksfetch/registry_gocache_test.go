package jwksfetch

// This file keeps the Registry as it was before its least-recently-used
// list (commit 31b42db), for BenchmarkRegistry100k to compare against in
// the same run: the Remotes lived in a github.com/patrickmn/go-cache cache,
// and making room for a new jwks_uri scanned the whole cache twice under
// the lock (DeleteExpired, then Items to find the oldest entry), and so did
// the idle sweep. It keeps the code paths measured, as they were, and
// leaves out the sweeper goroutine and Source's checks. It is benchmark
// code only; nothing else uses it.

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	gocache "github.com/patrickmn/go-cache"

	"github.com/pkjwt/pkjwt/verify"
)

// gocacheRegistry is the Registry before its least-recently-used list.
type gocacheRegistry struct {
	cfg    RemoteConfig
	client *http.Client
	max    int
	idle   time.Duration

	closed atomic.Bool
	// mu serializes every change to cache (create, touch, sweep, evict,
	// close), so that the eviction callback, which fills evicted, always
	// runs under it. Lookups take only the cache's own read lock.
	mu      sync.Mutex
	cache   *gocache.Cache // jwks_uri -> *gocacheEntry
	evicted []*Remote
}

// gocacheEntry is one Remote of a gocacheRegistry.
type gocacheEntry struct {
	remote  *Remote
	touched atomic.Int64 // UnixNano when its expiration was last extended
	evicted atomic.Bool  // no longer in the cache; remote is closed or closing
}

// newGocacheRegistry is NewRegistry as it was; cfg.Remote.HTTPClient must be
// set.
func newGocacheRegistry(cfg RegistryConfig) (*gocacheRegistry, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	rc := cfg.Remote
	r := &gocacheRegistry{
		cfg:    rc,
		client: rc.HTTPClient,
		max:    cfg.MaxSources,
		idle:   cfg.IdleTimeout,
		cache:  gocache.New(cfg.IdleTimeout, 0), // 0: no janitor goroutine
	}
	r.cache.OnEvicted(func(_ string, v any) {
		e := v.(*gocacheEntry)
		e.evicted.Store(true)
		r.evicted = append(r.evicted, e.remote)
	})
	return r, nil
}

// Source returns a source for uri, without Registry.Source's checks.
func (r *gocacheRegistry) Source(uri string) (verify.KeySource, error) {
	return &gocacheSource{r: r, uri: uri}, nil
}

// gocacheSource is what gocacheRegistry.Source returns. It remembers its
// entry, so that a lookup skips the cache while the entry lives.
type gocacheSource struct {
	r   *gocacheRegistry
	uri string
	e   atomic.Pointer[gocacheEntry]
}

var _ verify.KeySource = (*gocacheSource)(nil)

// Key implements verify.KeySource. After the registry is closed it returns
// an error wrapping ErrClosed.
func (s *gocacheSource) Key(ctx context.Context, kid, alg string) (verify.Key, error) {
	e := s.e.Load()
	if e == nil || e.evicted.Load() {
		var err error
		if e, err = s.r.lookup(s.uri); err != nil {
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
func (r *gocacheRegistry) Len() int { return r.cache.ItemCount() }

// entry returns the entry for uri, starting its Remote if needed.
func (r *gocacheRegistry) lookup(uri string) (*gocacheEntry, error) {
	if x, ok := r.cache.Get(uri); ok {
		return x.(*gocacheEntry), nil
	}
	return r.create(uri)
}

// touch extends the expiration of e, if it is still uri's entry. An entry
// used at least every IdleTimeout/4 thus never expires, and one unused
// expires between 3/4 and 1 IdleTimeout after its last use.
func (r *gocacheRegistry) touch(uri string, e *gocacheEntry, now int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() || now-e.touched.Load() <= int64(r.idle/4) {
		return
	}
	if x, ok := r.cache.Get(uri); ok && x.(*gocacheEntry) == e {
		r.cache.Set(uri, e, r.idle)
		e.touched.Store(now)
	}
}

// create starts the Remote for uri, unless another caller just did.
func (r *gocacheRegistry) create(uri string) (*gocacheEntry, error) {
	r.mu.Lock()
	if r.closed.Load() {
		r.mu.Unlock()
		return nil, fmt.Errorf("%w: %s: registry: %w", ErrUnavailable, uri, ErrClosed)
	}
	if x, ok := r.cache.Get(uri); ok {
		r.mu.Unlock()
		return x.(*gocacheEntry), nil
	}
	r.cache.Delete(uri) // an expired entry not swept yet
	if r.cache.ItemCount() >= r.max {
		r.cache.DeleteExpired()
		if r.cache.ItemCount() >= r.max {
			r.evictLRU()
		}
	}
	rem := newRemote(uri, r.cfg, r.client, false)
	e := &gocacheEntry{remote: rem}
	e.touched.Store(time.Now().UnixNano())
	r.cache.Set(uri, e, r.idle)
	evicted := r.takeEvicted()
	r.mu.Unlock()
	closeGocacheRemotes(evicted)
	return e, nil
}

// evictLRU deletes the entry used least recently. r.mu must be held.
func (r *gocacheRegistry) evictLRU() {
	var (
		oldest string
		t      int64
	)
	for uri, it := range r.cache.Items() {
		if tt := it.Object.(*gocacheEntry).touched.Load(); oldest == "" || tt < t {
			oldest, t = uri, tt
		}
	}
	r.cache.Delete(oldest)
}

// takeEvicted returns the Remotes the cache evicted. r.mu must be held.
func (r *gocacheRegistry) takeEvicted() []*Remote {
	ev := r.evicted
	r.evicted = nil
	return ev
}

func closeGocacheRemotes(rs []*Remote) {
	for _, rem := range rs {
		rem.Close()
	}
}

// expire is one sweep: it deletes the expired entries and closes their
// Remotes.
func (r *gocacheRegistry) expire() {
	r.mu.Lock()
	r.cache.DeleteExpired()
	evicted := r.takeEvicted()
	r.mu.Unlock()
	closeGocacheRemotes(evicted)
}

// Close closes every Remote. (The benchmark runs expire itself: this copy
// has no sweeper goroutine.)
func (r *gocacheRegistry) Close() error {
	r.mu.Lock()
	r.closed.Store(true)
	for _, it := range r.cache.Items() {
		e := it.Object.(*gocacheEntry)
		e.evicted.Store(true)
		r.evicted = append(r.evicted, e.remote)
	}
	r.cache.Flush()
	evicted := r.takeEvicted()
	r.mu.Unlock()
	closeGocacheRemotes(evicted)
	return nil
}
