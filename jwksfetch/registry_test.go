package jwksfetch

import (
	"errors"
	"math"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/verify"
)

func newTestRegistry(t testing.TB, cfg RegistryConfig) *Registry {
	t.Helper()
	cfg.Remote.InsecureAllowLoopbackAndHTTP = true
	if cfg.Remote.RefreshInterval == 0 {
		cfg.Remote.RefreshInterval = -1
	}
	r, err := NewRegistry(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func mustSource(t testing.TB, r *Registry, uri string) verify.KeySource {
	t.Helper()
	s, err := r.Source(uri)
	if err != nil {
		t.Fatalf("Source(%q): %v", uri, err)
	}
	return s
}

func TestNewRegistryConfig(t *testing.T) {
	for _, cfg := range []RegistryConfig{
		{MaxSources: -1},
		{IdleTimeout: -1},
		{Remote: RemoteConfig{Timeout: -1}},
	} {
		if r, err := NewRegistry(cfg); err == nil {
			r.Close()
			t.Errorf("NewRegistry(%+v) succeeded", cfg)
		}
	}
	r, err := NewRegistry(RegistryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.max != DefaultMaxSources || r.idle != int64(DefaultIdleTimeout) {
		t.Errorf("defaults: max %d, idle %v", r.max, time.Duration(r.idle))
	}
	if _, err := r.Source("http://client.example/jwks"); !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("Source(http://...) = %v, want ErrForbiddenAddress", err)
	}
	if _, err := r.Source("https://client.example/jwks"); err != nil {
		t.Errorf("Source: %v", err)
	}
}

// TestRegistryShares: clients with the same jwks_uri share one Remote and
// one fetch; sources start nothing until used.
func TestRegistryShares(t *testing.T) {
	srv := newJWKSServer(t, jwks(pubJWK(testkeys.P256, "k1")))
	reg := newTestRegistry(t, RegistryConfig{})
	a, b := mustSource(t, reg, srv.URL), mustSource(t, reg, srv.URL)
	other := mustSource(t, reg, srv.URL+"/other")
	if reg.Len() != 0 || srv.hits.Load() != 0 {
		t.Fatalf("before use: %d remotes, %d fetches", reg.Len(), srv.hits.Load())
	}
	for _, s := range []verify.KeySource{a, b, a, b} {
		if _, err := s.Key(bg, "k1", "ES256"); err != nil {
			t.Fatal(err)
		}
	}
	if reg.Len() != 1 || srv.hits.Load() != 1 {
		t.Errorf("after use by two clients: %d remotes, %d fetches, want 1, 1", reg.Len(), srv.hits.Load())
	}
	if _, err := other.Key(bg, "k1", "ES256"); err != nil {
		t.Fatal(err)
	}
	if reg.Len() != 2 {
		t.Errorf("%d remotes, want 2", reg.Len())
	}
}

// TestRegistryMaxSources: past MaxSources the least recently used Remote
// is closed; its clients get a new one when they come back.
func TestRegistryMaxSources(t *testing.T) {
	srv := newJWKSServer(t, jwks(pubJWK(testkeys.P256, "k1")))
	before := runtime.NumGoroutine()
	reg := newTestRegistry(t, RegistryConfig{MaxSources: 3})
	uri := func(i int) string { return srv.URL + "/c" + strconv.Itoa(i) }
	use := func(i int) {
		t.Helper()
		if _, err := mustSource(t, reg, uri(i)).Key(bg, "k1", "ES256"); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	for i := range 3 {
		use(i)
	}
	first, _ := lookup(reg, uri(0))
	for i := range 10 {
		use(3 + i)
		if n := reg.Len(); n > 3 {
			t.Fatalf("%d remotes alive, want at most 3", n)
		}
	}
	if _, ok := lookup(reg, uri(0)); ok {
		t.Error("least recently used remote still alive")
	}
	// The evicted Remote is closed; its client gets a new one.
	if !first.evicted.Load() || !remoteClosed(first.remote) {
		t.Error("evicted remote not closed")
	}
	use(0)
	reg.Close()
	checkGoroutines(t, before)
}

// TestRegistryIdle: an unused Remote is closed after IdleTimeout; a used
// one stays.
func TestRegistryIdle(t *testing.T) {
	srv := newJWKSServer(t, jwks(pubJWK(testkeys.P256, "k1")))
	before := runtime.NumGoroutine()
	const idle = 200 * time.Millisecond
	reg := newTestRegistry(t, RegistryConfig{IdleTimeout: idle, Remote: RemoteConfig{RefreshInterval: 5 * time.Millisecond}})
	busy, lazy := mustSource(t, reg, srv.URL+"/busy"), mustSource(t, reg, srv.URL+"/lazy")
	for _, s := range []verify.KeySource{busy, lazy} {
		if _, err := s.Key(bg, "k1", "ES256"); err != nil {
			t.Fatal(err)
		}
	}
	lazyEntry, _ := lookup(reg, srv.URL+"/lazy")
	deadline := time.Now().Add(3 * idle)
	for time.Now().Before(deadline) {
		if _, err := busy.Key(bg, "k1", "ES256"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(idle / 20)
	}
	if _, ok := lookup(reg, srv.URL+"/busy"); !ok {
		t.Error("busy remote expired")
	}
	if n := reg.Len(); n != 1 {
		t.Errorf("%d remotes alive, want 1", n)
	}
	// The idle one no longer refreshes.
	if !remoteClosed(lazyEntry.remote) {
		t.Error("idle remote not closed")
	}
	// Its client comes back: a new Remote.
	if _, err := lazy.Key(bg, "k1", "ES256"); err != nil {
		t.Fatal(err)
	}
	if n := reg.Len(); n != 2 {
		t.Errorf("%d remotes alive, want 2", n)
	}
	reg.Close()
	checkGoroutines(t, before)
}

func TestRegistryClose(t *testing.T) {
	srv := newJWKSServer(t, jwks(pubJWK(testkeys.P256, "k1")))
	before := runtime.NumGoroutine()
	reg, err := NewRegistry(RegistryConfig{Remote: RemoteConfig{InsecureAllowLoopbackAndHTTP: true, RefreshInterval: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	var sources []verify.KeySource
	for i := range 20 {
		s := mustSource(t, reg, srv.URL+"/c"+strconv.Itoa(i))
		if _, err := s.Key(bg, "k1", "ES256"); err != nil {
			t.Fatal(err)
		}
		sources = append(sources, s)
	}
	if err := reg.Close(); err != nil {
		t.Fatal(err)
	}
	if err := reg.Close(); err != nil {
		t.Fatal(err)
	}
	if n := reg.Len(); n != 0 {
		t.Errorf("%d remotes after Close", n)
	}
	if _, err := sources[0].Key(bg, "k1", "ES256"); !errors.Is(err, ErrClosed) || errors.Is(err, verify.ErrKeyNotFound) {
		t.Errorf("Key after Close = %v, want ErrClosed", err)
	}
	if _, err := reg.Source(srv.URL); !errors.Is(err, ErrClosed) {
		t.Errorf("Source after Close = %v, want ErrClosed", err)
	}
	checkGoroutines(t, before)
}

// newClockedRegistry is newTestRegistry on the clock c: IdleTimeout and the
// least-recently-used order follow c, not the real clock.
func newClockedRegistry(t testing.TB, cfg RegistryConfig, c *clock) *Registry {
	t.Helper()
	cfg.Remote.InsecureAllowLoopbackAndHTTP = true
	if cfg.Remote.RefreshInterval == 0 {
		cfg.Remote.RefreshInterval = -1
	}
	start := c.Now()
	r, err := newRegistry(cfg, func() int64 { return int64(c.Now().Sub(start)) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// lookup returns the registry's entry for uri, if it has one.
func lookup(r *Registry, uri string) (*entry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[uri]
	return e, ok
}

// alive returns the jwks_uri values of r's entries, least recently used
// first.
func alive(r *Registry) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var uris []string
	for el := r.lru.Back(); el != nil; el = el.Prev() {
		uris = append(uris, el.Value.(*entry).uri)
	}
	return uris
}

func remoteClosed(rem *Remote) bool {
	rem.mu.Lock()
	defer rem.mu.Unlock()
	return rem.closed
}

// checkInvariants fails t unless the map and the list hold the same
// entries, at most MaxSources, none evicted, ordered by last touch.
func checkInvariants(t testing.TB, r *Registry) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.entries) != r.lru.Len() || len(r.entries) > r.max {
		t.Errorf("%d entries in the map, %d in the list, max %d", len(r.entries), r.lru.Len(), r.max)
	}
	last := int64(math.MaxInt64)
	for el := r.lru.Front(); el != nil; el = el.Next() {
		e := el.Value.(*entry)
		if r.entries[e.uri] != e || e.elem != el || e.evicted.Load() {
			t.Errorf("entry %s: in map %v, own element %v, evicted %v", e.uri, r.entries[e.uri] == e, e.elem == el, e.evicted.Load())
		}
		if tt := e.touched.Load(); tt > last {
			t.Errorf("entry %s touched at %d, after the entry before it (%d)", e.uri, tt, last)
		} else {
			last = tt
		}
	}
}

// TestRegistryEvictionOrder: past MaxSources the entry used least recently
// goes, where a use counts once per IdleTimeout/4 on a source that already
// holds its entry.
func TestRegistryEvictionOrder(t *testing.T) {
	srv := newJWKSServer(t, jwks(pubJWK(testkeys.P256, "k1")))
	c := newClock()
	reg := newClockedRegistry(t, RegistryConfig{MaxSources: 3, IdleTimeout: time.Hour}, c)
	uri := func(i int) string { return srv.URL + "/c" + strconv.Itoa(i) }
	var sources []verify.KeySource
	for i := range 6 {
		sources = append(sources, mustSource(t, reg, uri(i)))
	}
	var evicted []*entry
	use := func(i int) {
		t.Helper()
		before := map[string]*entry{}
		for _, u := range alive(reg) {
			before[u], _ = lookup(reg, u)
		}
		if _, err := sources[i].Key(bg, "k1", "ES256"); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		for u, e := range before {
			if _, ok := lookup(reg, u); !ok {
				evicted = append(evicted, e)
			}
		}
		checkInvariants(t, reg)
	}
	want := func(uris ...int) {
		t.Helper()
		var w []string
		for _, i := range uris {
			w = append(w, uri(i))
		}
		if diff := cmp.Diff(w, alive(reg)); diff != "" {
			t.Errorf("alive, least recently used first (-want +got):\n%s", diff)
		}
	}

	use(0)
	use(1)
	use(2)
	want(0, 1, 2)
	use(0) // used again within IdleTimeout/4: not moved
	want(0, 1, 2)
	c.Advance(16 * time.Minute)
	use(0) // more than IdleTimeout/4 later: moved to the front
	want(1, 2, 0)
	use(3) // evicts 1
	want(2, 0, 3)
	use(2)
	want(0, 3, 2)
	use(4) // evicts 0
	want(3, 2, 4)
	use(1) // 1 comes back with a new Remote and evicts 3
	want(2, 4, 1)

	var got []string
	for _, e := range evicted {
		got = append(got, e.uri)
		if !e.evicted.Load() || !remoteClosed(e.remote) {
			t.Errorf("evicted %s: remote not closed", e.uri)
		}
	}
	if diff := cmp.Diff([]string{uri(1), uri(0), uri(3)}, got); diff != "" {
		t.Errorf("eviction order (-want +got):\n%s", diff)
	}
	if n := srv.hits.Load(); n != 6 {
		t.Errorf("%d fetches, want 6 (one per Remote started)", n)
	}
}

// TestRegistryExpire: entries unused for IdleTimeout are removed and their
// Remotes closed; one used again before the sweep stays, with its keys.
func TestRegistryExpire(t *testing.T) {
	srv := newJWKSServer(t, jwks(pubJWK(testkeys.P256, "k1")))
	before := runtime.NumGoroutine()
	c := newClock()
	reg := newClockedRegistry(t, RegistryConfig{MaxSources: 10, IdleTimeout: time.Hour}, c)
	uri := func(i int) string { return srv.URL + "/c" + strconv.Itoa(i) }
	var sources []verify.KeySource
	for i := range 3 {
		sources = append(sources, mustSource(t, reg, uri(i)))
		if _, err := sources[i].Key(bg, "k1", "ES256"); err != nil {
			t.Fatal(err)
		}
	}
	e0, _ := lookup(reg, uri(0))
	c.Advance(20 * time.Minute)
	if _, err := sources[1].Key(bg, "k1", "ES256"); err != nil {
		t.Fatal(err)
	}
	c.Advance(40 * time.Minute) // 0 and 2 idle for 1 h, 1 for 40 min
	reg.expire()
	if diff := cmp.Diff([]string{uri(1)}, alive(reg)); diff != "" {
		t.Errorf("alive after expiry (-want +got):\n%s", diff)
	}
	if !e0.evicted.Load() || !remoteClosed(e0.remote) {
		t.Error("idle remote not closed")
	}

	// 1 is now idle for 1 h too, but used before the sweep: it stays, and
	// no new Remote (no new fetch) is needed.
	c.Advance(20 * time.Minute)
	e1, _ := lookup(reg, uri(1))
	hits := srv.hits.Load()
	if _, err := sources[1].Key(bg, "k1", "ES256"); err != nil {
		t.Fatal(err)
	}
	reg.expire()
	if got, ok := lookup(reg, uri(1)); !ok || got != e1 || remoteClosed(e1.remote) || srv.hits.Load() != hits {
		t.Errorf("entry used after its idle timeout but before the sweep: kept %v, same %v, %d fetches, want %d", ok, got == e1, srv.hits.Load(), hits)
	}
	// 0 comes back: a new Remote.
	if _, err := sources[0].Key(bg, "k1", "ES256"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{uri(1), uri(0)}, alive(reg)); diff != "" {
		t.Errorf("alive (-want +got):\n%s", diff)
	}
	checkInvariants(t, reg)
	reg.Close()
	checkGoroutines(t, before)
}

// TestRegistryConcurrentBound: goroutines use more jwks_uri values than
// MaxSources while entries are evicted for room, touched and swept. At no
// time are more than MaxSources Remotes in the registry; every Remote a
// caller ever got is either in the registry or closed; after Close none
// runs and no goroutine is left.
func TestRegistryConcurrentBound(t *testing.T) {
	srv := newJWKSServer(t, jwks(pubJWK(testkeys.P256, "k1")))
	before := runtime.NumGoroutine()
	const maxSources, uris, workers = 4, 12, 16
	reg := newTestRegistry(t, RegistryConfig{MaxSources: maxSources, IdleTimeout: 20 * time.Millisecond,
		Remote: RemoteConfig{RefreshInterval: 5 * time.Millisecond}})
	var (
		mu   sync.Mutex
		seen = map[*entry]bool{}
		wg   sync.WaitGroup
	)
	for g := range workers {
		wg.Go(func() {
			// Sources of this goroutine only: what each holds after Key is
			// the entry this goroutine found or started.
			var sources []*source
			for i := range uris {
				s, err := reg.Source(srv.URL + "/c" + strconv.Itoa(i))
				if err != nil {
					t.Error(err)
					return
				}
				sources = append(sources, s.(*source))
			}
			for i := range 300 {
				s := sources[(g*7+i*(g%3+1))%uris]
				_, err := s.Key(bg, "k1", "ES256")
				// A Remote evicted under a caller answers from its cache or
				// fails as closed; never a client error.
				if err != nil && !errors.Is(err, ErrClosed) {
					t.Errorf("Key: %v", err)
					return
				}
				mu.Lock()
				seen[s.e.Load()] = true
				mu.Unlock()
				if n := reg.Len(); n > maxSources {
					t.Errorf("%d remotes in the registry, want at most %d", n, maxSources)
					return
				}
				if i%25 == 0 {
					checkInvariants(t, reg)
				}
				if i%100 == 99 {
					time.Sleep(25 * time.Millisecond) // let entries expire
				}
			}
		})
	}
	wg.Wait()
	// Under the lock, so that the sweeper does not move entries meanwhile:
	// a Remote is closed only once out of the registry.
	live := 0
	var out []*entry
	reg.mu.Lock()
	for e := range seen {
		if reg.entries[e.uri] == e {
			live++
			if remoteClosed(e.remote) {
				t.Errorf("%s: remote in the registry is closed", e.uri)
			}
		} else {
			out = append(out, e)
		}
	}
	reg.mu.Unlock()
	for _, e := range out {
		if !e.evicted.Load() {
			t.Errorf("%s: out of the registry, not marked evicted", e.uri)
		}
		// Closed by whoever removed it (a caller, before its Key returned,
		// or the sweeper), right after.
		eventually(t, e.uri+": remote out of the registry closed", func() bool { return remoteClosed(e.remote) })
	}
	if live > maxSources {
		t.Errorf("%d remotes running, want at most %d", live, maxSources)
	}
	if len(seen) <= uris {
		t.Errorf("%d remotes started for %d jwks_uri values: nothing was evicted", len(seen), uris)
	}
	reg.Close()
	for e := range seen {
		if !remoteClosed(e.remote) {
			t.Errorf("%s: remote running after Close", e.uri)
		}
	}
	checkGoroutines(t, before)
}
