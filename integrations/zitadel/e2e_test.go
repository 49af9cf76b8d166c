package pkjwtzitadel_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	pkjwtzitadel "github.com/pkjwt/pkjwt/integrations/zitadel"
	"github.com/pkjwt/pkjwt/internal/edgetest"
	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/verify"
)

// outcome is what a test compares of a response.
type outcome struct {
	Status int
	Error  string // the "error" member, if any
}

func outcomeOf(status int, body map[string]any) outcome {
	e, _ := body["error"].(string)
	return outcome{status, e}
}

var (
	ok            = outcome{http.StatusOK, ""}
	invalidClient = outcome{http.StatusUnauthorized, "invalid_client"}
	invalidReq    = outcome{http.StatusBadRequest, "invalid_request"}
	serverError   = outcome{http.StatusInternalServerError, "server_error"}
)

// TestClientCredentialsAndIntrospection runs the client_credentials grant
// and introspects the token, for each way a client can authenticate.
func TestClientCredentialsAndIntrospection(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	tests := []struct {
		name   string
		client string
		// auth adds the client's credentials to a request's form and
		// returns the HTTP Basic user and password, if any.
		auth func(form url.Values) (string, string)
	}{
		{"private_key_jwt RS256", rsaClient, func(form url.Values) (string, string) {
			with(form, f.assertion(rsaClient, rsaSigner, nil))
			return "", ""
		}},
		{"private_key_jwt ES256", rsaClient, func(form url.Values) (string, string) {
			with(form, f.assertion(rsaClient, ecSigner, nil))
			return "", ""
		}},
		{"private_key_jwt EdDSA", edClient, func(form url.Values) (string, string) {
			with(form, f.assertion(edClient, edSigner, nil))
			return "", ""
		}},
		{"client_secret_basic falls through to zitadel", basicClient, func(url.Values) (string, string) {
			return basicClient, basicSecret
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := grant()
			user, password := tt.auth(form)
			status, body := postForm(f.tokenURL, form, user, password)
			if got := outcomeOf(status, body); got != ok {
				t.Fatalf("token: %v %v", got, body)
			}
			tok := body["access_token"].(string)

			form = url.Values{"token": {tok}}
			user, password = tt.auth(form)
			status, body = postForm(f.introspectURL, form, user, password)
			if got := outcomeOf(status, body); got != ok {
				t.Fatalf("introspect: %v %v", got, body)
			}
			if body["active"] != true || body["client_id"] != tt.client || body["scope"] != "read" {
				t.Errorf("introspection = %v, want active, client_id %s, scope read", body, tt.client)
			}
		})
	}
}

// TestReplayAcrossEndpoints uses one assertion at the token endpoint, then
// at introspection, then the other way round.
func TestReplayAcrossEndpoints(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	tok := f.token(t, f.assertion(rsaClient, rsaSigner, nil))

	a := f.assertion(rsaClient, rsaSigner, nil)
	f.token(t, a)
	status, body := postForm(f.introspectURL, with(url.Values{"token": {tok}}, a), "", "")
	if got := outcomeOf(status, body); got != invalidClient {
		t.Fatalf("introspect with a used assertion: %v %v", got, body)
	}
	if d, _ := body["error_description"].(string); d != "client assertion was already used" {
		t.Errorf("error_description = %q", d)
	}

	b := f.assertion(rsaClient, rsaSigner, nil)
	status, body = postForm(f.introspectURL, with(url.Values{"token": {tok}}, b), "", "")
	if got := outcomeOf(status, body); got != ok || body["active"] != true {
		t.Fatalf("introspect: %v %v", got, body)
	}
	status, body = postForm(f.tokenURL, with(grant(), b), "", "")
	if got := outcomeOf(status, body); got != invalidClient {
		t.Errorf("token with an assertion used at introspection: %v %v", got, body)
	}
}

