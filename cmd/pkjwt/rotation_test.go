package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/pkjwt/pkjwt/sign"
)

// recordingRing is an AssertionSource that signs with a key ring and keeps
// the signer of every key it has signed with.
type recordingRing struct {
	ring *sign.KeyRing

	mu      sync.Mutex
	signers map[string]*sign.Signer
	order   []string // kids in the order first used
}

func (r *recordingRing) ClientID() string { return r.ring.ClientID() }

func (r *recordingRing) Assertion(ctx context.Context) (string, error) {
	s, err := r.ring.Signer(ctx)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	if _, ok := r.signers[s.KeyID()]; !ok {
		r.signers[s.KeyID()] = s
		r.order = append(r.order, s.KeyID())
	}
	r.mu.Unlock()
	return s.Assertion(ctx)
}

// TestRotationUnderLoad is the client side's promise, end to end against
// the built "pkjwt serve": the client's JWK Set is served by a key ring at
// a loopback jwks_uri that the server refreshes every second; the ring
// rotates every 3 s with a 2.5 s publish lead while the client gets tokens
// at about 50 requests/s, each with a fresh assertion and no token cache,
// for 60 s (12 s with -short). Not one request may fail. Then a key
// revoked from the ring stops verifying after the server's next refresh.
func TestRotationUnderLoad(t *testing.T) {
	duration := 60 * time.Second
	if testing.Short() {
		duration = 12 * time.Second
	}
	var ringHandler atomic.Pointer[sign.KeyRing]
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ring := ringHandler.Load()
		if ring == nil {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		ring.ServeHTTP(w, r)
	}))
	defer jwks.Close()
	// Until the ring exists, a placeholder key set lets serve start.
	p := startServe(t, map[string]any{
		"allow_insecure_jwks_uri": true,
		"jwks_refresh_seconds":    1,
		"clients":                 []any{map[string]any{"client_id": "rotating", "jwks_uri": jwks.URL}},
	})

	ctx := context.Background()
	var logs syncBuffer
	ring, err := sign.NewKeyRing(ctx, "rotating", p.issuer, sign.NewMemoryStore(), &sign.KeyRingConfig{
		PublishLead: 2500 * time.Millisecond,
		// Short assertions, so that replaced keys retire during the run.
		Signer: &sign.Config{Lifetime: 5 * time.Second},
		Leeway: time.Second,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ringHandler.Store(ring)
	src := &recordingRing{ring: ring, signers: map[string]*sign.Signer{}}
	cc, err := sign.NewClientCredentials(src, p.issuer+"/token", nil)
	if err != nil {
		t.Fatal(err)
	}
	// The server has fetched the first key once a token is issued.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := cc.Token(ctx); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("no token for the ring's first key: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	stop, err := ring.RotateEvery(3 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// Request i starts at start + i*20 ms (50/s), each in its own goroutine
	// so that a slow answer does not hold the next one back; a loaded
	// machine that falls behind catches up, so the count is always the
	// same. At most 50 in flight.
	const every = 20 * time.Millisecond
	n := int(duration / every)
	var (
		failures      atomic.Int64
		mu            sync.Mutex
		firstFailures []string
		wg            sync.WaitGroup
	)
	inFlight := make(chan struct{}, 50)
	start := time.Now()
	for i := range n {
		time.Sleep(time.Until(start.Add(time.Duration(i) * every)))
		inFlight <- struct{}{}
		wg.Go(func() {
			defer func() { <-inFlight }()
			if _, err := cc.Token(ctx); err != nil {
				failures.Add(1)
				mu.Lock()
				if len(firstFailures) < 5 {
					var re *oauth2.RetrieveError
					if errors.As(err, &re) {
						firstFailures = append(firstFailures, fmt.Sprintf("%s %s", re.ErrorCode, re.ErrorDescription))
					} else {
						firstFailures = append(firstFailures, err.Error())
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	stop()

	src.mu.Lock()
	keysUsed := len(src.signers)
	order := append([]string(nil), src.order...)
	src.mu.Unlock()
	rotations := strings.Count(logs.String(), "key activated") - 1 // the first key's activation is not a rotation
	elapsed := time.Since(start).Round(100 * time.Millisecond)
	t.Logf("%v: %d token requests, %d failed; %d rotations, %d keys signed", elapsed, n, failures.Load(), rotations, keysUsed)
	if failures.Load() != 0 {
		t.Errorf("%d of %d requests failed across %d rotations; first: %q", failures.Load(), n, rotations, firstFailures)
	}
	if wantRotations := int(duration/(3*time.Second)) - 2; rotations < wantRotations {
		t.Errorf("%d rotations in %v, want at least %d", rotations, duration, wantRotations)
	}

	// Revoke the previous key (still published): its assertions stop
	// verifying once the server has refreshed.
	var previous string
	for _, k := range ring.Keys(ctx) {
		if k.State == sign.StatePrevious {
			previous = k.ID
		}
	}
	if previous == "" {
		t.Fatalf("no previous key among %+v", ring.Keys(ctx))
	}
	src.mu.Lock()
	old := src.signers[previous]
	src.mu.Unlock()
	if old == nil {
		t.Fatalf("the previous key %s never signed (keys used: %v)", previous, order)
	}
	oldCC, err := sign.NewClientCredentials(old, p.issuer+"/token", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oldCC.Token(ctx); err != nil {
		t.Fatalf("the previous key before revocation: %v", err)
	}
	if err := ring.Revoke(ctx, previous); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	var re *oauth2.RetrieveError
	for {
		_, err := oldCC.Token(ctx)
		if errors.As(err, &re) && re.ErrorCode == "invalid_client" {
			break
		}
		if err != nil {
			t.Fatalf("the revoked key: %v, want invalid_client", err)
		}
		if time.Since(revoked) > 10*time.Second {
			t.Fatal("the revoked key still verifies 10 s after revocation with a 1 s refresh")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d := time.Since(revoked); d > 3*time.Second {
		t.Errorf("the revoked key was refused only after %v", d)
	}
	if _, err := cc.Token(ctx); err != nil {
		t.Errorf("the current key after the revocation: %v", err)
	}
}
