package middleware_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/middleware"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

// Fixed descriptions, as a client sees them.
const (
	descMethod      = "the request method must be POST"
	descContentType = "the request body must be application/x-www-form-urlencoded"
	descTooLarge    = "the request body is too large"
	descMalformed   = "the request body is not a valid form"
	descQuery       = "client authentication parameters must be sent in the request body"
	descRepeated    = "client authentication parameter repeated"
	descMultiple    = "more than one client authentication method"
	descMissing     = "client_assertion or client_assertion_type missing"
	descNoCreds     = "no client authentication"
	descServer      = "the server could not authenticate the client; try again later"
)

func TestSuccess(t *testing.T) {
	v := newVerifier(t, nil, nil)
	next := &recorder{}
	h := newMiddleware(t, v, middleware.Config{})(next)

	form := assertionForm(mint(nil))
	form.Set("client_id", "c1")
	body := form.Encode()
	r := post("/token?grant_type=query&extra=1&client_id=c1", body)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)

	if w.Code != http.StatusOK || w.Body.String() != "ok" {
		t.Fatalf("got %d %q, want 200 ok", w.Code, w.Body)
	}
	if w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Pragma") != "no-cache" {
		t.Errorf("Cache-Control %q, Pragma %q on the handler's answer", w.Header().Get("Cache-Control"), w.Header().Get("Pragma"))
	}
	got := next.last
	if !got.ok || got.result.ClientID != "c1" || got.result.KeyID != "k1" || got.result.Algorithm != "ES256" {
		t.Errorf("ResultFrom = %+v, %v; want client c1, key k1, ES256", got.result, got.ok)
	}
	if got.body != body {
		t.Errorf("handler read body %q, want %q", got.body, body)
	}
	if got.parseErr != nil {
		t.Errorf("handler's ParseForm: %v", got.parseErr)
	}
	if diff := cmp.Diff(form, got.postForm); diff != "" {
		t.Errorf("PostForm (-want +got):\n%s", diff)
	}
	wantForm := url.Values{}
	for k, vs := range form {
		wantForm[k] = vs
	}
	wantForm["grant_type"] = []string{"client_credentials", "query"}
	wantForm["client_id"] = []string{"c1", "c1"}
	wantForm["extra"] = []string{"1"}
	if diff := cmp.Diff(wantForm, got.form); diff != "" {
		t.Errorf("Form (-want +got):\n%s", diff)
	}
	if got.grant != "client_credentials" {
		t.Errorf("FormValue(grant_type) = %q, want the body's", got.grant)
	}
}

// TestBodyRestored checks the request the wrapped handler gets in detail:
// Body, GetBody and ContentLength match the bytes sent, also for a body of
// unknown length, and the caller's request is not modified.
func TestBodyRestored(t *testing.T) {
	v := newVerifier(t, nil, nil)
	for _, chunked := range []bool{false, true} {
		var got *http.Request
		var gotBody []byte
		h := newMiddleware(t, v, middleware.Config{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = r
			gotBody, _ = io.ReadAll(r.Body)
		}))
		body := assertionForm(mint(nil)).Encode()
		r := post("/token", body)
		if chunked {
			r.Body = io.NopCloser(struct{ io.Reader }{strings.NewReader(body)})
			r.ContentLength = -1
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("chunked %v: status %d: %s", chunked, w.Code, w.Body)
		}
		if string(gotBody) != body || got.ContentLength != int64(len(body)) {
			t.Errorf("chunked %v: body %q, ContentLength %d; want %q, %d", chunked, gotBody, got.ContentLength, body, len(body))
		}
		rc, err := got.GetBody()
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := io.ReadAll(rc); string(again) != body {
			t.Errorf("chunked %v: GetBody read %q", chunked, again)
		}
		if r.PostForm != nil || r.Form != nil {
			t.Errorf("chunked %v: the caller's request was modified", chunked)
		}
	}
}

// TestParsedBefore: an outer handler that already parsed the form leaves
// PostForm as the only source of the parameters.
func TestParsedBefore(t *testing.T) {
	v := newVerifier(t, nil, nil)
	next := &recorder{}
	h := newMiddleware(t, v, middleware.Config{})(next)
	outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		h.ServeHTTP(w, r)
	})
	w := httptest.NewRecorder()
	outer.ServeHTTP(w, post("/token", assertionForm(mint(nil)).Encode()))
	if w.Code != http.StatusOK || !next.last.ok || next.last.grant != "client_credentials" {
		t.Fatalf("got %d %s, handler saw %+v", w.Code, w.Body, next.last)
	}
}

