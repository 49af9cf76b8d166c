package jwksfetch

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

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
	// above the number of jwks_uri values in use. Recency is kept to
	// IdleTimeout/4: uses of a Remote closer together count as one.
	// Zero: DefaultMaxSources (10,000). Negative: an error.
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
// The Remotes are kept in a map and in a list ordered by last use, so that
// finding, touching and making room cost O(1), and expiring O(1) per
// Remote expired, whatever the number of jwks_uri values: the least
// recently used Remote, at the back of the list, is also the first to
// expire. A goroutine closes the idle
// ones; Close stops it and every Remote.
//
// A Registry is safe for concurrent use. Close it when done.
type Registry struct {
	cfg        RemoteConfig
	client     *http.Client
	ownsClient bool
	max        int
	idle       int64 // IdleTimeout in nanoseconds
	// clock returns the nanoseconds since the registry started, on the
	// monotonic clock (a wall clock step neither expires nor revives
	// anything). Tests replace it.
	clock func() int64

	closed atomic.Bool
	// mu guards entries, lru and every entry's place in them, and
	// serializes the writes of entry.touched: so lru stays ordered by
	// touched. A source whose entry is current reads neither.
	mu      sync.Mutex
	entries map[string]*entry
	lru     list.List // of *entry, most recently used first
	stop    chan struct{}
	done    chan struct{}
}

// entry is one Remote of a Registry.
type entry struct {
	uri     string
	remote  *Remote
	elem    *list.Element // its place in Registry.lru; guarded by Registry.mu
	touched atomic.Int64  // Registry.clock when it was last moved to the front
	evicted atomic.Bool   // removed from the registry; remote is closed or closing
}

// NewRegistry returns a Registry with the policy cfg. It returns an error
// if cfg is invalid.
func NewRegistry(cfg RegistryConfig) (*Registry, error) {
	start := time.Now()
	return newRegistry(cfg, func() int64 { return int64(time.Since(start)) })
}

// newRegistry is NewRegistry with a clock.
func newRegistry(cfg RegistryConfig, clock func() int64) (*Registry, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	rc := cfg.Remote
	r := &Registry{
		cfg:     rc,
		client:  rc.HTTPClient,
		max:     cfg.MaxSources,
		idle:    int64(cfg.IdleTimeout),
		clock:   clock,
		entries: make(map[string]*entry),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if r.client == nil {
		r.client, r.ownsClient = newHTTPClient(rc.Timeout, policyOf(rc)), true
	}
	go r.sweep(min(max(cfg.IdleTimeout/4, time.Millisecond), time.Minute))
	return r, nil
}

// withDefaults validates cfg and fills in its defaults, and those of
// cfg.Remote.
func (cfg RegistryConfig) withDefaults() (RegistryConfig, error) {
	rc, err := cfg.Remote.withDefaults()
	if err != nil {
		return cfg, err
	}
	cfg.Remote = rc
	switch {
	case cfg.MaxSources < 0:
		return cfg, errors.New("jwksfetch: negative MaxSources")
	case cfg.MaxSources == 0:
		cfg.MaxSources = DefaultMaxSources
	}
	switch {
	case cfg.IdleTimeout < 0:
		return cfg, errors.New("jwksfetch: negative IdleTimeout")
	case cfg.IdleTimeout == 0:
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	return cfg, nil
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
// that a lookup skips the registry's lock while the entry lives.
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
	} else if s.r.clock()-e.touched.Load() > s.r.idle/4 {
		s.r.touch(e)
	}
	return e.remote.Key(ctx, kid, alg)
}

// Len returns the number of Remotes alive.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.entries)
}

// touch moves e to the front, if it is still in the registry and was not
// touched in the last IdleTimeout/4. An entry used at least every
// IdleTimeout/4 thus never expires, one unused expires between 3/4 and 1
// IdleTimeout after its last use, and the hot path takes the lock at most
// four times per IdleTimeout.
func (r *Registry) touch(e *entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.clock(); !e.evicted.Load() && now-e.touched.Load() > r.idle/4 {
		e.touched.Store(now)
		r.lru.MoveToFront(e.elem)
	}
}

// entry returns the entry for uri, starting its Remote if needed, and
// closes the Remote it evicted to make room, if any.
func (r *Registry) entry(uri string) (*entry, error) {
	r.mu.Lock()
	if r.closed.Load() {
		r.mu.Unlock()
		return nil, fmt.Errorf("%w: %s: registry: %w", ErrUnavailable, uri, ErrClosed)
	}
	now := r.clock()
	if e, ok := r.entries[uri]; ok {
		e.touched.Store(now)
		r.lru.MoveToFront(e.elem)
		r.mu.Unlock()
		return e, nil
	}
	var evicted *entry
	if len(r.entries) >= r.max {
		// The back is the least recently used entry, and the first to
		// expire.
		evicted = r.lru.Back().Value.(*entry)
		r.remove(evicted)
	}
	e := &entry{uri: uri, remote: newRemote(uri, r.cfg, r.client, false)}
	e.touched.Store(now)
	e.elem = r.lru.PushFront(e)
	r.entries[uri] = e
	r.mu.Unlock()
	if evicted != nil {
		evicted.remote.Close()
	}
	return e, nil
}

// remove takes e out of the registry; the caller closes its Remote after
// unlocking. r.mu must be held.
func (r *Registry) remove(e *entry) {
	e.evicted.Store(true)
	r.lru.Remove(e.elem)
	delete(r.entries, e.uri)
}

// expire removes the entries idle for IdleTimeout, from the back of the
// list, and closes their Remotes.
func (r *Registry) expire() {
	var idle []*entry
	r.mu.Lock()
	now := r.clock()
	for back := r.lru.Back(); back != nil; back = r.lru.Back() {
		e := back.Value.(*entry)
		if now-e.touched.Load() < r.idle {
			break
		}
		r.remove(e)
		idle = append(idle, e)
	}
	r.mu.Unlock()
	closeEntries(idle)
}

func closeEntries(es []*entry) {
	for _, e := range es {
		e.remote.Close()
	}
}

// sweep expires idle entries every interval until Close.
func (r *Registry) sweep(interval time.Duration) {
	defer close(r.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.expire()
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
	all := make([]*entry, 0, len(r.entries))
	for back := r.lru.Back(); back != nil; back = r.lru.Back() {
		e := back.Value.(*entry)
		r.remove(e)
		all = append(all, e)
	}
	r.mu.Unlock()
	closeEntries(all)
	if r.ownsClient {
		r.client.CloseIdleConnections()
	}
	return nil
}
