package jwksfetch

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/verify"
)

// benchJWKS is a typical small set: three keys of different types.
func benchJWKS() []byte {
	return jwks(
		testkeys.JWK(testkeys.Signer(testkeys.RSA2048), "k1", "RS256", "sig"),
		testkeys.JWK(testkeys.Signer(testkeys.P256), "k2", "ES256", "sig"),
		testkeys.JWK(testkeys.Signer(testkeys.Ed25519), "k3", "EdDSA", "sig"),
	)
}

// TestKeyCachedAllocs guards the benchmark's claim: a cached, known kid
// costs no allocation, through a Remote and through a Registry source.
func TestKeyCachedAllocs(t *testing.T) {
	srv := newJWKSServer(t, benchJWKS())
	r := newTestRemote(t, srv.URL, testConfig(newClock()))
	reg := newTestRegistry(t, RegistryConfig{})
	src := mustSource(t, reg, srv.URL)
	for name, ks := range map[string]verify.KeySource{"Remote": r, "Registry": src} {
		if _, err := ks.Key(bg, "k2", "ES256"); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { ks.Key(bg, "k2", "ES256") }); n != 0 {
			t.Errorf("%s: %v allocs per cached Key, want 0", name, n)
		}
	}
}

// BenchmarkKeySet is the baseline: a fixed verify.KeySet (what NewInline
// returns).
func BenchmarkKeySet(b *testing.B) {
	keys, err := NewInline(benchJWKS(), InlineConfig{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := keys.Key(bg, "k2", "ES256"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRemoteKeyCached: a known kid with current keys.
func BenchmarkRemoteKeyCached(b *testing.B) {
	srv := newJWKSServer(b, benchJWKS())
	r := newTestRemote(b, srv.URL, testConfig(newClock()))
	if _, err := r.Key(bg, "k2", "ES256"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.Key(bg, "k2", "ES256"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRegistryKeyCached: the same through a Registry source.
func BenchmarkRegistryKeyCached(b *testing.B) {
	srv := newJWKSServer(b, benchJWKS())
	reg := newTestRegistry(b, RegistryConfig{})
	src := mustSource(b, reg, srv.URL)
	if _, err := src.Key(bg, "k2", "ES256"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := src.Key(bg, "k2", "ES256"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRegistry10000 fills a Registry with 10,000 Remotes (one
// httptest server serving the same small set under 10,000 paths) and
// reports the heap and goroutines they hold, with the default 5 min
// background refresh. The goroutines are the registry's sweeper and idle
// HTTP connections: a Remote holds none between fetches.
func BenchmarkRegistry10000(b *testing.B) {
	const n = 10000
	doc := benchJWKS()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(doc) }))
	defer srv.Close()
	const workers = 8
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer client.CloseIdleConnections()

	var base, alive runtime.MemStats
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&base)
		goroutines := runtime.NumGoroutine()
		reg, err := NewRegistry(RegistryConfig{Remote: RemoteConfig{HTTPClient: client, InsecureAllowLoopbackAndHTTP: true}})
		if err != nil {
			b.Fatal(err)
		}
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; i < n; i += workers {
					src, err := reg.Source(srv.URL + "/c/" + strconv.Itoa(i))
					if err != nil {
						b.Error(err)
						return
					}
					if _, err := src.Key(bg, "k2", "ES256"); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		runtime.GC()
		runtime.ReadMemStats(&alive)
		if reg.Len() != n {
			b.Fatalf("%d remotes, want %d", reg.Len(), n)
		}
		b.ReportMetric(float64(runtime.NumGoroutine()-goroutines), "goroutines")
		b.ReportMetric(float64(int64(alive.HeapAlloc)-int64(base.HeapAlloc))/n, "heap-B/source")
		reg.Close()
		// Stopped timers leave the runtime's timer heaps lazily: give the
		// scheduler a moment, so that the next baseline is clean.
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRegistryManySources checks what BenchmarkRegistry10000 measures, on
// a smaller scale: no goroutine per Remote, and a few KiB each.
func TestRegistryManySources(t *testing.T) {
	const n = 500
	srv := newJWKSServer(t, benchJWKS())
	reg := newTestRegistry(t, RegistryConfig{Remote: RemoteConfig{RefreshInterval: time.Hour}})
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()
	for i := range n {
		if _, err := mustSource(t, reg, fmt.Sprintf("%s/c/%d", srv.URL, i)).Key(bg, "k1", "RS256"); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if d := runtime.NumGoroutine() - goroutines; d > 20 {
		t.Errorf("%d more goroutines for %d remotes", d, n)
	}
	if per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n; per > 16<<10 {
		t.Errorf("%d bytes of heap per remote", per)
	}
}