// TestQueryParseError: a malformed URL query is the wrapped handler's to
// see, as without the middleware.
func TestQueryParseError(t *testing.T) {
	v := newVerifier(t, nil, nil)
	next := &recorder{}
	h := newMiddleware(t, v, middleware.Config{})(next)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, post("/token?a=%zz", assertionForm(mint(nil)).Encode()))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if next.last.parseErr == nil {
		t.Error("handler's ParseForm returned nil for a malformed query")
	}
	if next.last.grant != "client_credentials" {
		t.Errorf("FormValue(grant_type) = %q", next.last.grant)
	}
}

func TestReject(t *testing.T) {
	v := newVerifier(t, nil, nil)
	type request struct {
		method, target, contentType, body string
		header                            http.Header
		chunked                           bool
	}
	form := func(f func(url.Values)) string {
		v := assertionForm(mint(nil))
		if f != nil {
			f(v)
		}
		return v.Encode()
	}
	const ct = "application/x-www-form-urlencoded"
	basic := http.Header{"Authorization": {"Basic YzE6c2VjcmV0"}}
	tests := []struct {
		name string
		cfg  middleware.Config
		req  request
		want errorResponse
	}{
		{"GET", middleware.Config{}, request{method: "GET", target: "/token"},
			withAllow(failure(405, "invalid_request", descMethod))},
		{"PUT with a valid form", middleware.Config{}, request{method: "PUT", contentType: ct, body: form(nil)},
			withAllow(failure(405, "invalid_request", descMethod))},
		{"no content type", middleware.Config{}, request{body: form(nil)},
			failure(400, "invalid_request", descContentType)},
		{"text/plain", middleware.Config{}, request{contentType: "text/plain", body: form(nil)},
			failure(400, "invalid_request", descContentType)},
		{"JSON", middleware.Config{}, request{contentType: "application/json", body: `{"client_assertion":"x"}`},
			failure(400, "invalid_request", descContentType)},
		{"multipart", middleware.Config{}, request{contentType: "multipart/form-data; boundary=x", body: form(nil)},
			failure(400, "invalid_request", descContentType)},
		{"malformed media type", middleware.Config{}, request{contentType: ct + "; =", body: form(nil)},
			failure(400, "invalid_request", descContentType)},
		{"two content types", middleware.Config{}, request{header: http.Header{"Content-Type": {ct, ct}}, body: form(nil)},
			failure(400, "invalid_request", descContentType)},
		{"body over the default cap", middleware.Config{}, request{contentType: ct, body: form(func(v url.Values) { v.Set("pad", strings.Repeat("x", 64<<10)) })},
			failure(413, "invalid_request", descTooLarge)},
		{"body over the cap", middleware.Config{MaxBodyBytes: 100}, request{contentType: ct, body: form(nil)},
			failure(413, "invalid_request", descTooLarge)},
		{"chunked body over the cap", middleware.Config{MaxBodyBytes: 100}, request{contentType: ct, body: form(nil), chunked: true},
			failure(413, "invalid_request", descTooLarge)},
		{"malformed form", middleware.Config{}, request{contentType: ct, body: form(nil) + "&a=%zz"},
			failure(400, "invalid_request", descMalformed)},
		{"semicolon in form", middleware.Config{}, request{contentType: ct, body: form(nil) + ";client_id=c2"},
			failure(400, "invalid_request", descMalformed)},
		{"repeated client_assertion", middleware.Config{}, request{contentType: ct, body: form(func(v url.Values) { v.Add("client_assertion", mint(nil)) })},
			failure(400, "invalid_request", descRepeated)},
		{"repeated client_assertion_type", middleware.Config{}, request{contentType: ct, body: form(func(v url.Values) { v.Add("client_assertion_type", verify.AssertionType) })},
			failure(400, "invalid_request", descRepeated)},
		{"repeated client_id", middleware.Config{}, request{contentType: ct, body: form(func(v url.Values) { v["client_id"] = []string{"c1", "c1"} })},
			failure(400, "invalid_request", descRepeated)},
		{"Authorization Basic and assertion", middleware.Config{}, request{contentType: ct, header: basic, body: form(nil)},
			failure(400, "invalid_request", descMultiple)},
		{"Authorization Bearer and assertion", middleware.Config{}, request{contentType: ct, header: http.Header{"Authorization": {"Bearer abc"}}, body: form(nil)},
			failure(400, "invalid_request", descMultiple)},
		{"empty Authorization and assertion", middleware.Config{}, request{contentType: ct, header: http.Header{"Authorization": {""}}, body: form(nil)},
			failure(400, "invalid_request", descMultiple)},
		{"client_secret and assertion", middleware.Config{}, request{contentType: ct, body: form(func(v url.Values) { v.Set("client_secret", "s") })},
			failure(400, "invalid_request", descMultiple)},
		{"no assertion", middleware.Config{}, request{contentType: ct, body: "grant_type=client_credentials"},
			failure(401, "invalid_client", descNoCreds)},
		{"empty body", middleware.Config{}, request{contentType: ct},
			failure(401, "invalid_client", descNoCreds)},
		{"Authorization Basic only", middleware.Config{}, request{contentType: ct, header: basic, body: "grant_type=client_credentials"},
			withChallenge(failure(401, "invalid_client", descNoCreds), `Basic realm="https://as.example.com"`)},
		{"Authorization basic (lower case) only", middleware.Config{}, request{contentType: ct, header: http.Header{"Authorization": {"basic YzE6c2VjcmV0"}}, body: "grant_type=client_credentials"},
			withChallenge(failure(401, "invalid_client", descNoCreds), `Basic realm="https://as.example.com"`)},
		{"Authorization Bearer only", middleware.Config{}, request{contentType: ct, header: http.Header{"Authorization": {"Bearer abc"}}, body: "grant_type=client_credentials"},
			withChallenge(failure(401, "invalid_client", descNoCreds), `Bearer realm="https://as.example.com"`)},
		{"Authorization of a bad scheme only", middleware.Config{}, request{contentType: ct, header: http.Header{"Authorization": {"a\"b c"}}, body: "grant_type=client_credentials"},
			withChallenge(failure(401, "invalid_client", descNoCreds), `Basic realm="https://as.example.com"`)},
		{"realm quoted", middleware.Config{Realm: `my "realm" \`}, request{contentType: ct, header: basic, body: "grant_type=client_credentials"},
			withChallenge(failure(401, "invalid_client", descNoCreds), `Basic realm="my \"realm\" \\"`)},
		{"client_secret only", middleware.Config{}, request{contentType: ct, body: "grant_type=client_credentials&client_id=c1&client_secret=s"},
			failure(401, "invalid_client", descNoCreds)},
		{"client_assertion_type only", middleware.Config{}, request{contentType: ct, body: form(func(v url.Values) { v.Del("client_assertion") })},
			failure(400, "invalid_request", descMissing)},
		{"client_assertion only", middleware.Config{}, request{contentType: ct, body: form(func(v url.Values) { v.Del("client_assertion_type") })},
			failure(400, "invalid_request", descMissing)},
		{"wrong client_assertion_type", middleware.Config{}, request{contentType: ct, body: form(func(v url.Values) {
			v.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
		})},
			failure(401, "invalid_client", "unsupported client_assertion_type")},
		{"not a JWT", middleware.Config{}, request{contentType: ct, body: form(func(v url.Values) { v.Set("client_assertion", "not-a-jwt") })},
			failure(401, "invalid_client", "client assertion is not a well-formed JWT")},
		{"signed with another key", middleware.Config{}, request{contentType: ct, body: form(func(v url.Values) {
			v.Set("client_assertion", testkeys.Sign("ES256", testkeys.Signer(testkeys.P256Alt), map[string]any{"kid": "k1"}, testkeys.Claims("c1", issuer, now())))
		})}, failure(401, "invalid_client", "client assertion signature is invalid")},
		{"expired", middleware.Config{}, request{contentType: ct, body: form(func(v url.Values) {
			v.Set("client_assertion", mint(func(_, c map[string]any) { c["exp"] = now().Add(-time.Minute).Unix() }))
		})}, failure(401, "invalid_client", "client assertion has expired")},
		{"token endpoint as aud", middleware.Config{}, request{contentType: ct, body: form(func(v url.Values) {
			v.Set("client_assertion", mint(func(_, c map[string]any) { c["aud"] = issuer + "/token" }))
		})}, failure(401, "invalid_client", "client assertion aud is not this server")},
		{"unknown client", middleware.Config{}, request{contentType: ct, body: form(func(v url.Values) {
			v.Set("client_assertion", mint(func(_, c map[string]any) { c["iss"], c["sub"] = "c9", "c9" }))
		})}, failure(401, "invalid_client", "unknown client")},
		{"client_id of another client", middleware.Config{}, request{contentType: ct, body: form(func(v url.Values) { v.Set("client_id", "c2") })},
			failure(401, "invalid_client", "client_id does not match the assertion")},
		{"client_assertion in the query only", middleware.Config{}, request{target: "/token?" + form(nil), contentType: ct, body: "grant_type=client_credentials"},
			failure(400, "invalid_request", descQuery)},
		{"client_assertion_type in the query", middleware.Config{}, request{target: "/token?client_assertion_type=x", contentType: ct, body: form(nil)},
			failure(400, "invalid_request", descQuery)},
		{"client_secret in the query", middleware.Config{}, request{target: "/token?client_secret=s", contentType: ct, body: form(nil)},
			failure(400, "invalid_request", descQuery)},
		{"client_id in the query only", middleware.Config{}, request{target: "/token?client_id=c2", contentType: ct, body: form(nil)},
			failure(400, "invalid_request", descQuery)},
		{"client_id in the query differs", middleware.Config{}, request{target: "/token?client_id=c2", contentType: ct, body: form(func(v url.Values) { v.Set("client_id", "c1") })},
			failure(400, "invalid_request", descQuery)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, target := tt.req.method, tt.req.target
			if method == "" {
				method = http.MethodPost
			}
			if target == "" {
				target = "/token"
			}
			r := httptest.NewRequest(method, target, strings.NewReader(tt.req.body))
			if tt.req.chunked {
				r.Body = io.NopCloser(struct{ io.Reader }{strings.NewReader(tt.req.body)})
				r.ContentLength = -1
			}
			for k, vs := range tt.req.header {
				r.Header[k] = vs
			}
			if tt.req.contentType != "" {
				r.Header.Set("Content-Type", tt.req.contentType)
			}
			next := &recorder{}
			w := httptest.NewRecorder()
			newMiddleware(t, v, tt.cfg)(next).ServeHTTP(w, r)
			if next.calls() != 0 {
				t.Error("wrapped handler called")
			}
			if diff := cmp.Diff(tt.want, readError(t, w)); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
		})
	}
}

func withAllow(e errorResponse) errorResponse {
	e.Allow = "POST"
	return e
}

func withChallenge(e errorResponse, challenge string) errorResponse {
	e.WWWAuthenticate = challenge
	return e
}

// TestBodyTooLargeServer sends over-cap bodies to a real server, with and
// without a Content-Length, and checks that the connection is closed after
// the 413.
func TestBodyTooLargeServer(t *testing.T) {
	v := newVerifier(t, nil, nil)
	next := &recorder{}
	srv := httptest.NewServer(newMiddleware(t, v, middleware.Config{MaxBodyBytes: 1024})(next))
	t.Cleanup(srv.Close)
	body := assertionForm(mint(nil))
	body.Set("pad", strings.Repeat("x", 4096))
	for _, chunked := range []bool{false, true} {
		var rd io.Reader = strings.NewReader(body.Encode())
		if chunked {
			rd = struct{ io.Reader }{rd} // unknown length: chunked
		}
		resp, err := srv.Client().Post(srv.URL+"/token", "application/x-www-form-urlencoded", rd)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !resp.Close {
			t.Errorf("chunked %v: got %d (close %v) %s, want 413 and the connection closed", chunked, resp.StatusCode, resp.Close, b)
		}
	}
	if next.calls() != 0 {
		t.Error("wrapped handler called")
	}

	// A cap of zero is the default, 64 KiB.
	h := newMiddleware(t, v, middleware.Config{MaxBodyBytes: 0})(next)
	for _, tt := range []struct {
		size int
		want int
	}{{middleware.DefaultMaxBodyBytes, http.StatusOK}, {middleware.DefaultMaxBodyBytes + 1, http.StatusRequestEntityTooLarge}} {
		form := assertionForm(mint(nil))
		form.Set("pad", "")
		enc := form.Encode()
		enc += strings.Repeat("x", tt.size-len(enc))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, post("/token", enc))
		if w.Code != tt.want {
			t.Errorf("zero cap, %d-byte body: %d, want %d", tt.size, w.Code, tt.want)
		}
	}
}

func TestPassThrough(t *testing.T) {
	v := newVerifier(t, nil, nil)
	const ct = "application/x-www-form-urlencoded"
	tests := []struct {
		name   string
		target string
		header http.Header
		body   string
		// wantPass: the handler runs (wantResult: with a result);
		// otherwise the request fails with want.
		wantPass, wantResult bool
		want                 errorResponse
	}{
		{name: "no credentials", body: "grant_type=authorization_code&code=x&client_id=public", wantPass: true},
		{name: "Authorization Basic", header: http.Header{"Authorization": {"Basic YzE6cw=="}}, body: "grant_type=client_credentials", wantPass: true},
		{name: "client_secret_post", body: "grant_type=client_credentials&client_id=c1&client_secret=s", wantPass: true},
		{name: "client_id in the query, no assertion", target: "/token?client_id=c1", body: "grant_type=client_credentials", wantPass: true},
		{name: "valid assertion", body: assertionForm(mint(nil)).Encode(), wantPass: true, wantResult: true},
		{name: "client_assertion_type only", body: "grant_type=client_credentials&client_assertion_type=" + url.QueryEscape(verify.AssertionType),
			want: failure(400, "invalid_request", descMissing)},
		{name: "client_assertion only", body: "grant_type=client_credentials&client_assertion=" + mint(nil),
			want: failure(400, "invalid_request", descMissing)},
		{name: "empty client_assertion", body: "grant_type=client_credentials&client_assertion=",
			want: failure(401, "invalid_client", descNoCreds)},
		{name: "assertion and Authorization", header: http.Header{"Authorization": {"Basic YzE6cw=="}}, body: assertionForm(mint(nil)).Encode(),
			want: failure(400, "invalid_request", descMultiple)},
		{name: "assertion and client_secret", body: assertionForm(mint(nil)).Encode() + "&client_secret=s",
			want: failure(400, "invalid_request", descMultiple)},
		{name: "invalid assertion", body: assertionForm(mint(func(_, c map[string]any) { delete(c, "jti") })).Encode(),
			want: failure(401, "invalid_client", "client assertion jti missing or too long")},
		{name: "assertion in the query", target: "/token?" + assertionForm(mint(nil)).Encode(), body: "grant_type=client_credentials",
			want: failure(400, "invalid_request", descQuery)},
		{name: "client_secret in the query", target: "/token?client_secret=s", body: "grant_type=client_credentials",
			want: failure(400, "invalid_request", descQuery)},
	}
	h := newMiddleware(t, v, middleware.Config{PassThrough: true})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := tt.target
			if target == "" {
				target = "/token"
			}
			r := post(target, tt.body)
			for k, vs := range tt.header {
				r.Header[k] = vs
			}
			r.Header.Set("Content-Type", ct)
			next := &recorder{}
			w := httptest.NewRecorder()
			h(next).ServeHTTP(w, r)
			if !tt.wantPass {
				if next.calls() != 0 {
					t.Error("wrapped handler called")
				}
				if diff := cmp.Diff(tt.want, readError(t, w)); diff != "" {
					t.Errorf("response (-want +got):\n%s", diff)
				}
				return
			}
			if w.Code != http.StatusOK || next.calls() != 1 {
				t.Fatalf("got %d %s, want the handler's 200", w.Code, w.Body)
			}
			got := next.last
			if got.ok != tt.wantResult {
				t.Errorf("ResultFrom ok = %v, want %v", got.ok, tt.wantResult)
			}
			if got.body != tt.body {
				t.Errorf("handler read body %q, want %q", got.body, tt.body)
			}
			if want, _ := url.ParseQuery(tt.body); !cmp.Equal(want, got.postForm) {
				t.Errorf("PostForm = %v, want %v", got.postForm, want)
			}
			if h := w.Result().Header.Get("WWW-Authenticate"); h != "" {
				t.Errorf("WWW-Authenticate %q on a passed request", h)
			}
		})
	}
}

func TestInfrastructureFailure(t *testing.T) {
	failingKeyClients := verify.ClientMap{"c1": {ID: "c1", Keys: failingKeys{}}}
	tests := []struct {
		name       string
		clients    verify.Clients
		store      replay.Store
		wantReason string
		secret     string // must appear in the log, never in the response
	}{
		{"replay store", nil, failingStore{}, "replay_unavailable", "10.1.2.3:6379"},
		{"client registry", failingClients{}, nil, "clients_unavailable", "database is closed"},
		{"key source", failingKeyClients, nil, "keys_unavailable", "client.example/jwks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, tt.clients, tt.store)
			var logs bytes.Buffer
			next := &recorder{}
			h := newMiddleware(t, v, middleware.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})(next)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, post("/token", assertionForm(mint(nil)).Encode()))
			raw := w.Body.String()
			if diff := cmp.Diff(failure(503, "server_error", descServer), readError(t, w)); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			if next.calls() != 0 {
				t.Error("wrapped handler called")
			}
			if strings.Contains(raw, tt.secret) || strings.Contains(raw, "unavailable") {
				t.Errorf("response reveals internals: %s", raw)
			}
			log := logs.String()
			for _, want := range []string{"level=ERROR", "reason=" + tt.wantReason, "code=server_error", tt.secret} {
				if !strings.Contains(log, want) {
					t.Errorf("log lacks %q:\n%s", want, log)
				}
			}
		})
	}
}

func TestGenericDescriptions(t *testing.T) {
	v := newVerifier(t, nil, nil)
	h := newMiddleware(t, v, middleware.Config{GenericDescriptions: true})(&recorder{})
	tests := []struct {
		name string
		req  *http.Request
		want errorResponse
	}{
		{"bad signature", post("/token", assertionForm(mint(nil)[:40]+"AAAA.AAAA").Encode()),
			failure(401, "invalid_client", "client authentication failed")},
		{"repeated parameter", post("/token", assertionForm(mint(nil)).Encode()+"&client_id=c1&client_id=c1"),
			failure(400, "invalid_request", "the request is malformed")},
		{"method", httptest.NewRequest("GET", "/token", nil),
			withAllow(failure(405, "invalid_request", "the request is malformed"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, tt.req)
			if diff := cmp.Diff(tt.want, readError(t, w)); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrorWriter(t *testing.T) {
	v := newVerifier(t, nil, nil)
	var got *verify.Error
	var headers http.Header
	h := newMiddleware(t, v, middleware.Config{ErrorWriter: func(w http.ResponseWriter, r *http.Request, err *verify.Error) {
		got, headers = err, w.Header().Clone()
		w.WriteHeader(http.StatusTeapot)
	}})(&recorder{})

	w := httptest.NewRecorder()
	h.ServeHTTP(w, post("/token", assertionForm(mint(func(_, c map[string]any) { c["aud"] = "https://other.example" })).Encode()))
	if w.Code != http.StatusTeapot {
		t.Errorf("status %d, want the writer's 418", w.Code)
	}
	if !errors.Is(got, verify.ErrAudience) || got.Reason != "aud" || got.Code != "invalid_client" {
		t.Errorf("writer got %v (reason %q, code %q), want the aud failure", got, got.Reason, got.Code)
	}
	if headers.Get("Cache-Control") != "no-store" || headers.Get("Pragma") != "no-cache" {
		t.Errorf("headers before the writer: %v", headers)
	}

	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("DELETE", "/token", nil))
	if !errors.Is(got, verify.ErrMethodNotAllowed) || got.Code != "invalid_request" || headers.Get("Allow") != "POST" {
		t.Errorf("writer got %v, Allow %q; want ErrMethod and Allow: POST", got, headers.Get("Allow"))
	}

	w = httptest.NewRecorder()
	r := post("/token", "pad="+strings.Repeat("x", 1<<20))
	h.ServeHTTP(w, r)
	var tooLarge *http.MaxBytesError
	if !errors.Is(got, verify.ErrBodyTooLarge) || !errors.As(got, &tooLarge) || middleware.StatusCode(got) != 413 {
		t.Errorf("writer got %v, want ErrBodyTooLarge wrapping *http.MaxBytesError", got)
	}
}

func TestStatusCode(t *testing.T) {
	tests := []struct {
		err  *verify.Error
		want int
	}{
		{verify.NewError(verify.ErrExpired, nil), 401},
		{verify.NewError(verify.ErrRepeatedParameter, nil), 400},
		{verify.NewError(verify.ErrReplayUnavailable, errors.New("down")), 503},
		{verify.NewError(verify.ErrInternal, nil), 503},
		{verify.NewError(verify.ErrMethodNotAllowed, nil), 405},
		{verify.NewError(verify.ErrBodyTooLarge, nil), 413},
		{verify.NewError(verify.ErrContentType, nil), 400},
	}
	for _, tt := range tests {
		if got := middleware.StatusCode(tt.err); got != tt.want {
			t.Errorf("StatusCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

// TestWriteError: the default writer hides an infrastructure failure's
// description even when called directly.
func TestWriteError(t *testing.T) {
	w := httptest.NewRecorder()
	middleware.WriteError(w, httptest.NewRequest("POST", "/", nil), verify.NewError(verify.ErrReplayUnavailable, errors.New("redis down")))
	if diff := cmp.Diff(failure(503, "server_error", descServer), readError(t, w)); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
}

func TestLogger(t *testing.T) {
	v := newVerifier(t, nil, nil)
	var logs bytes.Buffer
	h := newMiddleware(t, v, middleware.Config{Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})(&recorder{})

	good := mint(nil)
	bad := testkeys.Sign("ES256", testkeys.Signer(testkeys.P256Alt), map[string]any{"kid": "k1"}, testkeys.Claims("c1", issuer, now()))
	for _, a := range []string{good, bad} {
		form := assertionForm(a)
		form.Set("client_id", "c1")
		h.ServeHTTP(httptest.NewRecorder(), post("/token", form.Encode()))
	}
	long := assertionForm(mint(nil))
	long.Set("client_id", strings.Repeat("é", 1000))
	h.ServeHTTP(httptest.NewRecorder(), post("/token", long.Encode()))
	log := logs.String()
	for _, want := range []string{
		`"level":"DEBUG","msg":"pkjwt: client authenticated","client_id":"c1","kid":"k1","alg":"ES256"`,
		`"level":"INFO","msg":"pkjwt: client authentication failed","reason":"signature","code":"invalid_client","error":"verify: client assertion signature is invalid: signature does not verify`,
		`"client_id":"c1","path":"/token"`,
		`"reason":"client_id_mismatch"`,
		`"client_id":"` + strings.Repeat("é", 128) + `...","path"`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
	for _, a := range []string{good, bad} {
		for _, part := range strings.Split(a, ".") {
			if strings.Contains(log, part) {
				t.Errorf("log contains part of an assertion %q:\n%s", part, log)
			}
		}
	}
}

func TestNew(t *testing.T) {
	v := newVerifier(t, nil, nil)
	tests := []struct {
		name    string
		v       *verify.Verifier
		cfg     middleware.Config
		wantErr bool
	}{
		{"defaults", v, middleware.Config{}, false},
		{"every field", v, middleware.Config{
			MaxBodyBytes: 1, PassThrough: true, ErrorWriter: middleware.WriteError,
			GenericDescriptions: true, Logger: slog.New(slog.DiscardHandler), Realm: "r",
		}, false},
		{"nil verifier", nil, middleware.Config{}, true},
		{"negative body cap", v, middleware.Config{MaxBodyBytes: -1}, true},
		{"realm with CRLF", v, middleware.Config{Realm: "a\r\nSet-Cookie: x"}, true},
	}
	for _, tt := range tests {
		mw, err := middleware.New(tt.v, tt.cfg)
		if (err != nil) != tt.wantErr || (err == nil) == (mw == nil) {
			t.Errorf("%s: New = %v, %v; want error %v", tt.name, mw != nil, err, tt.wantErr)
		}
	}
}

func TestNilHandler(t *testing.T) {
	mw := newMiddleware(t, newVerifier(t, nil, nil), middleware.Config{})
	defer func() {
		if recover() == nil {
			t.Error("wrapping a nil handler did not panic")
		}
	}()
	mw(nil)
}

func TestResultFrom(t *testing.T) {
	if res, ok := middleware.ResultFrom(context.Background()); ok || res != nil {
		t.Errorf("ResultFrom(empty) = %v, %v", res, ok)
	}
	if _, ok := middleware.ResultFrom(middleware.NewContext(context.Background(), nil)); ok {
		t.Error("ResultFrom reports a nil result")
	}
	want := &verify.Result{ClientID: "c1"}
	if res, ok := middleware.ResultFrom(middleware.NewContext(context.Background(), want)); !ok || res != want {
		t.Errorf("ResultFrom = %v, %v; want %v", res, ok, want)
	}
}

// TestConcurrentReplay sends one assertion from many goroutines: exactly
// one request reaches the handler.
func TestConcurrentReplay(t *testing.T) {
	v := newVerifier(t, nil, nil)
	next := &recorder{}
	h := newMiddleware(t, v, middleware.Config{})(next)
	body := assertionForm(mint(nil)).Encode()

	const n = 64
	codes := make([]int, n)
	descs := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			w := httptest.NewRecorder()
			h.ServeHTTP(w, post("/token", body))
			codes[i] = w.Code
			if w.Code != http.StatusOK {
				descs[i] = readError(t, w).Description
			}
		})
	}
	close(start)
	wg.Wait()

	ok := 0
	for i, c := range codes {
		switch {
		case c == http.StatusOK:
			ok++
		case c != http.StatusUnauthorized || descs[i] != "client assertion was already used":
			t.Errorf("request %d: %d %q, want 200 or 401 replayed", i, c, descs[i])
		}
	}
	if ok != 1 || next.calls() != 1 {
		t.Errorf("%d successes, %d handler calls; want exactly 1", ok, next.calls())
	}
}

