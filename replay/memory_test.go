package replay_test

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patrickmn/go-cache"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/replay/replaytest"
)

func newMemory(t testing.TB, cfg replay.MemoryConfig) *replay.Memory {
	t.Helper()
	m, err := replay.NewMemory(cfg)
	if err != nil {
		t.Fatalf("NewMemory(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func TestMemoryConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  replay.MemoryConfig
	}{
		{"default", replay.MemoryConfig{}},
		{"one shard", replay.MemoryConfig{Shards: 1}},
		{"fast cleanup", replay.MemoryConfig{CleanupInterval: 10 * time.Millisecond}},
		{"no cleanup", replay.MemoryConfig{CleanupInterval: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			replaytest.Run(t, func(t *testing.T) replay.Store { return newMemory(t, tc.cfg) })
		})
	}
}

func TestNewMemoryRejectsNegativeSizes(t *testing.T) {
	for _, cfg := range []replay.MemoryConfig{{MaxEntries: -1}, {Shards: -1}} {
		if m, err := replay.NewMemory(cfg); err == nil {
			_ = m.Close()
			t.Errorf("NewMemory(%+v) = nil error, want an error", cfg)
		}
	}
}

func TestMemoryFull(t *testing.T) {
	t.Parallel()
	// One shard and no cleanup goroutine: only the full-shard sweep can
	// make room.
	m := newMemory(t, replay.MemoryConfig{MaxEntries: 3, Shards: 1, CleanupInterval: -1})
	ctx := context.Background()
	short := time.Now().Add(500 * time.Millisecond)
	long := time.Now().Add(time.Hour)

	for _, c := range []struct {
		key   string
		until time.Time
	}{{"a", short}, {"b", short}, {"c", long}} {
		if _, err := m.Claim(ctx, c.key, c.until); err != nil {
			t.Fatalf("Claim(%q) = %v, want nil", c.key, err)
		}
	}
	if _, err := m.Claim(ctx, "d", long); !errors.Is(err, replay.ErrFull) {
		t.Fatalf("Claim(d) on a full store = %v, want replay.ErrFull", err)
	}
	// A full store still reports replays as replays.
	if _, err := m.Claim(ctx, "c", long); !errors.Is(err, replay.ErrReplayed) {
		t.Fatalf("Claim(c) on a full store = %v, want replay.ErrReplayed", err)
	}

	// Once a and b expire, their places are free again; c's is not.
	time.Sleep(time.Until(short) + 150*time.Millisecond) // past the full-sweep backoff too
	for _, k := range []string{"d", "e"} {
		if _, err := m.Claim(ctx, k, long); err != nil {
			t.Fatalf("Claim(%q) after expiry = %v, want nil", k, err)
		}
	}
	if _, err := m.Claim(ctx, "f", long); !errors.Is(err, replay.ErrFull) {
		t.Fatalf("Claim(f) = %v, want replay.ErrFull", err)
	}
	if _, err := m.Claim(ctx, "c", long); !errors.Is(err, replay.ErrReplayed) {
		t.Fatalf("Claim(c) = %v, want replay.ErrReplayed: a full store must never evict an unexpired claim", err)
	}
}

func TestMemoryFullShardsShareMaxEntries(t *testing.T) {
	t.Parallel()
	const maxEntries = 100
	m := newMemory(t, replay.MemoryConfig{MaxEntries: maxEntries, Shards: 8, CleanupInterval: -1})
	until := time.Now().Add(time.Hour)
	accepted := 0
	for i := range 10 * maxEntries {
		switch _, err := m.Claim(context.Background(), "k"+strconv.Itoa(i), until); {
		case err == nil:
			accepted++
		case !errors.Is(err, replay.ErrFull):
			t.Fatalf("Claim %d: %v, want nil or replay.ErrFull", i, err)
		}
	}
	if accepted != maxEntries {
		t.Fatalf("accepted %d claims, want MaxEntries = %d", accepted, maxEntries)
	}
}

// TestMemoryClose is not parallel: it counts goroutines.
func TestMemoryClose(t *testing.T) {
	base := runtime.NumGoroutine()
	stores := make([]*replay.Memory, 5)
	for i := range stores {
		m, err := replay.NewMemory(replay.MemoryConfig{CleanupInterval: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		stores[i] = m
	}
	if n := runtime.NumGoroutine(); n < base+len(stores) {
		t.Fatalf("%d goroutines with %d stores open, want at least %d", n, len(stores), base+len(stores))
	}
	for _, m := range stores {
		if err := m.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	// Close waits for the goroutines, but the runtime counts an exiting
	// goroutine for a moment longer.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Close, want %d", runtime.NumGoroutine(), base)
		}
		time.Sleep(time.Millisecond)
	}

	m := stores[0]
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := m.Claim(context.Background(), "k", time.Now().Add(time.Minute)); !errors.Is(err, replay.ErrClosed) {
		t.Fatalf("Claim after Close = %v, want replay.ErrClosed", err)
	}
}

func TestMemoryConcurrentClose(t *testing.T) {
	t.Parallel()
	m := newMemory(t, replay.MemoryConfig{})
	done := make(chan error, 3)
	for range 3 {
		go func() { done <- m.Close() }()
	}
	for range 3 {
		if err := <-done; err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

// BenchmarkMemoryClaim measures first claims from parallel goroutines, with
// the default sharding against one shard (a single lock, the baseline), and a
// plain go-cache Add for reference. Each claim is of a key no live claim
// holds:
//
//   - fill: every key is new, so the store grows for the whole run, as it
//     does while a server warms up (map growth and GC included).
//   - steady: each goroutine cycles through 65,536 keys claimed for 200µs, so
//     a key's earlier claim has expired when it comes round again and the
//     store stays the same size, as it does in service; this isolates the
//     claim path and its locking.
func BenchmarkMemoryClaim(b *testing.B) {
	type claimFunc func(ctx context.Context, key string, until time.Time) (time.Time, error)
	stores := []struct {
		name string
		open func(b *testing.B) claimFunc
	}{
		{"shards=1", func(b *testing.B) claimFunc { return openMemory(b, 1) }},
		{"shards=32", func(b *testing.B) claimFunc { return openMemory(b, 32) }},
		{"go-cache", func(b *testing.B) claimFunc {
			c := cache.New(cache.NoExpiration, 0)
			return func(_ context.Context, key string, until time.Time) (time.Time, error) {
				// go-cache keeps an item with a lifetime <= 0 for ever.
				return time.Time{}, c.Add(key, struct{}{}, max(time.Until(until), time.Nanosecond))
			}
		}},
	}
	for _, mode := range []struct {
		name string
		run  func(b *testing.B, claim func(ctx context.Context, key string, until time.Time) (time.Time, error))
	}{
		{"fill", benchFill},
		{"steady", benchSteady},
	} {
		for _, st := range stores {
			b.Run(mode.name+"/"+st.name, func(b *testing.B) { mode.run(b, st.open(b)) })
		}
	}
}

func openMemory(b *testing.B, shards int) func(ctx context.Context, key string, until time.Time) (time.Time, error) {
	m, err := replay.NewMemory(replay.MemoryConfig{MaxEntries: 1 << 30, Shards: shards, CleanupInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	return m.Claim
}

var benchGoroutine atomic.Int64

// benchKeyPrefix returns a prefix no other benchmark goroutine uses, shaped
// like the verifier's keys (a length-prefixed client_id, then a jti).
func benchKeyPrefix() string {
	g := benchGoroutine.Add(1)
	return "8:client-" + strconv.FormatInt(g%10, 10) + ":jti-" + strconv.FormatInt(g, 36) + "-"
}

func benchFill(b *testing.B, claim func(ctx context.Context, key string, until time.Time) (time.Time, error)) {
	ctx := context.Background()
	until := time.Now().Add(time.Hour)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		prefix := benchKeyPrefix()
		buf := make([]byte, 0, 64)
		for i := 0; pb.Next(); i++ {
			buf = strconv.AppendInt(append(buf[:0], prefix...), int64(i), 36)
			if _, err := claim(ctx, string(buf), until); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchSteady(b *testing.B, claim func(ctx context.Context, key string, until time.Time) (time.Time, error)) {
	const nkeys = 1 << 16 // a key recurs after 65,536 claims: far more than 200µs
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		prefix := benchKeyPrefix()
		keys := make([]string, nkeys)
		for i := range keys {
			keys[i] = prefix + strconv.Itoa(i)
		}
		var until time.Time
		for i := 0; pb.Next(); i++ {
			if i%64 == 0 {
				until = time.Now().Add(200 * time.Microsecond)
			}
			if _, err := claim(ctx, keys[i%nkeys], until); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