// TestConcurrentReplay sends one assertion in many concurrent token requests:
// exactly one succeeds.
func TestConcurrentReplay(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	a := f.assertion(edClient, edSigner, nil)
	const n = 8
	var wg sync.WaitGroup
	results := make(chan outcome, n)
	for range n {
		wg.Go(func() {
			results <- outcomeOf(postForm(f.tokenURL, with(grant(), a), "", ""))
		})
	}
	wg.Wait()
	close(results)
	count := map[outcome]int{}
	for o := range results {
		count[o]++
	}
	if diff := cmp.Diff(map[outcome]int{ok: 1, invalidClient: n - 1}, count); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
}

// TestRejections sends broken requests to the token endpoint. The first
// group is what zitadel/oidc's own op.VerifyJWTAssertion accepts.
func TestRejections(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	now := time.Now()
	claims := func(edit func(map[string]any)) func() url.Values {
		return func() url.Values { return with(grant(), f.assertion(rsaClient, rsaSigner, edit)) }
	}
	tests := []struct {
		name     string
		form     func() url.Values
		query    string
		user     string
		want     outcome
		wantDesc string
	}{
		// zitadel/oidc accepts these.
		{"aud with the issuer among others", claims(func(c map[string]any) { c["aud"] = []string{f.issuer, "https://other.example"} }),
			"", "", invalidClient, "client assertion aud is not this server"},
		{"not yet valid", claims(func(c map[string]any) { c["nbf"] = now.Add(time.Minute).Unix() }),
			"", "", invalidClient, "client assertion is not yet valid"},
		{"exp a day ahead", claims(func(c map[string]any) { c["exp"] = now.Add(24 * time.Hour).Unix() }),
			"", "", invalidClient, "client assertion exp is too far in the future"},
		{"iat half an hour old", claims(func(c map[string]any) { c["iat"] = now.Add(-30 * time.Minute).Unix() }),
			"", "", invalidClient, "client assertion iat is in the future or too old"},
		{"no jti", claims(func(c map[string]any) { delete(c, "jti") }),
			"", "", invalidClient, "client assertion jti missing or too long"},
		{"private key registered", func() url.Values { return with(grant(), f.assertion(badKeyClient, rsaSigner, nil)) },
			"", "", invalidClient, "no registered key of the client matches the assertion"},

		{"expired", claims(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }),
			"", "", invalidClient, "client assertion has expired"},
		{"aud the token endpoint", claims(func(c map[string]any) { c["aud"] = f.tokenURL }),
			"", "", invalidClient, "client assertion aud is not this server"},
		{"unknown client", func() url.Values { return with(grant(), f.assertion("nobody", rsaSigner, nil)) },
			"", "", invalidClient, "unknown client"},
		{"unknown kid", func() url.Values {
			return with(grant(), f.assertion(rsaClient, signer{testkeys.RSA2048, "RS256", "nope"}, nil))
		},
			"", "", invalidClient, "no registered key of the client matches the assertion"},
		{"another key", func() url.Values {
			return with(grant(), f.assertion(rsaClient, signer{testkeys.RSA2048Alt, "RS256", "rsa1"}, nil))
		}, "", "", invalidClient, "client assertion signature is invalid"},
		{"alg of another key type", func() url.Values {
			return with(grant(), f.assertion(rsaClient, signer{testkeys.P256, "ES256", "rsa1"}, nil))
		},
			"", "", invalidClient, "no registered key of the client matches the assertion"},
		{"client registered for client_secret_basic", func() url.Values { return with(grant(), f.assertion(basicClient, rsaSigner, nil)) },
			"", "", invalidClient, "client is not registered for this authentication method"},
		{"client_id of another client", func() url.Values {
			form := with(grant(), f.assertion(rsaClient, rsaSigner, nil))
			form.Set("client_id", edClient)
			return form
		}, "", "", invalidClient, "client_id does not match the assertion"},
		{"assertion type without assertion", func() url.Values {
			form := grant()
			form.Set("client_assertion_type", verify.AssertionType)
			form.Set("client_id", rsaClient)
			return form
		}, "", "", invalidReq, "client_assertion or client_assertion_type missing"},
		{"assertion and client_secret", func() url.Values {
			form := with(grant(), f.assertion(rsaClient, rsaSigner, nil))
			form.Set("client_secret", "x")
			return form
		}, "", "", invalidReq, "more than one client authentication method"},
		{"assertion and HTTP Basic (zitadel's check)", claims(nil), "", basicClient, invalidReq, ""},
		{"assertion in the URL query", func() url.Values { return grant() },
			"client_assertion_type=" + url.QueryEscape(verify.AssertionType) + "&client_assertion=" + f.assertion(rsaClient, rsaSigner, nil),
			"", invalidReq, "client authentication parameters must be sent in the request body"},
		{"wrong client secret still zitadel's", grant, "", basicClient + ":wrong", outcome{http.StatusBadRequest, "invalid_client"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := f.tokenURL
			if tt.query != "" {
				u += "?" + tt.query
			}
			user, password, _ := strings.Cut(tt.user, ":")
			if user != "" && password == "" {
				password = basicSecret
			}
			status, body := postForm(u, tt.form(), user, password)
			if got := outcomeOf(status, body); got != tt.want {
				t.Fatalf("got %v %v, want %v", got, body, tt.want)
			}
			if d, _ := body["error_description"].(string); tt.wantDesc != "" && d != tt.wantDesc {
				t.Errorf("error_description = %q, want %q", d, tt.wantDesc)
			}
		})
	}
}

