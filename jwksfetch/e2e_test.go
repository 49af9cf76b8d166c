package jwksfetch_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/jwksfetch"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

const issuer = "https://as.example.com"

// keyServer serves a JWK Set that the test changes, as a client's
// jwks_uri.
type keyServer struct {
	*httptest.Server
	mu     sync.Mutex
	doc    []byte
	status int
	hits   atomic.Int64
}

func newKeyServer(t *testing.T, doc []byte) *keyServer {
	s := &keyServer{doc: doc, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		w.WriteHeader(s.status)
		w.Write(s.doc)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *keyServer) set(status int, doc []byte) {
	s.mu.Lock()
	s.status, s.doc = status, doc
	s.mu.Unlock()
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestEndToEnd verifies assertions through the verifier with a remote key
// source served over HTTP, through a key's life: first use, replay, forgery,
// rotation, revocation and an outage of the client's server.
func TestEndToEnd(t *testing.T) {
	ctx := context.Background()
	// The replay store uses the real clock: start the test clock there.
	clk := &clock{t: time.Now()}
	srv := newKeyServer(t, testkeys.JWKS(testkeys.JWK(testkeys.Signer(testkeys.RSA2048), "k1", "RS256", "sig")))
	remote, err := jwksfetch.NewRemote(srv.URL, jwksfetch.RemoteConfig{
		InsecureAllowLoopbackAndHTTP: true,
		RefreshInterval:              -1,
		Now:                          clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { remote.Close() })
	store, err := replay.NewMemory(replay.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	v, err := verify.New(issuer, verify.ClientMap{"c1": {ID: "c1", Keys: remote}}, store, verify.Config{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}

	assertion := func(alg, key, kid string) string {
		h := map[string]any{"kid": kid}
		if kid == "" {
			h["kid"] = nil
		}
		return testkeys.Sign(alg, testkeys.Signer(key), h, testkeys.Claims("c1", issuer, clk.Now()))
	}
	check := func(name, a string, want error) {
		t.Helper()
		res, err := v.Verify(ctx, verify.Request{AssertionType: verify.AssertionType, Assertion: a})
		switch {
		case want == nil && err != nil:
			t.Errorf("%s: %v", name, err)
		case want == nil && res.ClientID != "c1":
			t.Errorf("%s: client %q", name, res.ClientID)
		case want != nil && !errors.Is(err, want):
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}

	a := assertion("RS256", testkeys.RSA2048, "k1")
	check("first use", a, nil)
	check("replay", a, verify.ErrReplayed)
	check("no kid, one key", assertion("RS256", testkeys.RSA2048, ""), nil)
	check("JWK alg pins RS256", assertion("PS256", testkeys.RSA2048, "k1"), verify.ErrKeyNotFound)
	check("another key under k1", assertion("RS256", testkeys.RSA2048Alt, "k1"), verify.ErrSignature)
	clk.Add(time.Minute) // past the rate limit of unknown-kid fetches
	check("unknown kid", assertion("RS256", testkeys.RSA2048Alt, "attacker"), verify.ErrKeyNotFound)
	check("key from the token header", testkeys.Sign("ES256", testkeys.Signer(testkeys.P256Alt),
		map[string]any{"kid": "attacker", "jwk": testkeys.JWK(testkeys.Signer(testkeys.P256Alt), "attacker", "", "")},
		testkeys.Claims("c1", issuer, clk.Now())), verify.ErrKeyNotFound)

	// Rotation: the client adds k2 and uses it at once.
	clk.Add(time.Minute)
	srv.set(http.StatusOK, testkeys.JWKS(
		testkeys.JWK(testkeys.Signer(testkeys.RSA2048), "k1", "RS256", "sig"),
		testkeys.JWK(testkeys.Signer(testkeys.P256), "k2", "ES256", "sig"),
		testkeys.PrivateJWK(testkeys.Ed25519, "oops", ""), // skipped, not fatal
	))
	check("rotated key, first request", assertion("ES256", testkeys.P256, "k2"), nil)
	check("old key still published", assertion("RS256", testkeys.RSA2048, "k1"), nil)
	check("private key in the set", assertion("EdDSA", testkeys.Ed25519, "oops"), verify.ErrKeyNotFound)
	check("no kid, two keys of different types", assertion("ES256", testkeys.P256, ""), nil)

	// Revocation: k1 leaves the set; the next fetch drops it.
	clk.Add(time.Minute)
	srv.set(http.StatusOK, testkeys.JWKS(testkeys.JWK(testkeys.Signer(testkeys.P256), "k2", "ES256", "sig")))
	check("unknown kid causes the fetch", assertion("ES256", testkeys.P256Alt, "k9"), verify.ErrKeyNotFound)
	check("revoked key", assertion("RS256", testkeys.RSA2048, "k1"), verify.ErrKeyNotFound)
	check("remaining key", assertion("ES256", testkeys.P256, "k2"), nil)

	// Outage: cached keys serve for MaxStaleness, then the verifier fails
	// closed with a server error.
	srv.set(http.StatusServiceUnavailable, []byte("down"))
	clk.Add(time.Minute)
	check("outage, unknown kid", assertion("ES256", testkeys.P256Alt, "k9"), verify.ErrKeyNotFound)
	clk.Add(23 * time.Hour)
	check("outage, cached key", assertion("ES256", testkeys.P256, "k2"), nil)
	clk.Add(time.Hour)
	_, err = v.Verify(ctx, verify.Request{AssertionType: verify.AssertionType, Assertion: assertion("ES256", testkeys.P256, "k2")})
	var ve *verify.Error
	if !errors.As(err, &ve) || !ve.Infrastructure() || !errors.Is(err, verify.ErrKeysUnavailable) || !errors.Is(err, jwksfetch.ErrUnavailable) {
		t.Errorf("past MaxStaleness: %v, want a server error wrapping ErrKeysUnavailable", err)
	}
	srv.set(http.StatusOK, testkeys.JWKS(testkeys.JWK(testkeys.Signer(testkeys.P256), "k2", "ES256", "sig")))
	clk.Add(time.Minute)
	check("recovered", assertion("ES256", testkeys.P256, "k2"), nil)
}

// TestEndToEndRegistry: clients sharing a jwks_uri through a Registry
// share one fetch, and a client's keys never verify another's assertions.
func TestEndToEndRegistry(t *testing.T) {
	ctx := context.Background()
	shared := newKeyServer(t, testkeys.JWKS(testkeys.JWK(testkeys.Signer(testkeys.P256), "k1", "", "")))
	own := newKeyServer(t, testkeys.JWKS(testkeys.JWK(testkeys.Signer(testkeys.Ed25519), "k1", "", "")))
	reg, err := jwksfetch.NewRegistry(jwksfetch.RegistryConfig{Remote: jwksfetch.RemoteConfig{InsecureAllowLoopbackAndHTTP: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	clients := verify.ClientMap{}
	for id, uri := range map[string]string{"a": shared.URL, "b": shared.URL, "c": own.URL} {
		src, err := reg.Source(uri)
		if err != nil {
			t.Fatal(err)
		}
		clients[id] = &verify.Client{ID: id, Keys: src}
	}
	store, err := replay.NewMemory(replay.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	v, err := verify.New(issuer, clients, store, verify.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range []struct {
		client, alg, key string
		want             error
	}{
		{"a", "ES256", testkeys.P256, nil},
		{"b", "ES256", testkeys.P256, nil},
		{"c", "EdDSA", testkeys.Ed25519, nil},
		{"c", "ES256", testkeys.P256, verify.ErrKeyNotFound}, // a's key, c's kid
		{"a", "EdDSA", testkeys.Ed25519, verify.ErrKeyNotFound},
	} {
		if i == 3 {
			if n := shared.hits.Load(); n != 1 {
				t.Errorf("shared jwks_uri fetched %d times, want 1", n)
			}
		}
		a := testkeys.Sign(tt.alg, testkeys.Signer(tt.key), map[string]any{"kid": "k1"}, testkeys.Claims(tt.client, issuer, time.Now()))
		_, err := v.Verify(ctx, verify.Request{AssertionType: verify.AssertionType, Assertion: a})
		if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("client %s with %s: %v, want %v", tt.client, tt.key, err, tt.want)
		}
	}
	if n := reg.Len(); n != 2 {
		t.Errorf("%d remotes, want 2", n)
	}
}
