package jwksfetch

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/verify"
)

func TestNewRemoteConfig(t *testing.T) {
	for _, cfg := range []RemoteConfig{
		{Timeout: -1},
		{MaxResponseBytes: -1},
		{MaxStaleness: -1},
	} {
		if _, err := NewRemote("https://client.example/jwks", cfg); err == nil {
			t.Errorf("NewRemote(%+v) succeeded", cfg)
		}
	}
	if _, err := NewRemote("https://user@client.example/jwks", RemoteConfig{}); err == nil {
		t.Error("NewRemote with user information succeeded")
	}
	c, err := RemoteConfig{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.Timeout != 5*time.Second || c.MaxResponseBytes != 512<<10 || c.RefreshInterval != 5*time.Minute ||
		c.MinRefreshInterval != 30*time.Second || c.MaxStaleness != 24*time.Hour || c.MaxWait != 2*time.Second ||
		c.Logger == nil || c.Now == nil {
		t.Errorf("defaults: %+v", c)
	}
}

func TestRemoteFirstUse(t *testing.T) {
	srv := newJWKSServer(t, jwks(pubJWK(testkeys.P256, "k1")))
	r := newTestRemote(t, srv.URL, testConfig(newClock()))
	k, err := r.Key(bg, "k1", "ES256")
	if err != nil || k.ID != "k1" {
		t.Fatalf("Key = %+v, %v", k, err)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
}

// TestRemoteRotation: a client publishes a new key and uses it at once.
func TestRemoteRotation(t *testing.T) {
	clk := newClock()
	srv := newJWKSServer(t, jwks(pubJWK(testkeys.P256, "k1")))
	r := newTestRemote(t, srv.URL, testConfig(clk))
	if _, err := r.Key(bg, "k1", "ES256"); err != nil {
		t.Fatal(err)
	}

	srv.set(jwks(pubJWK(testkeys.P256, "k1"), pubJWK(testkeys.Ed25519, "k2")))
	if k, err := r.Key(bg, "k2", "EdDSA"); err != nil || k.ID != "k2" {
		t.Fatalf("new kid on its first request: %+v, %v", k, err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}

	// A second rotation within MinRefreshInterval waits for the limit.
	srv.set(jwks(pubJWK(testkeys.Ed25519, "k2"), pubJWK(testkeys.P384, "k3")))
	if _, err := r.Key(bg, "k3", "ES384"); !errors.Is(err, verify.ErrKeyNotFound) {
		t.Fatalf("within the rate limit: %v, want ErrKeyNotFound", err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Errorf("%d fetches within the rate limit, want 2", n)
	}
	clk.Advance(DefaultMinRefreshInterval)
	if _, err := r.Key(bg, "k3", "ES384"); err != nil {
		t.Fatalf("after the rate limit: %v", err)
	}
	// k1 left the set with that fetch.
	if _, err := r.Key(bg, "k1", "ES256"); !errors.Is(err, verify.ErrKeyNotFound) {
		t.Fatalf("removed key: %v, want ErrKeyNotFound", err)
	}
}

// TestRemoteRevocation: a key removed upstream stops verifying after the
// next background refresh, although nobody asks for an unknown kid.
func TestRemoteRevocation(t *testing.T) {
	srv := newJWKSServer(t, jwks(pubJWK(testkeys.P256, "k1"), pubJWK(testkeys.Ed25519, "k2")))
	cfg := testConfig(newClock())
	cfg.RefreshInterval = 20 * time.Millisecond
	r := newTestRemote(t, srv.URL, cfg)
	if _, err := r.Key(bg, "k1", "ES256"); err != nil {
		t.Fatal(err)
	}
	srv.set(jwks(pubJWK(testkeys.Ed25519, "k2")))
	eventually(t, "revoked key still verifies", func() bool {
		_, err := r.Key(bg, "k1", "ES256")
		return errors.Is(err, verify.ErrKeyNotFound)
	})
	if _, err := r.Key(bg, "k2", "EdDSA"); err != nil {
		t.Errorf("remaining key: %v", err)
	}
}

// TestRemoteOutage: the endpoint fails after keys were fetched. The keys
// keep verifying, the failures are logged, and past MaxStaleness the
// source fails closed, until the endpoint recovers.
func TestRemoteOutage(t *testing.T) {
	clk := newClock()
	srv := newJWKSServer(t, jwks(pubJWK(testkeys.P256, "k1")))
	var logs logBuffer
	var fetches, failures atomic.Int64
	cfg := testConfig(clk)
	cfg.RefreshInterval = 30 * time.Millisecond
	cfg.MinRefreshInterval = 10 * time.Millisecond // the first retry after a failure
	cfg.Logger = logs.logger()
	cfg.OnFetch = func(uri string, err error) {
		fetches.Add(1)
		if err != nil {
			failures.Add(1)
		}
	}
	r := newTestRemote(t, srv.URL, cfg)
	if _, err := r.Key(bg, "k1", "ES256"); err != nil {
		t.Fatal(err)
	}

	srv.setStatus(http.StatusServiceUnavailable)
	eventually(t, "background retries after a failure", func() bool { return failures.Load() >= 2 })
	clk.Advance(23 * time.Hour)
	if _, err := r.Key(bg, "k1", "ES256"); err != nil {
		t.Fatalf("during the outage, within MaxStaleness: %v", err)
	}
	if s := logs.String(); !containsAll(s, "level=WARN", "fetch failed, serving cached keys", "status 503", srv.URL) {
		t.Errorf("log:\n%s", s)
	}

	clk.Advance(time.Hour + time.Second)
	_, err := r.Key(bg, "k1", "ES256")
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, verify.ErrKeyNotFound) || !strings.Contains(err.Error(), "status 503") {
		t.Fatalf("past MaxStaleness: %v, want ErrUnavailable with the cause", err)
	}
	eventually(t, "error logged past MaxStaleness", func() bool {
		return strings.Contains(logs.String(), "level=ERROR msg=\"jwksfetch: fetch failed, cached keys too old to use\"")
	})

	srv.setStatus(http.StatusOK)
	clk.Advance(time.Minute) // past the rate limit
	eventually(t, "recovery", func() bool {
		_, err := r.Key(bg, "k1", "ES256")
		return err == nil
	})
	if s := logs.String(); !strings.Contains(s, "fetch succeeded again") {
		t.Errorf("log:\n%s", s)
	}
}

// TestRemoteNoKeysYet: an endpoint down from the start gives a server
// error, fetched again at most once per MinRefreshInterval.
func TestRemoteNoKeysYet(t *testing.T) {
	clk := newClock()
	srv := newJWKSServer(t, jwks(pubJWK(testkeys.P256, "k1")))
	srv.setStatus(http.StatusInternalServerError)
	r := newTestRemote(t, srv.URL, testConfig(clk))
	for i := range 5 {
		_, err := r.Key(bg, "k1", "ES256")
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "status 500") {
			t.Fatalf("Key #%d = %v, want ErrUnavailable with the cause", i, err)
		}
		waitIdle(t, r)
	}
	// The initial fetch, and one caused by a caller.
	if n := srv.hits.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
	srv.setStatus(http.StatusOK)
	clk.Advance(DefaultMinRefreshInterval)
	if _, err := r.Key(bg, "k1", "ES256"); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

// TestRemoteUnknownKIDs: 100 concurrent requests with unknown kids cause
// one fetch; the next 100 none.
func TestRemoteUnknownKIDs(t *testing.T) {
	clk := newClock()
	srv := newJWKSServer(t, jwks(pubJWK(testkeys.P256, "k1")))
	r := newTestRemote(t, srv.URL, testConfig(clk))
	if _, err := r.Key(bg, "k1", "ES256"); err != nil {
		t.Fatal(err)
	}
	release := srv.setBlock()
	defer release()

	attack := func() {
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Go(func() {
				_, err := r.Key(bg, "attacker-"+strconv.Itoa(i), "ES256")
				if !errors.Is(err, verify.ErrKeyNotFound) {
					t.Errorf("unknown kid: %v, want ErrKeyNotFound", err)
				}
			})
		}
		time.Sleep(50 * time.Millisecond) // let them pile up on the blocked fetch
		release()
		wg.Wait()
	}
	attack()
	if n := srv.hits.Load(); n != 2 {
		t.Errorf("%d fetches after 100 unknown kids, want 2 (initial + 1)", n)
	}
	release = srv.setBlock()
	attack()
	if n := srv.hits.Load(); n != 2 {
		t.Errorf("%d fetches after 200 unknown kids, want 2", n)
	}
	// The known kid was never affected.
	if _, err := r.Key(bg, "k1", "ES256"); err != nil {
		t.Fatal(err)
	}
}

// TestRemoteFirstUseConcurrent: many first requests share the initial
// fetch.
func TestRemoteFirstUseConcurrent(t *testing.T) {
	srv := newJWKSServer(t, jwks(pubJWK(testkeys.P256, "k1")))
	release := srv.setBlock()
	r := newTestRemote(t, srv.URL, testConfig(newClock()))
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if _, err := r.Key(bg, "k1", "ES256"); err != nil {
				t.Errorf("Key: %v", err)
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	release()
	wg.Wait()
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
}

// TestRemoteSlowEndpoint: a hanging endpoint delays its callers only up to
// their ctx or MaxWait, and nobody else.
func TestRemoteSlowEndpoint(t *testing.T) {
	slow := newJWKSServer(t, jwks(pubJWK(testkeys.P256, "k1")))
	release := slow.setBlock()
	defer release()
	fast := newJWKSServer(t, jwks(pubJWK(testkeys.P256, "k1")))

	cfg := testConfig(newClock())
	cfg.MaxWait = 500 * time.Millisecond
	rSlow := newTestRemote(t, slow.URL, cfg)
	rFast := newTestRemote(t, fast.URL, cfg)

	t.Run("caller ctx", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := rSlow.Key(ctx, "k1", "ES256")
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Key = %v, want ErrUnavailable and DeadlineExceeded", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Key took %v", d)
		}
	})
	t.Run("MaxWait", func(t *testing.T) {
		start := time.Now()
		_, err := rSlow.Key(bg, "k1", "ES256")
		if !errors.Is(err, ErrUnavailable) || errors.Is(err, verify.ErrKeyNotFound) {
			t.Errorf("Key = %v, want ErrUnavailable", err)
		}
		if d := time.Since(start); d < 400*time.Millisecond || d > 3*time.Second {
			t.Errorf("Key took %v, want about MaxWait", d)
		}
	})
	t.Run("other clients", func(t *testing.T) {
		start := time.Now()
		if _, err := rFast.Key(bg, "k1", "ES256"); err != nil {
			t.Error(err)
		}
		if d := time.Since(start); d > 400*time.Millisecond {
			t.Errorf("Key took %v, not independent of the slow endpoint", d)
		}
	})
	t.Run("cached keys during a slow refresh", func(t *testing.T) {
		release()
		waitIdle(t, rSlow)
		if _, err := rSlow.Key(bg, "k1", "ES256"); err != nil {
			t.Fatal(err)
		}
		defer slow.setBlock()()
		rSlow.mu.Lock()
		rSlow.lastForced = time.Time{} // allow the next forced fetch
		rSlow.mu.Unlock()
		start := time.Now()
		if _, err := rSlow.Key(bg, "unknown", "ES256"); !errors.Is(err, verify.ErrKeyNotFound) {
			t.Errorf("unknown kid: %v", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("unknown kid took %v, want about MaxWait", d)
		}
		// While that fetch hangs, the known kid is served at once.
		start = time.Now()
		if _, err := rSlow.Key(bg, "k1", "ES256"); err != nil {
			t.Error(err)
		}
		if d := time.Since(start); d > 400*time.Millisecond {
			t.Errorf("known kid took %v, want no wait", d)
		}
	})
}

func TestRemoteMaxWaitNegative(t *testing.T) {
	srv := newJWKSServer(t, jwks(pubJWK(testkeys.P256, "k1")))
	release := srv.setBlock()
	defer release()
	cfg := testConfig(newClock())
	cfg.MaxWait = -1
	r := newTestRemote(t, srv.URL, cfg)
	start := time.Now()
	if _, err := r.Key(bg, "k1", "ES256"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Key = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Key waited %v", d)
	}
	release()
	waitIdle(t, r)
	if _, err := r.Key(bg, "k1", "ES256"); err != nil {
		t.Error(err)
	}
}

func TestRemoteContextCancelled(t *testing.T) {
	srv := newJWKSServer(t, jwks(pubJWK(testkeys.P256, "k1")))
	release := srv.setBlock()
	defer release()
	r := newTestRemote(t, srv.URL, testConfig(newClock()))
	ctx, cancel := context.WithCancel(bg)
	go func() {
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	if _, err := r.Key(ctx, "k1", "ES256"); !errors.Is(err, context.Canceled) || !errors.Is(err, ErrUnavailable) {
		t.Errorf("Key = %v, want ErrUnavailable and Canceled", err)
	}
	// The fetch goes on for the next caller.
	release()
	if _, err := r.Key(bg, "k1", "ES256"); err != nil {
		t.Error(err)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
}

func TestRemoteKeyIDRequired(t *testing.T) {
	srv := newJWKSServer(t, jwks(pubJWK(testkeys.P256, ""), pubJWK(testkeys.P256Alt, "")))
	r := newTestRemote(t, srv.URL, testConfig(newClock()))
	if _, err := r.Key(bg, "", "ES256"); !errors.Is(err, verify.ErrKeyIDRequired) {
		t.Errorf("Key = %v, want ErrKeyIDRequired", err)
	}
	if _, err := r.Key(bg, "", "EdDSA"); !errors.Is(err, verify.ErrKeyNotFound) {
		t.Errorf("Key = %v, want ErrKeyNotFound", err)
	}
	// ErrKeyIDRequired causes no fetch; the EdDSA miss one.
	if n := srv.hits.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
}

// TestRemoteSkipsBadKeys: a remote set with unusable keys keeps its good
// ones; the bad ones are logged once by kid and reason, without material.
func TestRemoteSkipsBadKeys(t *testing.T) {
	leaked := testkeys.PrivateJWK(testkeys.RSA2048Alt, "leaked", "RS256")
	doc := jwks(
		pubJWK(testkeys.P256, "good"),
		leaked,
		map[string]any{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"},
		with(pubJWK(testkeys.RSA2048, "enc"), "use", "enc"),
		pubJWK(testkeys.RSA1024, "weak"),
		pubJWK(testkeys.Ed25519, "good"),
	)
	srv := newJWKSServer(t, doc)
	var logs logBuffer
	cfg := testConfig(newClock())
	cfg.Logger = logs.logger()
	cfg.MinRefreshInterval = -1
	r := newTestRemote(t, srv.URL, cfg)
	if _, err := r.Key(bg, "good", "ES256"); err != nil {
		t.Fatal(err)
	}
	for _, kid := range []string{"leaked", "hmac", "enc", "weak"} {
		for _, alg := range []string{"RS256", "HS256", "ES256"} {
			if _, err := r.Key(bg, kid, alg); !errors.Is(err, verify.ErrKeyNotFound) {
				t.Errorf("Key(%q, %q) = %v, want ErrKeyNotFound", kid, alg, err)
			}
		}
	}
	// The duplicate "good" (Ed25519) is not used.
	if _, err := r.Key(bg, "good", "EdDSA"); !errors.Is(err, verify.ErrKeyNotFound) {
		t.Errorf("duplicate kid: %v", err)
	}
	waitIdle(t, r)
	s := logs.String()
	for _, want := range []string{`kid=leaked reason="private key material`, `kid=hmac reason="symmetric key`, `kid=enc reason="unusable key: use`, `kid=weak reason="unusable key: RSA key of 1024 bits`, `kid=good reason="duplicate kid"`} {
		if !strings.Contains(s, want) {
			t.Errorf("log lacks %q:\n%s", want, s)
		}
	}
	if n := strings.Count(s, "level=WARN msg=\"jwksfetch: key skipped\""); n != 5 {
		t.Errorf("%d warnings for 5 bad keys over several fetches, want 5 (later ones at debug level):\n%s", n, s)
	}
	for _, secret := range []string{leaked["d"].(string)[:12], leaked["p"].(string)[:12], "c2VjcmV0"} {
		if strings.Contains(s, secret) {
			t.Errorf("log contains key material %q", secret)
		}
	}
}

// TestRemoteClose: Close stops every goroutine, aborts a hanging fetch, is
// idempotent, and leaves the cached keys readable.
func TestRemoteClose(t *testing.T) {
	srv := newJWKSServer(t, jwks(pubJWK(testkeys.P256, "k1")))
	before := runtime.NumGoroutine()

	cfg := testConfig(newClock())
	cfg.RefreshInterval = 10 * time.Millisecond
	r, err := NewRemote(srv.URL, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Key(bg, "k1", "ES256"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "background refresh", func() bool { return srv.hits.Load() >= 3 })

	release := srv.setBlock()
	defer release()
	r.mu.Lock()
	r.lastForced = time.Time{}
	r.mu.Unlock()
	go r.Key(bg, "unknown", "ES256") // a fetch that hangs
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	hits := srv.hits.Load()
	if _, err := r.Key(bg, "k1", "ES256"); err != nil {
		t.Errorf("cached key after Close: %v", err)
	}
	if _, err := r.Key(bg, "k2", "ES256"); !errors.Is(err, verify.ErrKeyNotFound) {
		t.Errorf("unknown kid after Close: %v", err)
	}
	time.Sleep(30 * time.Millisecond)
	if n := srv.hits.Load(); n != hits {
		t.Errorf("%d fetches after Close", n-hits)
	}
	release()
	checkGoroutines(t, before)
}

func TestRemoteClosedBeforeFirstFetch(t *testing.T) {
	srv := newJWKSServer(t, jwks(pubJWK(testkeys.P256, "k1")))
	release := srv.setBlock()
	defer release()
	r := newTestRemote(t, srv.URL, testConfig(newClock()))
	r.Close()
	if _, err := r.Key(bg, "k1", "ES256"); !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrClosed) {
		t.Errorf("Key = %v, want ErrUnavailable and ErrClosed", err)
	}
}

// TestRemoteNext checks that the refresh delay stays within ±10 %
// and backs off from MinRefreshInterval after failures.
func TestRemoteNext(t *testing.T) {
	r := &Remote{cfg: RemoteConfig{RefreshInterval: 100 * time.Second, MinRefreshInterval: 10 * time.Second}}
	for _, tt := range []struct {
		st       keyState
		min, max time.Duration
	}{
		{keyState{}, 90 * time.Second, 110 * time.Second},
		{keyState{err: errors.New("x"), failures: 1}, 9 * time.Second, 11 * time.Second},
		{keyState{err: errors.New("x"), failures: 3}, 36 * time.Second, 44 * time.Second},
		{keyState{err: errors.New("x"), failures: 10}, 90 * time.Second, 110 * time.Second},
		{keyState{err: errors.New("x"), failures: 100}, 90 * time.Second, 110 * time.Second},
	} {
		for range 100 {
			if d := r.next(&tt.st); d < tt.min || d > tt.max {
				t.Fatalf("next(%+v) = %v, want %v..%v", tt.st, d, tt.min, tt.max)
			}
		}
	}
}