// TestInfrastructureFailures checks that a replay store or client storage
// that cannot answer, or a request for another issuer, fails with
// server_error at the token and the introspection endpoints.
func TestInfrastructureFailures(t *testing.T) {
	tests := []struct {
		name  string
		o     fixtureOptions
		setup func(f *fixture)
	}{
		{"replay store down", fixtureOptions{replayStore: failingStore{}}, nil},
		{"client storage down", fixtureOptions{}, func(f *fixture) {
			f.storage.clientsDown = oidc.ErrServerError().WithParent(errors.New("database down"))
		}},
		{"another issuer", fixtureOptions{issuer: "https://another.example"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.o)
			if tt.setup != nil {
				tt.setup(f)
			}
			aud := func(c map[string]any) { c["aud"] = []string{f.auth.Verifier().Issuer()} }
			status, body := postForm(f.tokenURL, with(grant(), f.assertion(rsaClient, rsaSigner, aud)), "", "")
			if got := outcomeOf(status, body); got != serverError {
				t.Errorf("token: %v %v", got, body)
			}
			if d, _ := body["error_description"].(string); strings.Contains(d, "down") || strings.Contains(d, "another") {
				t.Errorf("error_description leaks the cause: %q", d)
			}
			status, body = postForm(f.introspectURL, with(url.Values{"token": {"x"}}, f.assertion(rsaClient, rsaSigner, aud)), "", "")
			if got := outcomeOf(status, body); got != serverError {
				t.Errorf("introspect: %v %v", got, body)
			}
		})
	}
}

// TestStorageNotFound: a plain error of GetClientByClientID means an unknown
// client, as zitadel/oidc's storage contract says.
func TestStorageNotFound(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.storage.clientsDown = errors.New("no such client")
	status, body := postForm(f.tokenURL, with(grant(), f.assertion(rsaClient, rsaSigner, nil)), "", "")
	if got := outcomeOf(status, body); got != invalidClient {
		t.Errorf("got %v %v", got, body)
	}
}

// TestRevocation revokes a token with private_key_jwt: zitadel/oidc's
// revocation endpoint goes through VerifyClient.
func TestRevocation(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	tok := f.token(t, f.assertion(edClient, edSigner, nil))

	status, body := postForm(f.revokeURL, with(url.Values{"token": {tok}}, f.assertion(edClient, edSigner, nil)), "", "")
	if status != http.StatusOK {
		t.Fatalf("revoke: %d %v", status, body)
	}
	status, body = postForm(f.introspectURL, with(url.Values{"token": {tok}}, f.assertion(edClient, edSigner, nil)), "", "")
	if got := outcomeOf(status, body); got != ok || body["active"] != false {
		t.Errorf("introspect a revoked token: %v %v", got, body)
	}
	status, body = postForm(f.revokeURL, with(url.Values{"token": {tok}}, f.assertion(edClient, rsaSigner, nil)), "", "")
	if got := outcomeOf(status, body); got != invalidClient {
		t.Errorf("revoke with a wrong assertion: %v %v", got, body)
	}
}

