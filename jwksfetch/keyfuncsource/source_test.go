package keyfuncsource_test

import (
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/jwksfetch"
	"github.com/pkjwt/pkjwt/jwksfetch/keyfuncsource"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

var bg = context.Background()

// server serves a JWK Set that tests change, and counts requests.
type server struct {
	*httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	doc  []byte
}

func newServer(t *testing.T, doc []byte) *server {
	t.Helper()
	s := &server{doc: doc}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		doc := s.doc
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(doc)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) set(doc []byte) {
	s.mu.Lock()
	s.doc = doc
	s.mu.Unlock()
}

// newKeyfunc returns a real keyfunc for url, with keyfunc's defaults
// unless o overrides them, stopped when t ends. Refresh errors go to errs.
func newKeyfunc(t *testing.T, url string, o keyfunc.Override) (keyfunc.Keyfunc, *refreshErrors) {
	t.Helper()
	ctx, cancel := context.WithCancel(bg)
	t.Cleanup(cancel)
	errs := &refreshErrors{}
	o.RefreshErrorHandlerFunc = func(string) func(context.Context, error) { return errs.add }
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{url}, o)
	if err != nil {
		t.Fatal(err)
	}
	return kf, errs
}

type refreshErrors struct {
	mu   sync.Mutex
	errs []error
}

func (r *refreshErrors) add(_ context.Context, err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
}

func (r *refreshErrors) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.errs)
}

