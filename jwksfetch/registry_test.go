package jwksfetch

import (
	"errors"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

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
	if r.max != DefaultMaxSources || r.idle != DefaultIdleTimeout {
		t.Errorf("defaults: max %d, idle %v", r.max, r.idle)
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
	first, _ := reg.cache.Get(uri(0))
	time.Sleep(time.Millisecond) // distinct touch times
	for i := range 10 {
		use(3 + i)
		if n := reg.Len(); n > 3 {
			t.Fatalf("%d remotes alive, want at most 3", n)
		}
	}
	if _, ok := reg.cache.Get(uri(0)); ok {
		t.Error("least recently used remote still alive")
	}
	// The evicted Remote is closed; its client gets a new one.
	rem := first.(*entry).remote
	rem.mu.Lock()
	closed := rem.closed
	rem.mu.Unlock()
	if !closed {
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
	x, _ := reg.cache.Get(srv.URL + "/lazy")
	lazyRemote := x.(*entry).remote
	deadline := time.Now().Add(3 * idle)
	for time.Now().Before(deadline) {
		if _, err := busy.Key(bg, "k1", "ES256"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(idle / 20)
	}
	if _, ok := reg.cache.Get(srv.URL + "/busy"); !ok {
		t.Error("busy remote expired")
	}
	if n := reg.Len(); n != 1 {
		t.Errorf("%d remotes alive, want 1", n)
	}
	// The idle one no longer refreshes.
	lazyRemote.mu.Lock()
	closed := lazyRemote.closed
	lazyRemote.mu.Unlock()
	if !closed {
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

// TestRegistryExpiredNotSwept: an entry that expired but was not swept
// yet is closed, not leaked, when its URI comes back.
func TestRegistryExpiredNotSwept(t *testing.T) {
	srv := newJWKSServer(t, jwks(pubJWK(testkeys.P256, "k1")))
	before := runtime.NumGoroutine()
	reg := newTestRegistry(t, RegistryConfig{Remote: RemoteConfig{RefreshInterval: time.Hour}})
	src := mustSource(t, reg, srv.URL)
	if _, err := src.Key(bg, "k1", "ES256"); err != nil {
		t.Fatal(err)
	}
	x, _ := reg.cache.Get(srv.URL)
	old := x.(*entry)
	reg.mu.Lock()
	reg.cache.Set(srv.URL, old, time.Nanosecond) // expire it now; the sweeper runs every minute
	reg.mu.Unlock()
	time.Sleep(time.Millisecond)

	if _, err := mustSource(t, reg, srv.URL).Key(bg, "k1", "ES256"); err != nil {
		t.Fatal(err)
	}
	if !old.evicted.Load() {
		t.Error("expired entry not evicted")
	}
	old.remote.mu.Lock()
	closed := old.remote.closed
	old.remote.mu.Unlock()
	if !closed {
		t.Error("expired remote not closed")
	}
	if n := reg.Len(); n != 1 {
		t.Errorf("%d remotes, want 1", n)
	}
	// The first source moves to the new entry.
	if _, err := src.Key(bg, "k1", "ES256"); err != nil {
		t.Fatal(err)
	}
	if e := src.(*source).e.Load(); e == old {
		t.Error("source still on the evicted entry")
	}
	reg.Close()
	checkGoroutines(t, before)
}

// TestRegistryStress: concurrent lookups while entries expire, are evicted
// for room and swept; afterwards nothing is left running.
func TestRegistryStress(t *testing.T) {
	srv := newJWKSServer(t, jwks(pubJWK(testkeys.P256, "k1")))
	before := runtime.NumGoroutine()
	reg := newTestRegistry(t, RegistryConfig{MaxSources: 4, IdleTimeout: 20 * time.Millisecond,
		Remote: RemoteConfig{RefreshInterval: 5 * time.Millisecond}})
	var sources []verify.KeySource
	for i := range 8 {
		sources = append(sources, mustSource(t, reg, srv.URL+"/c"+strconv.Itoa(i)))
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				_, err := sources[(g+i)%len(sources)].Key(bg, "k1", "ES256")
				// A Remote evicted under a caller answers from its cache or
				// fails as closed; never a client error.
				if err != nil && !errors.Is(err, ErrClosed) {
					t.Errorf("Key: %v", err)
					return
				}
				if n := reg.Len(); n > 4 {
					t.Errorf("%d remotes alive, want at most 4", n)
					return
				}
				if i%50 == 0 {
					time.Sleep(25 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	reg.Close()
	checkGoroutines(t, before)
}