// TestSharedVerifier: one assertion presented at the token endpoint and
// then at the introspection endpoint, which share a verifier, is rejected
// the second time.
func TestSharedVerifier(t *testing.T) {
	v := newVerifier(t, nil, nil)
	var logs bytes.Buffer
	auth := newMiddleware(t, v, middleware.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	token, introspection := &recorder{}, &recorder{}
	mux := http.NewServeMux()
	mux.Handle("/token", auth(token))
	mux.Handle("/introspect", auth(introspection))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	a := mint(nil)
	send := func(path string, form url.Values) *http.Response {
		t.Helper()
		resp, err := srv.Client().PostForm(srv.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	if resp := send("/token", assertionForm(a)); resp.StatusCode != http.StatusOK {
		t.Fatalf("token endpoint: %d", resp.StatusCode)
	}
	form := assertionForm(a)
	form.Del("grant_type")
	form.Set("token", "some-access-token")
	resp := send("/introspect", form)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("introspection endpoint with the used assertion: %d, want 401", resp.StatusCode)
	}
	b, _ := io.ReadAll(resp.Body)
	if got, want := string(b), `{"error":"invalid_client","error_description":"client assertion was already used"}`+"\n"; got != want {
		t.Errorf("body %s, want %s", got, want)
	}
	if !strings.Contains(logs.String(), "reason=replayed") || !strings.Contains(logs.String(), "path=/introspect") {
		t.Errorf("log lacks the replay at /introspect:\n%s", logs.String())
	}
	if token.calls() != 1 || introspection.calls() != 0 {
		t.Errorf("handler calls: token %d, introspection %d; want 1, 0", token.calls(), introspection.calls())
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset by peer") }

// TestBodyReadError: a body that cannot be read fails as malformed, with
// the cause for operators only.
func TestBodyReadError(t *testing.T) {
	var got *verify.Error
	h := newMiddleware(t, newVerifier(t, nil, nil), middleware.Config{ErrorWriter: func(w http.ResponseWriter, r *http.Request, err *verify.Error) {
		got = err
		middleware.WriteError(w, r, err)
	}})(&recorder{})
	r := post("/token", "")
	r.Body, r.ContentLength = io.NopCloser(failingReader{}), -1
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if diff := cmp.Diff(failure(400, "invalid_request", descMalformed), readError(t, w)); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
	if !errors.Is(got, verify.ErrMalformedBody) || got.Error() != "verify: the request body is not a valid form: connection reset by peer" {
		t.Errorf("writer got %q", got)
	}
}