func newSource(t *testing.T, kf keyfunc.Keyfunc, cfg keyfuncsource.Config) *keyfuncsource.Source {
	t.Helper()
	s, err := keyfuncsource.New(kf, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func with(m map[string]any, kv ...any) map[string]any {
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// secretJWK is a symmetric key, as a client might wrongly publish one.
func secretJWK(kid string) map[string]any {
	return map[string]any{"kty": "oct", "kid": kid, "k": base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))}
}

// withoutStorage is a Keyfunc whose Storage is nil.
type withoutStorage struct{ inner }

type inner = keyfunc.Keyfunc // embedded under this name: keyfunc.Keyfunc has a method Keyfunc

func (withoutStorage) Storage() jwkset.Storage { return nil }

func TestNew(t *testing.T) {
	srv := newServer(t, testkeys.JWKS(testkeys.JWK(testkeys.Signer(testkeys.P256), "k1", "", "")))
	kf, _ := newKeyfunc(t, srv.URL, keyfunc.Override{})
	for name, tc := range map[string]struct {
		kf  keyfunc.Keyfunc
		cfg keyfuncsource.Config
	}{
		"nil Keyfunc":      {nil, keyfuncsource.Config{}},
		"no storage":       {withoutStorage{kf}, keyfuncsource.Config{}},
		"negative MaxWait": {kf, keyfuncsource.Config{MaxWait: -1}},
	} {
		if _, err := keyfuncsource.New(tc.kf, tc.cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

// TestKey: the keys a keyfunc holds, each asked for by kid, through the
// adapter. keyfunc's own Keyfunc hands every one of them out; the adapter
// refuses those jwksfetch's sources refuse, with the reason.
func TestKey(t *testing.T) {
	srv := newServer(t, testkeys.JWKS(
		testkeys.JWK(testkeys.Signer(testkeys.RSA2048), "rsa", "RS256", "sig"),
		testkeys.JWK(testkeys.Signer(testkeys.P256), "ec", "", ""),
		testkeys.JWK(testkeys.Signer(testkeys.Ed25519), "ed", "EdDSA", ""),
		with(testkeys.JWK(testkeys.Signer(testkeys.P256Alt), "ops-verify", "", ""), "key_ops", []string{"verify"}),
		testkeys.JWK(testkeys.Signer(testkeys.RSA1024), "rsa1024", "RS256", "sig"),
		secretJWK("secret"),
		testkeys.PrivateJWK(testkeys.P384, "private", "ES384"),
		testkeys.JWK(testkeys.Signer(testkeys.P384), "enc", "", "enc"),
		with(testkeys.JWK(testkeys.Signer(testkeys.P521), "ops-sign", "", ""), "key_ops", []string{"sign"}),
		with(testkeys.JWK(testkeys.Signer(testkeys.P521), "ops-none", "", ""), "key_ops", []string{}),
	))
	kf, _ := newKeyfunc(t, srv.URL, keyfunc.Override{})
	keys := newSource(t, kf, keyfuncsource.Config{})

	for _, tc := range []struct {
		kid, alg string
		want     string // testkeys name of the key returned, or ""
		wantErr  error  // besides verify.ErrKeyNotFound, if not nil
	}{
		{kid: "rsa", alg: "RS256", want: testkeys.RSA2048},
		{kid: "ec", alg: "ES256", want: testkeys.P256},
		{kid: "ed", alg: "EdDSA", want: testkeys.Ed25519},
		{kid: "ops-verify", alg: "ES256", want: testkeys.P256Alt},
		// Usable keys, but not for this alg.
		{kid: "rsa", alg: "PS256"}, // the JWK's alg is RS256
		{kid: "ec", alg: "RS256"},  // wrong key type
		{kid: "ec", alg: "ES384"},  // wrong curve
		{kid: "ed", alg: "ES256"},
		// Keys that verify nothing.
		{kid: "rsa1024", alg: "RS256", wantErr: jwksfetch.ErrUnusableKey},
		{kid: "secret", alg: "HS256", wantErr: jwksfetch.ErrSymmetricKey},
		{kid: "secret", alg: "RS256", wantErr: jwksfetch.ErrSymmetricKey},
		{kid: "private", alg: "ES384", wantErr: jwksfetch.ErrPrivateKey},
		{kid: "enc", alg: "ES384", wantErr: jwksfetch.ErrUnusableKey},
		{kid: "ops-sign", alg: "ES512", wantErr: jwksfetch.ErrUnusableKey},
		{kid: "ops-none", alg: "ES512", wantErr: jwksfetch.ErrUnusableKey},
		// Not in the set at all.
		{kid: "unknown", alg: "ES256"},
	} {
		k, err := keys.Key(bg, tc.kid, tc.alg)
		if tc.want != "" {
			if err != nil {
				t.Errorf("Key(%q, %q): %v", tc.kid, tc.alg, err)
			} else if !samePublic(k.Public, testkeys.Public(tc.want)) || k.ID != tc.kid {
				t.Errorf("Key(%q, %q) = kid %q, %T: not the key published", tc.kid, tc.alg, k.ID, k.Public)
			}
			continue
		}
		if !errors.Is(err, verify.ErrKeyNotFound) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
			t.Errorf("Key(%q, %q) = %v, want ErrKeyNotFound and %v", tc.kid, tc.alg, err, tc.wantErr)
		}
		if tc.wantErr != nil {
			// The refusal is the adapter's: keyfunc itself hands the key out.
			tok := &jwt.Token{Header: map[string]any{"kid": tc.kid, "alg": tc.alg}}
			if key, err := kf.KeyfuncCtx(bg)(tok); err != nil || key == nil {
				t.Errorf("keyfunc for %q: %v, %v; the test's premise is that keyfunc accepts it", tc.kid, key, err)
			}
		}
	}
}

func samePublic(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

// TestKeyWithoutKID: without kid, only a usable key that fits the alg
// counts, and it must be the only one.
func TestKeyWithoutKID(t *testing.T) {
	srv := newServer(t, testkeys.JWKS(
		testkeys.JWK(testkeys.Signer(testkeys.P256), "", "", ""),
		testkeys.PrivateJWK(testkeys.P256Alt, "leaked", ""),
		testkeys.JWK(testkeys.Signer(testkeys.RSA1024), "small", "", ""),
		testkeys.JWK(testkeys.Signer(testkeys.RSA2048), "rsa", "", ""),
		testkeys.JWK(testkeys.Signer(testkeys.RSA2048Alt), "rsa-pss", "PS256", ""),
	))
	kf, _ := newKeyfunc(t, srv.URL, keyfunc.Override{})
	keys := newSource(t, kf, keyfuncsource.Config{})

	for alg, want := range map[string]string{"ES256": testkeys.P256, "RS256": testkeys.RSA2048} {
		k, err := keys.Key(bg, "", alg)
		if err != nil || !samePublic(k.Public, testkeys.Public(want)) {
			t.Errorf("Key(\"\", %s) = %T, %v; want %s", alg, k.Public, err, want)
		}
	}
	// Both RSA 2048 keys fit PS256.
	if _, err := keys.Key(bg, "", "PS256"); !errors.Is(err, verify.ErrKeyIDRequired) {
		t.Errorf("Key(\"\", PS256) = %v, want ErrKeyIDRequired", err)
	}
	if _, err := keys.Key(bg, "", "ES384"); !errors.Is(err, verify.ErrKeyNotFound) {
		t.Errorf("Key(\"\", ES384) = %v, want ErrKeyNotFound", err)
	}
}

// TestVerifyLeakedPrivateKey: a client published its private key by
// mistake, so anyone can sign its assertions. keyfunc verifies them with
// the public half; through the adapter the verifier refuses them.
func TestVerifyLeakedPrivateKey(t *testing.T) {
	srv := newServer(t, testkeys.JWKS(testkeys.PrivateJWK(testkeys.P256, "k1", "ES256")))
	kf, _ := newKeyfunc(t, srv.URL, keyfunc.Override{})
	assertion := testkeys.Sign("ES256", testkeys.Signer(testkeys.P256), map[string]any{"kid": "k1"},
		testkeys.Claims("c1", "https://as.example.com", time.Now()))

	if _, err := jwt.Parse(assertion, kf.Keyfunc); err != nil {
		t.Fatalf("premise: keyfunc and golang-jwt accept the assertion: %v", err)
	}

	v := newVerifier(t, newSource(t, kf, keyfuncsource.Config{}))
	_, err := v.Verify(bg, verify.Request{AssertionType: verify.AssertionType, Assertion: assertion})
	if !errors.Is(err, verify.ErrKeyNotFound) || !errors.Is(err, jwksfetch.ErrPrivateKey) {
		t.Errorf("Verify = %v, want ErrKeyNotFound and ErrPrivateKey", err)
	}
}

func newVerifier(t *testing.T, keys verify.KeySource) *verify.Verifier {
	t.Helper()
	store, err := replay.NewMemory(replay.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	v, err := verify.New("https://as.example.com", verify.ClientMap{"c1": {ID: "c1", Keys: keys}}, store, verify.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestUnknownKID: a key the client adds verifies on its first use (keyfunc
// refreshes); further unknown kids within keyfunc's rate limit cause no
// request and fail as unknown.
func TestUnknownKID(t *testing.T) {
	k1 := testkeys.JWK(testkeys.Signer(testkeys.P256), "k1", "", "")
	srv := newServer(t, testkeys.JWKS(k1))
	kf, _ := newKeyfunc(t, srv.URL, keyfunc.Override{})
	keys := newSource(t, kf, keyfuncsource.Config{})
	if srv.hits.Load() != 1 {
		t.Fatalf("%d fetches at start, want 1", srv.hits.Load())
	}
	srv.set(testkeys.JWKS(k1, testkeys.JWK(testkeys.Signer(testkeys.Ed25519), "k2", "", "")))
	if _, err := keys.Key(bg, "k2", "EdDSA"); err != nil {
		t.Fatalf("new kid: %v", err)
	}
	if srv.hits.Load() != 2 {
		t.Errorf("%d fetches, want 2", srv.hits.Load())
	}
	for _, kid := range []string{"k3", "k4", "k5"} {
		if _, err := keys.Key(bg, kid, "ES256"); !errors.Is(err, verify.ErrKeyNotFound) {
			t.Errorf("Key(%q) = %v, want ErrKeyNotFound", kid, err)
		}
	}
	if srv.hits.Load() != 2 {
		t.Errorf("%d fetches after unknown kids, want 2 (keyfunc's rate limit)", srv.hits.Load())
	}
}

// TestMaxWait: keyfunc makes a caller with an unknown kid wait for its rate
// limiter (here 30 s away); the adapter does not let it, and a caller whose
// ctx has ended gets ErrUnavailable.
func TestMaxWait(t *testing.T) {
	srv := newServer(t, testkeys.JWKS(testkeys.JWK(testkeys.Signer(testkeys.P256), "k1", "", "")))
	kf, _ := newKeyfunc(t, srv.URL, keyfunc.Override{RefreshUnknownKID: rate.NewLimiter(rate.Every(30*time.Second), 1)})
	keys := newSource(t, kf, keyfuncsource.Config{MaxWait: 100 * time.Millisecond})
	if _, err := keys.Key(bg, "k2", "ES256"); !errors.Is(err, verify.ErrKeyNotFound) {
		t.Fatalf("first unknown kid: %v, want ErrKeyNotFound", err) // took the limiter's token
	}
	start := time.Now()
	_, err := keys.Key(bg, "k3", "ES256")
	// Not a timing measurement: keyfunc alone would block for ~30 s here.
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Key waited %v", d)
	}
	if !errors.Is(err, verify.ErrKeyNotFound) {
		t.Errorf("second unknown kid: %v, want ErrKeyNotFound", err)
	}

	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, err := keys.Key(ctx, "k4", "ES256"); !errors.Is(err, jwksfetch.ErrUnavailable) || !errors.Is(err, context.Canceled) || errors.Is(err, verify.ErrKeyNotFound) {
		t.Errorf("Key with ended ctx = %v, want ErrUnavailable and context.Canceled", err)
	}
	// A known kid needs no wait: it answers whatever ctx.
	if _, err := keys.Key(ctx, "k1", "ES256"); err != nil {
		t.Errorf("known kid with ended ctx: %v", err)
	}
}

// TestOutage: the client's server stops. A keyfunc that never got keys
// yields ErrUnavailable (a server error), not an unknown key. One that did
// keeps verifying with its last keys, with no staleness limit, and reports
// an unknown kid as unknown (keyfunc only logs the failed refresh).
func TestOutage(t *testing.T) {
	doc := testkeys.JWKS(testkeys.JWK(testkeys.Signer(testkeys.P256), "k1", "", ""))

	t.Run("down from the start", func(t *testing.T) {
		srv := newServer(t, doc)
		srv.Close()
		kf, errs := newKeyfunc(t, srv.URL, keyfunc.Override{})
		keys := newSource(t, kf, keyfuncsource.Config{})
		for _, kid := range []string{"k1", ""} {
			_, err := keys.Key(bg, kid, "ES256")
			if !errors.Is(err, jwksfetch.ErrUnavailable) || errors.Is(err, verify.ErrKeyNotFound) {
				t.Errorf("Key(%q) = %v, want ErrUnavailable only", kid, err)
			}
		}
		if errs.len() == 0 {
			t.Error("keyfunc reported no failed fetch")
		}
	})

	t.Run("down later", func(t *testing.T) {
		srv := newServer(t, doc)
		kf, errs := newKeyfunc(t, srv.URL, keyfunc.Override{})
		keys := newSource(t, kf, keyfuncsource.Config{})
		srv.Close()
		if _, err := keys.Key(bg, "k1", "ES256"); err != nil {
			t.Errorf("known kid while down: %v", err)
		}
		_, err := keys.Key(bg, "k2", "ES256")
		if !errors.Is(err, verify.ErrKeyNotFound) {
			t.Errorf("unknown kid while down = %v, want ErrKeyNotFound", err)
		}
		if errs.len() != 1 {
			t.Errorf("keyfunc reported %d failed fetches, want 1 (the refresh for k2)", errs.len())
		}
	})
}
