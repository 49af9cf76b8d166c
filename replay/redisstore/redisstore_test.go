package redisstore_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/internal/redistest"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/replay/redisstore"
	"github.com/pkjwt/pkjwt/replay/replaytest"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) {
	// The fault tests make go-redis log failed dials; the tests check the
	// errors themselves.
	redis.SetLogger(discardLogger{})
	os.Exit(m.Run())
}

type discardLogger struct{}

func (discardLogger) Printf(context.Context, string, ...any) {}

func newClient(t testing.TB, srv *redistest.Server) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{
		Addr:                  srv.Addr(),
		ContextTimeoutEnabled: true,
		// Fail fast while the server is down, so that fault tests are short.
		DialTimeout: time.Second,
		MaxRetries:  -1,
		// 1000 concurrent claims queue for 20 connections; on a loaded
		// machine that can take longer than the default 4s.
		PoolTimeout: 20 * time.Second,
	})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

func newStore(t testing.TB, rdb redis.UniversalClient, cfg redisstore.Config) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(rdb, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// wantDown checks that err is a store failure: neither nil nor a replay.
func wantDown(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil || errors.Is(err, replay.ErrReplayed) {
		t.Fatalf("%s: Claim = %v, want an error not wrapping replay.ErrReplayed", what, err)
	}
}

func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	replaytest.Run(t, func(t *testing.T) replay.Store {
		// The suite checks answers, not latency: allow for a loaded machine
		// (1000 concurrent claims share one connection pool).
		return newStore(t, newClient(t, srv), redisstore.Config{Timeout: 20 * time.Second})
	})
}

func TestNewNilClient(t *testing.T) {
	if _, err := redisstore.New(nil, redisstore.Config{}); err == nil {
		t.Fatal("New(nil) = nil error, want an error")
	}
}

func TestKeyLayout(t *testing.T) {
	srv := redistest.Start(t)
	rdb := newClient(t, srv)
	ctx := context.Background()
	until := time.Now().Add(time.Hour).Truncate(time.Millisecond).Add(time.Millisecond + 1) // needs rounding up

	def := newStore(t, rdb, redisstore.Config{})
	other := newStore(t, rdb, redisstore.Config{Prefix: "other:"})
	for _, s := range []*redisstore.Store{def, other} {
		if _, err := s.Claim(ctx, "k", until); err != nil {
			t.Fatalf("Claim: %v", err)
		}
	}
	if _, err := def.Claim(ctx, "k", until); !errors.Is(err, replay.ErrReplayed) {
		t.Fatalf("second Claim = %v, want replay.ErrReplayed", err)
	}

	want := until.Truncate(time.Millisecond).Add(time.Millisecond).UnixMilli()
	var claimKeys []string
	for _, st := range []struct {
		s      *redisstore.Store
		prefix string
	}{{def, redisstore.DefaultPrefix}, {other, "other:"}} {
		claimKey, markerKey := st.s.KeysForTest("k")
		tag := st.prefix + "{" + strings.TrimPrefix(strings.SplitN(claimKey, "}", 2)[0], st.prefix+"{") + "}"
		if !strings.HasPrefix(claimKey, tag) || markerKey != tag+"epoch" || strings.Contains(claimKey, "}k") {
			t.Errorf("keys of k: claim %q, marker %q; want both under the prefix %q and one hash tag, k hashed", claimKey, markerKey, st.prefix)
		}
		claimKeys = append(claimKeys, claimKey)
	}
	// A hash tag in the caller's key does not decide the slot.
	a, _ := def.KeysForTest("8:client-1:{x}a")
	b, _ := def.KeysForTest("8:client-1:{x}b")
	if strings.Contains(a, "{x}") || a == b {
		t.Errorf("keys with a {x} in the jti: %q, %q", a, b)
	}
	for _, key := range claimKeys {
		got, err := rdb.PExpireTime(ctx, key).Result()
		if err != nil {
			t.Fatalf("PEXPIRETIME %s: %v", key, err)
		}
		if got.Milliseconds() != want {
			t.Errorf("PEXPIRETIME %s = %d, want %d (until rounded up to the millisecond)", key, got.Milliseconds(), want)
		}
	}
}

func TestServerDownFailsClosed(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, newClient(t, srv), redisstore.Config{Timeout: time.Second})
	ctx := context.Background()
	until := time.Now().Add(time.Minute)

	if _, err := s.Claim(ctx, "before", until); err != nil {
		t.Fatalf("Claim while up: %v", err)
	}
	srv.Stop()
	for _, k := range []string{"before", "during"} {
		start := time.Now()
		_, err := s.Claim(ctx, k, until)
		wantDown(t, "Claim("+k+") while down", err)
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("Claim(%s) while down took %v, want about the 1s timeout at most", k, d)
		}
	}

	srv.Restart() // empty: claims made before are forgotten, see the package docs
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := s.Claim(ctx, "after", until)
		if err == nil {
			break
		}
		wantDown(t, "Claim just after restart", err)
		if time.Now().After(deadline) {
			t.Fatalf("Claim still failing 5s after restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := s.Claim(ctx, "after", until); !errors.Is(err, replay.ErrReplayed) {
		t.Fatalf("second Claim after restart = %v, want replay.ErrReplayed", err)
	}
}

