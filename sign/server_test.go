package sign_test

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/middleware"
	"github.com/pkjwt/pkjwt/verify"
)

// tokenServer is an authorization server on loopback whose token endpoint
// authenticates clients with pkjwt's middleware and verifier, and issues
// opaque tokens for the client_credentials, authorization_code (code
// "good-code") and refresh_token grants.
type tokenServer struct {
	*httptest.Server
	issuer   string
	tokenURL string

	mu        sync.Mutex
	expiresIn int           // of issued tokens; 0: 3600
	delay     time.Duration // before answering
	refresh   bool          // issue refresh tokens
	forms     []url.Values  // of authenticated requests
	headers   []http.Header // of every request
	refreshes map[string]bool
}

// newTokenServer starts a tokenServer for the client clientID with keys.
func newTokenServer(t testing.TB, clientID string, keys ...verify.Key) *tokenServer {
	t.Helper()
	ts := &tokenServer{refreshes: map[string]bool{}}
	mux := http.NewServeMux()
	ts.Server = httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	ts.issuer, ts.tokenURL = ts.URL, ts.URL+"/token"
	v := newVerifier(t, ts.issuer, clientID, verify.Config{}, keys...)
	auth, err := middleware.New(v, middleware.Config{})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/.well-known/oauth-authorization-server", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(struct {
			Issuer        string `json:"issuer"`
			TokenEndpoint string `json:"token_endpoint"`
			middleware.Metadata
		}{ts.issuer, ts.tokenURL, middleware.NewMetadata(v)})
	}))
	count := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.mu.Lock()
		ts.headers = append(ts.headers, r.Header.Clone())
		ts.mu.Unlock()
		auth(http.HandlerFunc(ts.issue)).ServeHTTP(w, r)
	})
	mux.Handle("/token", count)
	return ts
}

func (ts *tokenServer) issue(w http.ResponseWriter, r *http.Request) {
	ts.mu.Lock()
	ts.forms = append(ts.forms, r.PostForm)
	delay, expiresIn, refresh := ts.delay, ts.expiresIn, ts.refresh
	ts.mu.Unlock()
	time.Sleep(delay)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	grantErr := func(code string) {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": code})
	}
	switch r.PostForm.Get("grant_type") {
	case "client_credentials":
	case "authorization_code":
		if r.PostForm.Get("code") != "good-code" {
			grantErr("invalid_grant")
			return
		}
	case "refresh_token":
		ts.mu.Lock()
		ok := ts.refreshes[r.PostForm.Get("refresh_token")]
		ts.mu.Unlock()
		if !ok {
			grantErr("invalid_grant")
			return
		}
	default:
		grantErr("unsupported_grant_type")
		return
	}
	if expiresIn == 0 {
		expiresIn = 3600
	}
	resp := map[string]any{"access_token": rand.Text(), "token_type": "Bearer", "expires_in": expiresIn}
	if refresh {
		rt := rand.Text()
		ts.mu.Lock()
		ts.refreshes[rt] = true
		ts.mu.Unlock()
		resp["refresh_token"] = rt
	}
	json.NewEncoder(w).Encode(resp)
}

// requests returns the number of token requests so far.
func (ts *tokenServer) requests() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.headers)
}

// lastForm returns the form of the last authenticated request.
func (ts *tokenServer) lastForm() url.Values {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.forms[len(ts.forms)-1]
}

// set changes the server's behaviour.
func (ts *tokenServer) set(f func()) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	f()
}
