package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/internal/redistest"
	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/replay/redisstore"
	"github.com/pkjwt/pkjwt/replay/replaytest"
	"github.com/pkjwt/pkjwt/verify"
	"github.com/redis/go-redis/v9"
)

// testLeeway is the verifiers' leeway in these tests: a fresh assertion
// passes one leeway after a detected loss.
const testLeeway = time.Second

// epochNode is a verifier over store with a 1 s leeway, whose Redis has been
// in service for an hour.
func epochNode(t *testing.T, store *redisstore.Store) *verify.Verifier {
	t.Helper()
	if err := store.SetMarkersForTest(context.Background(), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	keys, err := verify.NewKeySet(verify.Key{ID: "k1", Public: testkeys.Public(testkeys.P256)})
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.New(issuer, verify.ClientMap{"c1": {ID: "c1", Keys: keys}}, store, verify.Config{Leeway: testLeeway})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mintNoIAT() verify.Request {
	c := testkeys.Claims("c1", issuer, time.Now())
	delete(c, "iat")
	token := testkeys.Sign(testkeys.Alg(testkeys.P256), testkeys.Signer(testkeys.P256), map[string]any{"kid": "k1"}, c)
	return verify.Request{AssertionType: verify.AssertionType, Assertion: token, ClientID: "c1"}
}

// wantAccepted waits for Redis to answer after a fault, then wants req
// accepted.
func wantAccepted(t *testing.T, what string, v *verify.Verifier, req verify.Request) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := v.Verify(context.Background(), req)
		if err == nil {
			return
		}
		if !errors.Is(err, verify.ErrReplayUnavailable) || time.Now().After(deadline) {
			t.Fatalf("%s: Verify = %v, want nil", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// afterLeeway sleeps until an assertion minted now has an iat (whole
// seconds) at or after epoch plus the leeway.
func afterLeeway(epoch time.Time) {
	time.Sleep(time.Until(epoch.Add(testLeeway).Truncate(time.Second).Add(time.Second)))
}

// TestAmnesia makes Redis forget in each way the markers detect at once
// and checks that an assertion used before is refused while a fresh one
// passes.
func TestAmnesia(t *testing.T) {
	for _, tc := range []struct {
		name string
		lose func(t *testing.T, srv *redistest.Server, rdb *redis.Client)
	}{
		{"restart without persistence", func(t *testing.T, srv *redistest.Server, _ *redis.Client) { srv.Restart() }},
		{"FLUSHALL", func(t *testing.T, _ *redistest.Server, rdb *redis.Client) {
			if err := rdb.FlushAll(context.Background()).Err(); err != nil {
				t.Fatal(err)
			}
		}},
		{"FLUSHDB", func(t *testing.T, _ *redistest.Server, rdb *redis.Client) {
			if err := rdb.FlushDB(context.Background()).Err(); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			rdb := newClient(t, srv)
			// No checker: the markers alone must catch these.
			store := newStore(t, rdb, redisstore.Config{CheckInterval: -1})
			v := epochNode(t, store)
			used, usedNoIAT := mint(), mintNoIAT()
			for _, r := range []verify.Request{used, usedNoIAT} {
				if _, err := v.Verify(context.Background(), r); err != nil {
					t.Fatalf("first use: %v", err)
				}
			}
			lost := time.Now()
			tc.lose(t, srv, rdb)

			for name, r := range map[string]verify.Request{"with iat": used, "without iat": usedNoIAT} {
				_, err := v.Verify(context.Background(), r)
				for errors.Is(err, verify.ErrReplayUnavailable) && time.Since(lost) < 10*time.Second {
					time.Sleep(50 * time.Millisecond)
					_, err = v.Verify(context.Background(), r)
				}
				wantReason(t, "replay "+name+" after the loss", err, verify.ErrReplayEpoch, "replay_epoch")
			}
			afterLeeway(time.Now())
			wantAccepted(t, "fresh assertion after the loss", v, mint())
		})
	}
}

func TestEpochFromMarkers(t *testing.T) {
	srv := redistest.Start(t)
	rdb := newClient(t, srv)
	store := newStore(t, rdb, redisstore.Config{CheckInterval: -1})
	ctx := context.Background()
	until := time.Now().Add(time.Minute)

	// An empty Redis cannot be told from one that lost its data: the first
	// claim starts the epoch.
	before := time.Now().Add(-time.Millisecond)
	epoch, err := store.Claim(ctx, "a", until)
	if err != nil || epoch.Before(before.Truncate(time.Millisecond)) || epoch.After(time.Now()) {
		t.Fatalf("first claim on an empty Redis: Claim = %v, %v; want an epoch of about now", epoch, err)
	}
	// Every later claim sees the same epoch, whichever tag it hashes to.
	for i := range 50 {
		got, err := store.Claim(ctx, "b"+strconv.Itoa(i), until)
		if err != nil || got.Before(epoch) || got.After(time.Now()) {
			t.Fatalf("claim %d: %v, %v; want an epoch between %v and now", i, got, err, epoch)
		}
	}
	// A second store (another verifier node) sees the markers.
	other := newStore(t, newClient(t, srv), redisstore.Config{CheckInterval: -1})
	if got, err := other.Claim(ctx, "a", until); !errors.Is(err, replay.ErrReplayed) || got.Before(epoch) || got.After(time.Now()) {
		t.Fatalf("other node: Claim = %v, %v; want an epoch between %v and now, and replay.ErrReplayed", got, err, epoch)
	}
}

// usedOnce returns a client of srv, a store without periodic checks, an
// epochNode over it and an assertion that node accepted, after one check
// has recorded what the checker knows before a loss.
func usedOnce(t *testing.T, srv *redistest.Server) (*redis.Client, *redisstore.Store, *verify.Verifier, verify.Request) {
	t.Helper()
	rdb := newClient(t, srv)
	store := newStore(t, rdb, redisstore.Config{CheckInterval: -1})
	v := epochNode(t, store)
	used := mint()
	if _, err := v.Verify(context.Background(), used); err != nil {
		t.Fatal(err)
	}
	if err := store.CheckForTest(context.Background()); err != nil {
		t.Fatal(err)
	}
	return rdb, store, v, used
}

// TestEvictionDetected fills a Redis under allkeys-lru until it evicts a
// claim: the checker sees evicted_keys grow and moves the epoch.
func TestEvictionDetected(t *testing.T) {
	srv := redistest.Start(t)
	rdb, store, v, used := usedOnce(t, srv)
	ctx := context.Background()
	if e := store.Epoch(); e.After(time.Now().Add(-time.Hour).Add(time.Second)) {
		t.Fatalf("Epoch = %v before any loss, want the markers' hour-old epoch", e)
	}
	evicting := time.Now()

	claimKey, _ := store.KeysForTest("2:c1:" + jtiOfReq(t, used))
	used2 := mint()
	if _, err := v.Verify(ctx, used2); err != nil {
		t.Fatal(err)
	}
	for _, kv := range [][2]string{{"maxmemory-policy", "allkeys-lru"}, {"maxmemory", "4mb"}} {
		if err := rdb.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatal(err)
		}
	}
	junk := strings.Repeat("x", 64<<10)
	for i := 0; ; i++ {
		if err := rdb.Set(ctx, "junk:"+strconv.Itoa(i), junk, 0).Err(); err != nil {
			t.Fatal(err)
		}
		n, err := rdb.Exists(ctx, claimKey).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if i > 10_000 {
			t.Fatal("the claim was never evicted")
		}
	}
	if err := store.CheckForTest(ctx); err != nil {
		t.Fatal(err)
	}
	if !store.Epoch().After(evicting) {
		t.Fatalf("Epoch = %v after an eviction that began at %v, want later", store.Epoch(), evicting)
	}
	_, err := v.Verify(ctx, used)
	wantReason(t, "replay of an evicted claim", err, verify.ErrReplayEpoch, "replay_epoch")
	// A claim not evicted is refused as what it is.
	if n, _ := rdb.Exists(ctx, mustClaimKey(t, store, used2)).Result(); n == 1 {
		_, err = v.Verify(ctx, used2)
		wantReason(t, "replay of a claim still held", err, verify.ErrReplayed, "replayed")
	}
	afterLeeway(store.Epoch())
	wantAccepted(t, "fresh assertion after the eviction", v, mint())
}

// TestRestartDetectedByChecker: a restart that keeps the markers (here, a
// Redis restarted from a copy of its data, as from a snapshot) is caught by
// the checker's run_id.
func TestRestartDetectedByChecker(t *testing.T) {
	srv := redistest.Start(t)
	rdb, store, v, used := usedOnce(t, srv)
	ctx := context.Background()
	// Snapshot the markers, not the claim, as a snapshot taken before the
	// claim would.
	markers := map[string]string{}
	iter := rdb.Scan(ctx, 0, "*epoch", 0).Iterator()
	for iter.Next(ctx) {
		val, err := rdb.Get(ctx, iter.Val()).Result()
		if err != nil {
			t.Fatal(err)
		}
		markers[iter.Val()] = val
	}
	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p := rdb.Pipeline()
		for k, val := range markers {
			p.Set(ctx, k, val, 0)
		}
		if _, err := p.Exec(ctx); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := store.CheckForTest(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := v.Verify(ctx, used)
	wantReason(t, "replay after a restart that kept the markers", err, verify.ErrReplayEpoch, "replay_epoch")
	// The checker moved the markers too: a node that starts now sees the
	// loss.
	late := newStore(t, newClient(t, srv), redisstore.Config{CheckInterval: -1})
	if epoch, err := late.Claim(ctx, "x", time.Now().Add(time.Minute)); err != nil || epoch.Before(store.Epoch()) {
		t.Fatalf("new node: Claim = %v, %v; want an epoch no earlier than %v", epoch, err, store.Epoch())
	}
}

func TestRingRefused(t *testing.T) {
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	defer ring.Close()
	if _, err := redisstore.New(ring, redisstore.Config{}); err == nil || !strings.Contains(err.Error(), "Ring") {
		t.Fatalf("New(*redis.Ring) = %v, want an error naming Ring", err)
	}
}

func jtiOfReq(t *testing.T, r verify.Request) string {
	t.Helper()
	v, err := verify.New(issuer, verify.ClientMap{"c1": {ID: "c1", Keys: mustKeys(t)}}, nopStore{}, verify.Config{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := v.Verify(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return res.JTI
}

func mustClaimKey(t *testing.T, s *redisstore.Store, r verify.Request) string {
	k, _ := s.KeysForTest("2:c1:" + jtiOfReq(t, r))
	return k
}

func mustKeys(t *testing.T) *verify.KeySet {
	keys, err := verify.NewKeySet(verify.Key{ID: "k1", Public: testkeys.Public(testkeys.P256)})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// nopStore accepts every claim; it only serves to read an assertion's jti.
type nopStore struct{}

func (nopStore) Claim(context.Context, string, time.Time) (time.Time, error) {
	return time.Time{}, nil
}

// swallowProxy forwards TCP between clients and a Redis at target; while
// armed, it forwards the next command containing match to Redis, drops
// Redis's reply and closes the connection, as a network failure after the
// server executed the command would.
type swallowProxy struct {
	ln       net.Listener
	target   string
	match    []byte
	armed    atomic.Bool
	swallows atomic.Int32
	seen     atomic.Int32 // commands containing match
	wg       sync.WaitGroup
}

func startProxy(t *testing.T, target, match string) *swallowProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &swallowProxy{ln: ln, target: target, match: []byte(match)}
	p.wg.Go(p.serve)
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *swallowProxy) Addr() string { return p.ln.Addr().String() }

func (p *swallowProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.pipe(c) })
	}
}

func (p *swallowProxy) pipe(c net.Conn) {
	defer c.Close()
	r, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer r.Close()
	var swallow atomic.Bool
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if bytes.Contains(bytes.ToLower(buf[:n]), p.match) {
					p.seen.Add(1)
					if p.armed.CompareAndSwap(true, false) {
						swallow.Store(true)
					}
				}
				if _, werr := r.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				r.Close()
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 && swallow.Load() {
			// Redis executed the command and answered: lose the answer.
			p.swallows.Add(1)
			return
		}
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				return
			}
			return
		}
	}
}

// TestLostReplyIsNotAReplay: go-redis resends a command whose reply it did
// not get. The claim executed the first time; the retry finds the key,
// holding this claim's own token, and must report a first use.
func TestLostReplyIsNotAReplay(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	direct := newStore(t, newClient(t, srv), redisstore.Config{CheckInterval: -1})
	// Create the epoch markers first: the claim through the proxy is then
	// one round trip.
	if _, err := direct.Claim(ctx, "warm-up", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}

	proxy := startProxy(t, srv.Addr(), "pxat")
	rdb := redis.NewClient(&redis.Options{
		Addr:                  proxy.Addr(),
		ContextTimeoutEnabled: true,
		MaxRetries:            3, // go-redis's default, stated
		MinRetryBackoff:       time.Millisecond,
		MaxRetryBackoff:       10 * time.Millisecond,
	})
	t.Cleanup(func() { _ = rdb.Close() })
	s := newStore(t, rdb, redisstore.Config{CheckInterval: -1})
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	proxy.armed.Store(true)
	if _, err := s.Claim(ctx, "jti-1", time.Now().Add(time.Minute)); err != nil {
		t.Fatalf("first use whose reply was lost: Claim = %v, want nil", err)
	}
	if got := proxy.swallows.Load(); got != 1 {
		t.Fatalf("the proxy swallowed %d replies, want 1", got)
	}
	if got := proxy.seen.Load(); got != 2 {
		t.Fatalf("the proxy saw %d claims, want 2 (the first and go-redis's retry)", got)
	}
	// The claim holds: a second use is a replay, through either path.
	if _, err := s.Claim(ctx, "jti-1", time.Now().Add(time.Minute)); !errors.Is(err, replay.ErrReplayed) {
		t.Fatalf("second use: Claim = %v, want replay.ErrReplayed", err)
	}
	if _, err := direct.Claim(ctx, "jti-1", time.Now().Add(time.Minute)); !errors.Is(err, replay.ErrReplayed) {
		t.Fatalf("second use, other client: Claim = %v, want replay.ErrReplayed", err)
	}
}

func TestConformanceLoss(t *testing.T) {
	for name, lose := range map[string]func(*redistest.Server, *redis.Client) func(*testing.T){
		"restart": func(srv *redistest.Server, _ *redis.Client) func(*testing.T) {
			return func(*testing.T) { srv.Restart() }
		},
		"FLUSHALL": func(_ *redistest.Server, rdb *redis.Client) func(*testing.T) {
			return func(t *testing.T) {
				if err := rdb.FlushAll(context.Background()).Err(); err != nil {
					t.Fatal(err)
				}
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := redistest.Start(t)
			rdb := newClient(t, srv)
			replaytest.RunLoss(t, func(t *testing.T) replay.Store {
				s := newStore(t, rdb, redisstore.Config{CheckInterval: -1})
				if err := s.Provision(context.Background()); err != nil {
					t.Fatal(err)
				}
				return s
			}, lose(srv, rdb))
		})
	}
}
