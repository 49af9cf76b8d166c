package jwksfetch

import (
	"bytes"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/verify"
)

// benchRegistry is what BenchmarkRegistry100k measures of a Registry and
// of its go-cache baseline.
type benchRegistry interface {
	Source(uri string) (verify.KeySource, error)
	Len() int
	Close() error
	expire()
}

// staticTransport answers every request with the JWK Set it holds,
// in memory: the benchmark measures the registry, not loopback HTTP.
type staticTransport []byte

func (t staticTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode:    http.StatusOK,
		Header:        http.Header{"Content-Type": {"application/jwk-set+json"}},
		Body:          io.NopCloser(bytes.NewReader(t)),
		ContentLength: int64(len(t)),
	}, nil
}

// BenchmarkRegistry100k fills a registry with 100,000 Remotes (MaxSources
// 100,000, the default 5 min background refresh, every first fetch served
// from memory) and measures, in the same run, the Registry and the
// go-cache registry it replaced (registry_gocache_test.go):
//
//   - new-uri: the first request of a client with a new jwks_uri, while
//     the registry is full: the least recently used Remote is closed to
//     make room, a new one starts, fetches, and answers.
//   - sweep: one run of the idle sweep when nothing is idle.
//
// heap-B/source is the heap the filled registry holds per Remote.
func BenchmarkRegistry100k(b *testing.B) {
	const n = 100_000
	client := &http.Client{Transport: staticTransport(jwks(pubJWK(testkeys.P256, "k1")))}
	uri := func(i int) string { return "https://c" + strconv.Itoa(i) + ".client.example/jwks" }
	for _, variant := range []struct {
		name string
		new  func(RegistryConfig) (benchRegistry, error)
	}{
		{"go-cache", func(cfg RegistryConfig) (benchRegistry, error) { return newGocacheRegistry(cfg) }},
		{"list", func(cfg RegistryConfig) (benchRegistry, error) { return NewRegistry(cfg) }},
	} {
		b.Run(variant.name, func(b *testing.B) {
			var base, full runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&base)
			reg, err := variant.new(RegistryConfig{MaxSources: n, Remote: RemoteConfig{HTTPClient: client}})
			if err != nil {
				b.Fatal(err)
			}
			defer reg.Close()
			use := func(i int) error {
				src, err := reg.Source(uri(i))
				if err != nil {
					return err
				}
				_, err = src.Key(bg, "k1", "ES256")
				return err
			}
			var wg sync.WaitGroup
			workers := runtime.GOMAXPROCS(0)
			for w := range workers {
				wg.Go(func() {
					for i := w; i < n; i += workers {
						if err := use(i); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			if reg.Len() != n {
				b.Fatalf("%d remotes, want %d", reg.Len(), n)
			}
			runtime.GC()
			runtime.ReadMemStats(&full)
			heap := float64(int64(full.HeapAlloc)-int64(base.HeapAlloc)) / n

			next := n
			b.Run("new-uri", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := use(next); err != nil {
						b.Fatal(err)
					}
					next++
				}
				if reg.Len() != n {
					b.Fatalf("%d remotes, want %d", reg.Len(), n)
				}
				b.ReportMetric(heap, "heap-B/source")
			})
			b.Run("sweep", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					reg.expire()
				}
				if reg.Len() != n {
					b.Fatalf("%d remotes, want %d", reg.Len(), n)
				}
			})
		})
	}
}
