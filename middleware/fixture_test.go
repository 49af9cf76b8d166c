package middleware_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/middleware"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

const issuer = "https://as.example.com"

// clients registers c1 (P-256 key k1) and c2 (RSA 2048 key r1).
func clients(t testing.TB) verify.ClientMap {
	t.Helper()
	p256, err := verify.NewKeySet(verify.Key{ID: "k1", Public: testkeys.Public(testkeys.P256)})
	if err != nil {
		t.Fatal(err)
	}
	rsa, err := verify.NewKeySet(verify.Key{ID: "r1", Public: testkeys.Public(testkeys.RSA2048)})
	if err != nil {
		t.Fatal(err)
	}
	return verify.ClientMap{
		"c1": {ID: "c1", Keys: p256},
		"c2": {ID: "c2", Keys: rsa},
	}
}

// newStore returns an in-memory replay store closed at the end of the test.
func newStore(t testing.TB) *replay.Memory {
	t.Helper()
	s, err := replay.NewMemory(replay.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newVerifier returns a verifier for issuer over cs (default: clients) and
// store (default: a fresh in-memory one).
func newVerifier(t testing.TB, cs verify.Clients, store replay.Store) *verify.Verifier {
	t.Helper()
	if cs == nil {
		cs = clients(t)
	}
	if store == nil {
		store = newStore(t)
	}
	v, err := verify.New(issuer, cs, store, verify.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// newMiddleware returns New(v, opts...) or fails the test.
func newMiddleware(t testing.TB, v *verify.Verifier, cfg middleware.Config) func(http.Handler) http.Handler {
	t.Helper()
	mw, err := middleware.New(v, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return mw
}

// mint returns a valid assertion of client c1 (key k1, ES256), after
// edit, if not nil, has changed its header and claims.
func mint(edit func(header, claims map[string]any)) string {
	header := map[string]any{"kid": "k1"}
	claims := testkeys.Claims("c1", issuer, time.Now())
	if edit != nil {
		edit(header, claims)
	}
	return testkeys.Sign("ES256", testkeys.Signer(testkeys.P256), header, claims)
}

// assertionForm returns a client_credentials token request authenticated
// with assertion.
func assertionForm(assertion string) url.Values {
	return url.Values{
		"grant_type":            {"client_credentials"},
		"scope":                 {"read write"},
		"client_assertion_type": {verify.AssertionType},
		"client_assertion":      {assertion},
	}
}

// post returns a form POST of body to target.
func post(target, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// seen records what the wrapped handler saw of a request.
type seen struct {
	called   bool
	result   *verify.Result
	ok       bool
	body     string
	postForm url.Values
	form     url.Values
	grant    string
	parseErr error
}

// recorder is a wrapped handler that records what it saw and answers 200
// "ok". It is safe for concurrent use.
type recorder struct {
	mu   sync.Mutex
	last seen
	n    int
}

func (h *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var s seen
	s.called = true
	s.result, s.ok = middleware.ResultFrom(r.Context())
	b, err := io.ReadAll(r.Body)
	if err != nil {
		panic(err)
	}
	s.body = string(b)
	s.parseErr = r.ParseForm()
	s.postForm, s.form = r.PostForm, r.Form
	s.grant = r.FormValue("grant_type")
	h.mu.Lock()
	h.last = s
	h.n++
	h.mu.Unlock()
	io.WriteString(w, "ok")
}

func (h *recorder) calls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// errorResponse is what a client sees of a failure.
type errorResponse struct {
	Status          int
	ContentType     string
	CacheControl    string
	Pragma          string
	Allow           string
	WWWAuthenticate string
	Error           string
	Description     string
}

// readError returns the failure response in w, failing the test if its
// body is not an RFC 6749 §5.2 JSON object.
func readError(t *testing.T, w *httptest.ResponseRecorder) errorResponse {
	t.Helper()
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("status %d, body not an error object: %v", w.Code, err)
	}
	h := w.Result().Header
	return errorResponse{
		Status:          w.Code,
		ContentType:     h.Get("Content-Type"),
		CacheControl:    h.Get("Cache-Control"),
		Pragma:          h.Get("Pragma"),
		Allow:           h.Get("Allow"),
		WWWAuthenticate: h.Get("WWW-Authenticate"),
		Error:           body.Error,
		Description:     body.Description,
	}
}

// failure returns the expected failure response with the headers every
// failure carries.
func failure(status int, code, description string) errorResponse {
	return errorResponse{
		Status:       status,
		ContentType:  "application/json",
		CacheControl: "no-store",
		Pragma:       "no-cache",
		Error:        code,
		Description:  description,
	}
}

// failingStore is a replay store that cannot answer.
type failingStore struct{}

func (failingStore) Claim(context.Context, string, time.Time) (time.Time, error) {
	return time.Time{}, errors.New("redis: dial tcp 10.1.2.3:6379: connection refused")
}

// failingClients is a client registry that cannot answer.
type failingClients struct{}

func (failingClients) Client(context.Context, string) (*verify.Client, error) {
	return nil, errors.New("sql: database is closed")
}

// failingKeys is a key source that cannot answer.
type failingKeys struct{}

func (failingKeys) Key(context.Context, string, string) (verify.Key, error) {
	return verify.Key{}, errors.New("jwks: GET https://client.example/jwks: timeout")
}

func now() time.Time { return time.Now() }
