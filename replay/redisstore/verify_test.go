package redisstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/internal/redistest"
	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/replay/redisstore"
	"github.com/pkjwt/pkjwt/verify"
)

const issuer = "https://as.example.com"

// newNode returns a verifier as one server of a cluster would build it: its
// own Redis connection pool, the cluster's shared Redis.
func newNode(t *testing.T, srv *redistest.Server) *verify.Verifier {
	t.Helper()
	keys, err := verify.NewKeySet(verify.Key{ID: "k1", Public: testkeys.Public(testkeys.P256)})
	if err != nil {
		t.Fatal(err)
	}
	clients := verify.ClientMap{"c1": {ID: "c1", Keys: keys}}
	v, err := verify.New(issuer, clients, newStore(t, newClient(t, srv), redisstore.Config{}), verify.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mint() verify.Request {
	alg := testkeys.Alg(testkeys.P256)
	token := testkeys.Sign(alg, testkeys.Signer(testkeys.P256), map[string]any{"kid": "k1"},
		testkeys.Claims("c1", issuer, time.Now()))
	return verify.Request{AssertionType: verify.AssertionType, Assertion: token, ClientID: "c1"}
}

func wantReason(t *testing.T, what string, err error, sentinel error, reason string) {
	t.Helper()
	var verr *verify.Error
	if !errors.As(err, &verr) || !errors.Is(err, sentinel) || verr.Reason != reason {
		t.Fatalf("%s: Verify error = %v, want a *verify.Error with reason %q", what, err, reason)
	}
}

func TestTwoNodesShareReplayState(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newNode(t, srv), newNode(t, srv)
	ctx := context.Background()

	req := mint()
	res, err := a.Verify(ctx, req)
	if err != nil {
		t.Fatalf("node A, first use: %v", err)
	}
	if res.ClientID != "c1" {
		t.Fatalf("node A: ClientID = %q, want c1", res.ClientID)
	}
	_, err = b.Verify(ctx, req)
	wantReason(t, "node B, replay", err, verify.ErrReplayed, "replayed")
	if err.(*verify.Error).Code != verify.CodeInvalidClient {
		t.Fatalf("node B, replay: code %q, want %q", err.(*verify.Error).Code, verify.CodeInvalidClient)
	}
	_, err = a.Verify(ctx, req)
	wantReason(t, "node A, replay", err, verify.ErrReplayed, "replayed")

	// A fresh assertion works on B.
	if _, err := b.Verify(ctx, mint()); err != nil {
		t.Fatalf("node B, fresh assertion: %v", err)
	}
}

func TestTwoNodesRace(t *testing.T) {
	srv := redistest.Start(t)
	nodes := []*verify.Verifier{newNode(t, srv), newNode(t, srv)}
	req := mint()

	const n = 100
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			<-start
			_, errs[i] = nodes[i%2].Verify(context.Background(), req)
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		wantReason(t, "racing replay", err, verify.ErrReplayed, "replayed")
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent uses of one assertion on two nodes succeeded, want 1", ok, n)
	}
}

func TestNodeFailsClosedWhenRedisIsDown(t *testing.T) {
	srv := redistest.Start(t)
	v := newNode(t, srv)
	srv.Stop()
	_, err := v.Verify(context.Background(), mint())
	wantReason(t, "Redis down", err, verify.ErrReplayUnavailable, "replay_unavailable")
	if verr := err.(*verify.Error); !verr.Infrastructure() || verr.Code != verify.CodeServerError {
		t.Fatalf("Redis down: Infrastructure() = %v, Code = %q; want true, %q", verr.Infrastructure(), verr.Code, verify.CodeServerError)
	}
}
