package redisstore_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/internal/redistest"
	"github.com/pkjwt/pkjwt/replay/redisstore"
	"github.com/pkjwt/pkjwt/verify"
	"github.com/redis/go-redis/v9"
)

// linkProxy forwards TCP to target; once stalled, it drops everything in
// both directions, as a replication link that stopped delivering would.
type linkProxy struct {
	ln      net.Listener
	target  string
	stalled atomic.Bool
	wg      sync.WaitGroup
}

func startLinkProxy(t *testing.T, target string) *linkProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &linkProxy{ln: ln, target: target}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.pipe(c) })
		}
	})
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *linkProxy) pipe(c net.Conn) {
	defer c.Close()
	r, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer r.Close()
	copyUnlessStalled := func(dst, src net.Conn) {
		buf := make([]byte, 64<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 && !p.stalled.Load() {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	// When either side ends, close both, so that the other copy ends too.
	done := make(chan struct{})
	go func() { copyUnlessStalled(r, c); c.Close(); r.Close(); close(done) }()
	copyUnlessStalled(c, r)
	c.Close()
	r.Close()
	<-done
}

// TestFailoverToStaleReplica: a claim acknowledged by the primary but not
// replicated (the replica's link stalled), the primary killed, the replica
// promoted, a verifier pointed at it: the claimed assertion is refused.
func TestFailoverToStaleReplica(t *testing.T) {
	ctx := context.Background()
	primary, replica, link := startReplicated(t)

	// A store that checks (the default) records the primary's run_id in
	// its data, which the replica copies.
	store := newStore(t, newClient(t, primary), redisstore.Config{})
	v := epochNode(t, store)
	replicated, unreplicated := mint(), mint()
	if _, err := v.Verify(ctx, replicated); err != nil {
		t.Fatal(err)
	}
	// Everything so far (markers, the run_id record, the first claim)
	// reaches the replica.
	waitReplicated(t, primary, replica)

	link.stalled.Store(true)
	if _, err := v.Verify(ctx, unreplicated); err != nil {
		t.Fatalf("use acknowledged by the primary: %v", err)
	}
	primary.Stop()
	if _, err := replica.Do("REPLICAOF", "NO", "ONE"); err != nil {
		t.Fatal(err)
	}

	// A verifier pointed at the promoted replica, as after a Sentinel
	// failover or a DNS switch: a store that never saw the old primary.
	promoted := newStore(t, newClient(t, replica), redisstore.Config{})
	keys := mustKeys(t)
	pv, err := verify.New(issuer, verify.ClientMap{"c1": {ID: "c1", Keys: keys}}, promoted, verify.Config{Leeway: testLeeway})
	if err != nil {
		t.Fatal(err)
	}
	_, err = pv.Verify(ctx, unreplicated)
	wantReason(t, "replay of the claim the failover lost", err, verify.ErrReplayEpoch, "replay_epoch")
	_, err = pv.Verify(ctx, replicated)
	wantReason(t, "replay of a replicated claim", err, verify.ErrReplayed, "replayed")
	afterLeeway(promoted.Epoch())
	wantAccepted(t, "fresh assertion after the failover", pv, mint())
}

// waitReplicated waits until replica has processed the primary's whole
// replication stream so far. (WAIT would not do from a new connection: it
// waits only for that connection's own writes.)
func waitReplicated(t *testing.T, primary, replica *redistest.Server) {
	t.Helper()
	offset := func(s *redistest.Server) int64 {
		info, err := s.Do("INFO", "replication")
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(info) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "master_repl_offset:"); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
		}
		t.Fatalf("no master_repl_offset in INFO replication of %s", s.Addr())
		return 0
	}
	want := offset(primary)
	deadline := time.Now().Add(10 * time.Second)
	for offset(replica) < want {
		if time.Now().After(deadline) {
			t.Fatalf("replica not at the primary's offset %d after 10s", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startReplicated starts a primary and a replica that replicates from it
// through a linkProxy, and waits until the link is up.
func startReplicated(t *testing.T) (primary, replica *redistest.Server, link *linkProxy) {
	t.Helper()
	// Full resynchronisation at once, not after the default 5 s delay.
	primary = redistest.StartArgs(t, "--repl-diskless-sync-delay", "0")
	link = startLinkProxy(t, primary.Addr())
	_, port, _ := net.SplitHostPort(link.ln.Addr().String())
	replica = redistest.StartArgs(t, "--replicaof", "127.0.0.1", port)
	waitLinkUp(t, replica)
	return primary, replica, link
}

func waitLinkUp(t testing.TB, replica *redistest.Server) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := replica.Do("INFO", "replication")
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replication link not up after 10s: %v\n%s", err, info)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWaitReplicas: with WaitReplicas, a claim fails (closed) when no
// replica acknowledges it, and succeeds when one does.
func TestWaitReplicas(t *testing.T) {
	ctx := context.Background()
	primary, _, link := startReplicated(t)

	s := newStore(t, newClient(t, primary), redisstore.Config{WaitReplicas: 1, WaitTimeout: time.Second, CheckInterval: -1})
	for i := range 3 {
		if _, err := s.Claim(ctx, "k"+strconv.Itoa(i), time.Now().Add(time.Minute)); err != nil {
			t.Fatalf("claim %d with a live replica: %v", i, err)
		}
	}
	link.stalled.Store(true)
	_, err := s.Claim(ctx, "stalled", time.Now().Add(time.Minute))
	wantDown(t, "claim no replica acknowledged", err)
	if !strings.Contains(err.Error(), "acknowledged by 0 replicas") {
		t.Errorf("claim no replica acknowledged: %v, want it to say so", err)
	}

	for _, cfg := range []redisstore.Config{
		{WaitReplicas: -1},
		{WaitReplicas: 1, WaitTimeout: -1},
		{WaitReplicas: 1, WaitTimeout: time.Second, Timeout: time.Second},
	} {
		if _, err := redisstore.New(newClient(t, primary), cfg); err == nil {
			t.Errorf("New(%+v): nil error", cfg)
		}
	}
}

// TestSentinelFailover: the same scenario as TestFailoverToStaleReplica,
// but a real Sentinel promotes the replica and the store's own
// FailoverClient follows it: the running store's checker sees the new
// primary and the lost claim's assertion is refused.
func TestSentinelFailover(t *testing.T) {
	ctx := context.Background()
	primary, replica, link := startReplicated(t)
	sentinel := redistest.StartSentinel(t, "pkjwt", primary)
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:            "pkjwt",
		SentinelAddrs:         []string{sentinel.Addr()},
		ContextTimeoutEnabled: true,
		DialTimeout:           time.Second,
	})
	t.Cleanup(func() { _ = rdb.Close() })
	store := newStore(t, rdb, redisstore.Config{CheckInterval: 100 * time.Millisecond})
	v := epochNode(t, store)
	replicated, unreplicated := mint(), mint()
	if _, err := v.Verify(ctx, replicated); err != nil {
		t.Fatal(err)
	}
	// Sentinel must know the replica before it can promote it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		reps, err := sentinel.Do("SENTINEL", "REPLICAS", "pkjwt")
		if err == nil && strings.Contains(reps, replica.Addr()[strings.LastIndexByte(replica.Addr(), ':')+1:]) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Sentinel does not know the replica: %q, %v", reps, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitReplicated(t, primary, replica)

	link.stalled.Store(true)
	if _, err := v.Verify(ctx, unreplicated); err != nil {
		t.Fatalf("use acknowledged by the primary: %v", err)
	}
	killed := time.Now()
	primary.Stop()

	// Sentinel promotes the replica (down after 1 s); the client follows.
	for {
		info, err := replica.Do("INFO", "replication")
		if err == nil && strings.Contains(info, "role:master") {
			break
		}
		if time.Now().After(deadline.Add(30 * time.Second)) {
			t.Fatalf("Sentinel did not promote the replica: %v\n%s", err, info)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The checker sees the new primary within CheckInterval of the
	// client reaching it (claims in between would be judged against the
	// old epoch: the documented delay), so wait for it, not for a claim.
	for !store.Epoch().After(killed) {
		if time.Now().After(deadline.Add(40 * time.Second)) {
			t.Fatalf("Epoch = %v, still not after the primary died at %v", store.Epoch(), killed)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, err := v.Verify(ctx, unreplicated)
	wantReason(t, "replay of the claim the failover lost", err, verify.ErrReplayEpoch, "replay_epoch")
	_, err = v.Verify(ctx, replicated)
	wantReason(t, "replay of a replicated claim", err, verify.ErrReplayed, "replayed")
}
