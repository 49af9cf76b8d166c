package edgetest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/jwksfetch"
)

// Algorithms is the verifier's default list of algs, in its order (Ed25519
// is EdDSA with Ed25519 keys under its RFC 9864 name). A test that expects
// it states the product's behaviour, not the verifier's current list.
var Algorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"}

// AnyAlgKeys are the testkeys names of the keys of a client that can sign
// with every alg of Algorithms; each key's kid is its name.
var AnyAlgKeys = []string{testkeys.RSA2048, testkeys.P256, testkeys.P384, testkeys.P521, testkeys.Ed25519}

// KeyFor returns the name (and kid) of the key of AnyAlgKeys that signs
// with alg.
func KeyFor(alg string) string {
	switch alg {
	case "ES256":
		return testkeys.P256
	case "ES384":
		return testkeys.P384
	case "ES512":
		return testkeys.P521
	case "EdDSA", "Ed25519":
		return testkeys.Ed25519
	}
	return testkeys.RSA2048
}

// rfc6749Codes are the error codes of RFC 6749 §5.2, and server_error.
var rfc6749Codes = map[string]bool{
	"invalid_request": true, "invalid_client": true, "invalid_grant": true, "unauthorized_client": true,
	"unsupported_grant_type": true, "invalid_scope": true, "server_error": true,
}

// CheckRefusal reports, on t, a response that is not an RFC 6749 §5.2
// refusal: a status below 400, an error code outside §5.2 (and
// server_error), or no Cache-Control: no-store and Pragma: no-cache. It
// reads and closes the body and returns it decoded.
func CheckRefusal(t testing.TB, resp *http.Response) map[string]any {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	json.Unmarshal(b, &body)
	code, _ := body["error"].(string)
	if resp.StatusCode < 400 || !rfc6749Codes[code] {
		t.Errorf("%d %s: not an RFC 6749 §5.2 refusal", resp.StatusCode, b)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Pragma") != "no-cache" {
		t.Errorf("Cache-Control %q, Pragma %q", resp.Header.Get("Cache-Control"), resp.Header.Get("Pragma"))
	}
	return body
}

// Records is a slog.Handler that keeps every record it is given, at every
// level. It is safe for concurrent use.
type Records struct {
	mu  sync.Mutex
	got []slog.Record
}

// Enabled implements slog.Handler.
func (h *Records) Enabled(context.Context, slog.Level) bool { return true }

// Handle implements slog.Handler.
func (h *Records) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = append(h.got, r.Clone())
	return nil
}

// WithAttrs implements slog.Handler; the attributes are dropped.
func (h *Records) WithAttrs([]slog.Attr) slog.Handler { return h }

// WithGroup implements slog.Handler; the group is dropped.
func (h *Records) WithGroup(string) slog.Handler { return h }

// Take returns the records kept since the last Take and forgets them.
func (h *Records) Take() []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	got := h.got
	h.got = nil
	return got
}

// Attrs returns r's attributes as strings, by key.
func Attrs(r slog.Record) map[string]string {
	m := map[string]string{}
	r.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.String()
		return true
	})
	return m
}

// JWKS is a jwks_uri endpoint on httptest serving one Ed25519 key (kid
// "ed1", alg EdDSA) that counts its fetches, with a jwksfetch.Registry
// allowed to reach it on loopback. Both close when the test ends.
type JWKS struct {
	// URL is the endpoint's jwks_uri.
	URL string
	// Registry is a Registry that may fetch from loopback over http.
	Registry *jwksfetch.Registry

	fetches atomic.Int32
}

// NewJWKS starts a JWKS for t.
func NewJWKS(t testing.TB) *JWKS {
	t.Helper()
	j := &JWKS{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		j.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(testkeys.JWKS(testkeys.JWK(testkeys.Public(testkeys.Ed25519), "ed1", "EdDSA", "sig")))
	}))
	t.Cleanup(srv.Close)
	reg, err := jwksfetch.NewRegistry(jwksfetch.RegistryConfig{Remote: jwksfetch.RemoteConfig{InsecureAllowLoopbackAndHTTP: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	j.URL, j.Registry = srv.URL, reg
	return j
}

// Fetches returns how many times the document was fetched.
func (j *JWKS) Fetches() int { return int(j.fetches.Load()) }