// TestIntrospectionAuthentication covers the introspection endpoint's own
// authentication.
func TestIntrospectionAuthentication(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	tok := f.token(t, f.assertion(rsaClient, rsaSigner, nil))
	bearer := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	tests := []struct {
		name   string
		form   url.Values
		header func(*http.Request)
		want   outcome
		active bool
	}{
		{"assertion", with(url.Values{"token": {tok}}, f.assertion(rsaClient, rsaSigner, nil)), nil, ok, true},
		{"assertion and bearer token", with(url.Values{"token": {tok}}, f.assertion(rsaClient, rsaSigner, nil)), bearer, invalidReq, false},
		{"bad assertion", with(url.Values{"token": {tok}}, f.assertion(rsaClient, rsaSigner, func(c map[string]any) { delete(c, "jti") })), nil, invalidClient, false},
		{"unknown token", with(url.Values{"token": {"nope"}}, f.assertion(rsaClient, rsaSigner, nil)), nil, ok, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(f.introspectURL, tt.form, tt.header)
			if got := outcomeOf(status, body); got != tt.want {
				t.Fatalf("got %v %v, want %v", got, body, tt.want)
			}
			if tt.want == ok && body["active"] != tt.active {
				t.Errorf("active = %v, want %v", body["active"], tt.active)
			}
		})
	}
}

// TestJWKSURI takes some clients' keys from a jwks_uri through a shared
// jwksfetch.Registry, others' from the storage: two Authenticators sharing
// the Registry fetch the document once.
func TestJWKSURI(t *testing.T) {
	jwks := edgetest.NewJWKS(t)

	uris := func(c op.Client) string {
		switch c.GetID() {
		case edClient:
			return jwks.URL
		case badKeyClient:
			return "not a URL"
		}
		return "" // the storage's keys
	}
	cfg := pkjwtzitadel.Config{JWKSURI: uris, Registry: jwks.Registry}
	f := newFixture(t, fixtureOptions{cfg: cfg})
	g := newFixture(t, fixtureOptions{cfg: cfg})
	for _, c := range []string{edClient, rsaClient} {
		if err := f.auth.CheckClient(f.storage.clients[c]); err != nil {
			t.Errorf("CheckClient(%s): %v", c, err)
		}
	}
	if err := f.auth.CheckClient(f.storage.clients[badKeyClient]); !errors.Is(err, verify.ErrKeyNotFound) {
		t.Errorf("CheckClient of a client with a bad jwks_uri: %v", err)
	}
	tests := []struct {
		name   string
		f      *fixture
		client string
		s      signer
		want   outcome
	}{
		{"jwks_uri", f, edClient, edSigner, ok},
		{"jwks_uri, the other Authenticator", g, edClient, edSigner, ok},
		{"storage keys", f, rsaClient, rsaSigner, ok},
		{"bad jwks_uri", f, badKeyClient, rsaSigner, invalidClient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := postForm(tt.f.tokenURL, with(grant(), tt.f.assertion(tt.client, tt.s, nil)), "", "")
			if got := outcomeOf(status, body); got != tt.want {
				t.Errorf("got %v %v, want %v", got, body, tt.want)
			}
		})
	}
	if n := jwks.Fetches(); n != 1 {
		t.Errorf("the shared document was fetched %d times, want 1", n)
	}
	if _, err := pkjwtzitadel.New(f.issuer, f.storage, mustMemory(t), pkjwtzitadel.Config{JWKSURI: uris}); err == nil {
		t.Error("New with JWKSURI and no Registry succeeded")
	}
}

