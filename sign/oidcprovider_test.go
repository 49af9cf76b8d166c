package sign_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/pkjwt/pkjwt/internal/oidcprovidertest"
	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/sign"
)

// TestOIDCProvider gets tokens from node oidc-provider, a third-party
// authorization server: discovery, the client_credentials grant through
// the cached TokenSource, an inline-JWKS client held to one alg, and a key
// ring served at the client's jwks_uri rotating to a new key.
func TestOIDCProvider(t *testing.T) {
	ctx := context.Background()
	// The ring needs the issuer, known once the provider runs, and the
	// provider needs the ring's jwks_uri: the handler is set later.
	var ringHandler lateHandler
	jwks := httptest.NewServer(&ringHandler)
	defer jwks.Close()

	key := testkeys.Signer(testkeys.RSA2048)
	kid, _ := sign.Thumbprint(key.Public())
	p := oidcprovidertest.Start(t,
		oidcprovidertest.Client{
			ID:         "ps-client",
			JWKS:       testkeys.JWKS(testkeys.JWK(key, kid, "", "sig")),
			SigningAlg: "PS256",
			Scope:      "read write",
		},
		oidcprovidertest.Client{ID: "ring-client", JWKSURI: jwks.URL},
	)

	md, err := sign.Discover(ctx, p.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	if md.TokenEndpoint != p.TokenURL {
		t.Errorf("discovered token endpoint %s, want %s", md.TokenEndpoint, p.TokenURL)
	}
	ps, err := sign.NewSigner("ps-client", key, md.Issuer, &sign.Config{Algorithm: "PS256"})
	if err != nil {
		t.Fatal(err)
	}
	if err := md.Supports(ps.Algorithm()); err != nil {
		t.Fatal(err)
	}
	cc, err := sign.NewClientCredentials(ps, md.TokenEndpoint, &sign.TokenConfig{Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	src := cc.TokenSource(ctx)
	tok, err := src.Token()
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.Extra("scope") != "read" {
		t.Errorf("token %+v scope %v", tok, tok.Extra("scope"))
	}
	if again, err := src.Token(); err != nil || again != tok {
		t.Errorf("cached token: %v", err)
	}
	// Fresh assertions: uncached requests in a row all succeed (the
	// provider refuses a jti it has seen).
	for range 3 {
		if _, err := cc.Token(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// RS256 from the PS256 client: refused, as *oauth2.RetrieveError.
	rs, err := sign.NewSigner("ps-client", key, md.Issuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	ccRS, _ := sign.NewClientCredentials(rs, md.TokenEndpoint, nil)
	var re *oauth2.RetrieveError
	if _, err := ccRS.Token(ctx); !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
		t.Errorf("RS256 for a PS256 client: %v", err)
	}

	// A key ring at the jwks_uri. oidc-provider caches a jwks_uri for at
	// least 60 s (longer if Cache-Control says so), and does not refetch on
	// an unknown kid while its copy is fresh: the case the publish lead is
	// for. A key published before the provider's fetch signs without a
	// failure; one published after it fails until the cache expires.
	ring, err := sign.NewKeyRing(ctx, "ring-client", p.Issuer, sign.NewMemoryStore(), &sign.KeyRingConfig{
		PublishLead: 300 * time.Millisecond,
		Generate:    keysFrom(testkeys.P256, testkeys.Ed25519, testkeys.P384),
	})
	if err != nil {
		t.Fatal(err)
	}
	ringHandler.set(ring)
	ringCC, err := sign.NewClientCredentials(ring, p.TokenURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	signsWith := func() string {
		s, err := ring.Signer(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s.KeyID()
	}
	first := signsWith()
	if _, err := ring.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ringCC.Token(ctx); err != nil { // the provider fetches both keys
		t.Fatalf("first key: %v", err)
	}
	time.Sleep(400 * time.Millisecond)
	if second := signsWith(); second == first {
		t.Fatal("the ring did not switch keys")
	}
	if _, err := ringCC.Token(ctx); err != nil {
		t.Errorf("second key, published before the provider's fetch: %v", err)
	}
	if _, err := ring.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	if _, err := ringCC.Token(ctx); !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
		t.Errorf("third key, published after the provider's fetch with a lead shorter than its cache: %v, want invalid_client", err)
	}
}

// lateHandler serves 503 until its handler is set.
type lateHandler struct {
	mu sync.Mutex
	h  http.Handler
}

func (l *lateHandler) set(h http.Handler) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.h = h
}

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	h := l.h
	l.mu.Unlock()
	if h == nil {
		http.Error(w, "not yet", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}