func TestHungServerTimesOut(t *testing.T) {
	srv := redistest.Start(t)
	rdb := newClient(t, srv)
	s := newStore(t, rdb, redisstore.Config{Timeout: 200 * time.Millisecond})
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil { // open a pooled connection
		t.Fatal(err)
	}

	srv.Pause()
	start := time.Now()
	_, err := s.Claim(ctx, "k", time.Now().Add(time.Minute))
	elapsed := time.Since(start)
	srv.Resume()

	wantDown(t, "Claim against a hung server", err)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Claim against a hung server = %v, want an error wrapping context.DeadlineExceeded", err)
	}
	// Without the bound, the client's 3s ReadTimeout would apply.
	if elapsed > 2*time.Second {
		t.Errorf("Claim against a hung server took %v, want about the 200ms timeout", elapsed)
	}
}

func TestCallerDeadlineApplies(t *testing.T) {
	srv := redistest.Start(t)
	rdb := newClient(t, srv)
	s := newStore(t, rdb, redisstore.Config{Timeout: -1})
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	defer srv.Resume()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := s.Claim(ctx, "k", time.Now().Add(time.Minute))
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, replay.ErrReplayed) {
		t.Fatalf("Claim = %v, want an error wrapping context.DeadlineExceeded", err)
	}
}

func TestOutOfMemoryFailsClosed(t *testing.T) {
	srv := redistest.Start(t)
	rdb := newClient(t, srv)
	ctx := context.Background()
	// With noeviction (the Redis default) a full Redis refuses writes.
	if err := rdb.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, rdb, redisstore.Config{})
	_, err := s.Claim(ctx, "k", time.Now().Add(time.Minute))
	wantDown(t, "Claim against a full Redis", err)
}

// BenchmarkClaim measures first claims of unique keys against a local
// redis-server, from parallel goroutines sharing one client.
func BenchmarkClaim(b *testing.B) {
	srv := redistest.Start(b)
	rdb := newClient(b, srv)
	s := newStore(b, rdb, redisstore.Config{})
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	var goroutine atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		prefix := "8:client-1jti-" + strconv.FormatInt(goroutine.Add(1), 36) + "-"
		for i := 0; pb.Next(); i++ {
			if _, err := s.Claim(ctx, prefix+strconv.Itoa(i), until); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkClaimDetection compares, in one run against one local
// redis-server, today's claim (one SET NX PXAT, what this package sent
// before the epoch existed) with the store's claim (one pipeline: SET NX
// PXAT GET with a token, then GET of the epoch marker), and with
// WaitReplicas: 1 (WAIT in the same pipeline) against a
// replica of that server. Parallel goroutines share one client.
func BenchmarkClaimDetection(b *testing.B) {
	primary := redistest.StartArgs(b, "--repl-diskless-sync-delay", "0")
	port := primary.Addr()[strings.LastIndexByte(primary.Addr(), ':')+1:]
	replica := redistest.StartArgs(b, "--replicaof", "127.0.0.1", port)
	rdb := newClient(b, primary)
	ctx := context.Background()
	waitLinkUp(b, replica)
	store := newStore(b, rdb, redisstore.Config{})
	waiting := newStore(b, rdb, redisstore.Config{WaitReplicas: 1, WaitTimeout: time.Second})
	for _, s := range []*redisstore.Store{store, waiting} {
		if err := s.Provision(ctx); err != nil {
			b.Fatal(err)
		}
	}
	// What Claim did before: the same timeout, one SET NX with an expiry
	// (go-redis sends PXAT for a time with milliseconds).
	today := func(ctx context.Context, key string, until time.Time) error {
		ctx, cancel := context.WithTimeout(ctx, redisstore.DefaultTimeout)
		defer cancel()
		ok, err := rdb.SetArgs(ctx, redisstore.DefaultPrefix+"today:"+key, "1", redis.SetArgs{Mode: "NX", ExpireAt: until.Add(time.Millisecond / 2)}).Result()
		if err == nil && ok != "OK" {
			err = errors.New("not claimed")
		}
		return err
	}
	claim := func(s *redisstore.Store) func(ctx context.Context, key string, until time.Time) error {
		return func(ctx context.Context, key string, until time.Time) error {
			_, err := s.Claim(ctx, key, until)
			return err
		}
	}
	var goroutine atomic.Int64
	for _, tc := range []struct {
		name  string
		claim func(ctx context.Context, key string, until time.Time) error
	}{{"today-SET-NX", today}, {"detection", claim(store)}, {"detection+WAIT1", claim(waiting)}} {
		b.Run(tc.name, func(b *testing.B) {
			until := time.Now().Add(time.Minute)
			cpu0 := benchCPU(b, primary, replica)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				prefix := tc.name + "8:client-1jti-" + strconv.FormatInt(goroutine.Add(1), 36) + "-"
				for i := 0; pb.Next(); i++ {
					if err := tc.claim(ctx, prefix+strconv.Itoa(i), until); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			// On a shared machine wall time mostly measures the neighbours;
			// CPU time (this process, the primary and its replica) much
			// less so.
			b.ReportMetric(float64(benchCPU(b, primary, replica)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// benchCPU returns the CPU time used so far by this process and the given
// redis-servers.
func benchCPU(b *testing.B, servers ...*redistest.Server) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	total := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	for _, s := range servers {
		d, err := s.CPU()
		if err != nil {
			b.Fatal(err)
		}
		total += d
	}
	return total
}