// TestErrorsWrapVerifyError checks that failures are zitadel/oidc errors
// whose parent is the *verify.Error.
func TestErrorsWrapVerifyError(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	server := pkjwtzitadel.ServerForTest(f.auth, op.NewLegacyServer(nil, *op.DefaultEndpoints))
	form := with(grant(), f.assertion(rsaClient, rsaSigner, func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }))
	_, err := server.VerifyClient(context.Background(), &op.Request[op.ClientCredentials]{
		Method: http.MethodPost, URL: &url.URL{Path: "/oauth/token"}, Header: http.Header{}, Form: form, Data: &op.ClientCredentials{},
	})
	var oe *oidc.Error
	if !errors.As(err, &oe) || oe.ErrorType != oidc.InvalidClient || !errors.Is(err, verify.ErrExpired) {
		t.Fatalf("err = %v, want an invalid_client *oidc.Error wrapping verify.ErrExpired", err)
	}
	var se op.StatusError
	if !errors.As(err, &se) {
		t.Errorf("err = %v, want an op.StatusError (401)", err)
	}
	var e *verify.Error
	if !errors.As(err, &e) || e.Reason != "expired" {
		t.Errorf("errors.As *verify.Error: %v", e)
	}
}

// TestMain silences zitadel/oidc, which logs every request error through the
// default slog logger.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

func TestNew(t *testing.T) {
	storage := newMemoryStorage()
	tests := []struct {
		name    string
		issuer  string
		storage op.Storage
		cfg     pkjwtzitadel.Config
	}{
		{"nil storage", "https://op.example", nil, pkjwtzitadel.Config{}},
		{"no issuer", "", storage, pkjwtzitadel.Config{}},
		{"client_secret_jwt", "https://op.example", storage, pkjwtzitadel.Config{Verify: verify.Config{AllowClientSecretJWT: true}}},
		{"invalid verify config", "https://op.example", storage, pkjwtzitadel.Config{Verify: verify.Config{MaxLifetime: -1}}},
		{"negative body cap", "https://op.example", storage, pkjwtzitadel.Config{MaxBodyBytes: -1}},
		{"JWKSURI without Registry", "https://op.example", storage, pkjwtzitadel.Config{JWKSURI: func(op.Client) string { return "" }}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := pkjwtzitadel.New(tt.issuer, tt.storage, mustMemory(t), tt.cfg); err == nil {
				t.Error("New succeeded")
			}
		})
	}
}

// TestZitadelAlone records what zitadel/oidc does without pkjwt, as the
// package documentation describes it: the gaps this integration closes. If a
// zitadel/oidc upgrade closes one, this test says so.
func TestZitadelAlone(t *testing.T) {
	f := newFixture(t, fixtureOptions{native: true})
	status, body := postForm(f.tokenURL, grant(), basicClient, basicSecret)
	if got := outcomeOf(status, body); got != ok {
		t.Fatalf("token for the basic client: %v %v", got, body)
	}
	tok := body["access_token"].(string)
	introspect := func(a string) bool {
		status, body := postForm(f.introspectURL, with(url.Values{"token": {tok}}, a), "", "")
		return status == http.StatusOK && body["active"] == true
	}

	a := f.assertion(rsaClient, rsaSigner, nil)
	first, second := introspect(a), introspect(a)
	if !first || !second {
		t.Error("zitadel/oidc now rejects a replayed assertion")
	}
	if !introspect(f.assertion(rsaClient, rsaSigner, func(c map[string]any) { c["aud"] = []string{f.issuer, "https://other.example"} })) {
		t.Error("zitadel/oidc now rejects an aud array with another audience")
	}
	if !introspect(f.assertion(rsaClient, rsaSigner, func(c map[string]any) { c["nbf"] = time.Now().Add(time.Hour).Unix() })) {
		t.Error("zitadel/oidc now honours nbf")
	}
	if !introspect(f.assertion(rsaClient, rsaSigner, func(c map[string]any) { delete(c, "jti") })) {
		t.Error("zitadel/oidc now requires jti")
	}
	if introspect(f.assertion(edClient, edSigner, nil)) {
		t.Error("zitadel/oidc now accepts EdDSA")
	}
	status, body = postForm(f.tokenURL, with(grant(), f.assertion(rsaClient, rsaSigner, nil)), "", "")
	if status == http.StatusOK {
		t.Errorf("zitadel/oidc now accepts private_key_jwt for client_credentials: %v", body)
	}
}
