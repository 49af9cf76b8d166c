package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/pkjwt/pkjwt/internal/redistest"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/replay/redisstore"
	"github.com/pkjwt/pkjwt/verify"
)

// BenchmarkVerifyStore isolates the replay store's share of a
// verification: pkjwt's Verify of the same RS256 assertions with the
// memory store and with redisstore on a local redis-server (started by
// internal/redistest; skipped without one), one call at a time, so that
// ns/op includes the round trip to Redis. The Redis client is configured as pkjwt serve
// configures it (ContextTimeoutEnabled). Each pass over the pool uses a
// new key prefix, which is a fresh store.
func BenchmarkVerifyStore(b *testing.B) {
	const alg = "RS256"
	p := forms(alg)
	reqs := make([]verify.Request, len(p))
	for i, f := range p {
		r, err := verify.RequestFromForm(f, nil)
		if err != nil {
			b.Fatal(err)
		}
		reqs[i] = r
	}
	var rdb *redis.Client
	var cycle atomic.Int64
	stores := map[string]func() (replay.Store, func()){
		"memory": func() (replay.Store, func()) {
			m, err := replay.NewMemory(replay.MemoryConfig{CleanupInterval: -1})
			if err != nil {
				b.Fatal(err)
			}
			return m, func() { m.Close() }
		},
		"redis": func() (replay.Store, func()) {
			s, err := redisstore.New(rdb, redisstore.Config{Prefix: fmt.Sprintf("bench:%d:", cycle.Add(1))})
			if err != nil {
				b.Fatal(err)
			}
			return s, func() {}
		},
	}
	newVerifier := func(store replay.Store) *verify.Verifier {
		keys, err := verify.NewKeySet(verify.Key{ID: clientFor(alg).KID, Public: clientFor(alg).Public()})
		if err != nil {
			b.Fatal(err)
		}
		c := clientFor(alg)
		v, err := verify.New(Issuer, verify.ClientMap{c.ID: {ID: c.ID, Keys: keys, SigningAlg: alg}}, store, verify.Config{})
		if err != nil {
			b.Fatal(err)
		}
		return v
	}
	for _, name := range []string{"memory", "redis"} {
		newStore := stores[name]
		setup := func(b *testing.B) {
			if name == "redis" && rdb == nil {
				srv := redistest.Start(b)
				rdb = redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
				b.Cleanup(func() { rdb.Close(); rdb = nil })
			}
		}
		b.Run(name, func(b *testing.B) {
			setup(b)
			ctx := context.Background()
			store, done := newStore()
			v := newVerifier(store)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%pool == 0 && i > 0 {
					b.StopTimer()
					done()
					store, done = newStore()
					v = newVerifier(store)
					b.StartTimer()
				}
				if _, err := v.Verify(ctx, reqs[i%pool]); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			done()
		})
	}
}
