package pkjwtfosite_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/storage"

	pkjwtfosite "github.com/pkjwt/pkjwt/integrations/fosite"
	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/jwksfetch"
	"github.com/pkjwt/pkjwt/replay"
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
		{"private_key_jwt RS256 inline jwks", rsaClient, func(form url.Values) (string, string) {
			with(form, f.assertion(rsaClient, rsaSigner, nil))
			return "", ""
		}},
		{"private_key_jwt EdDSA jwks_uri", edClient, func(form url.Values) (string, string) {
			with(form, f.assertion(edClient, edSigner, nil))
			return "", ""
		}},
		{"client_secret_basic falls through to fosite", basicClient, func(url.Values) (string, string) {
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
// at introspection, then at the token endpoint again.
func TestReplayAcrossEndpoints(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	tok := f.token(t, f.assertion(rsaClient, rsaSigner, nil))

	a := f.assertion(rsaClient, rsaSigner, nil)
	f.token(t, a)
	status, body := postForm(f.introspectURL, with(url.Values{"token": {tok}}, a), "", "")
	if got := outcomeOf(status, body); got != invalidClient {
		t.Fatalf("introspect with a used assertion: %v %v", got, body)
	}
	if d, _ := body["error_description"].(string); !strings.Contains(d, "client assertion was already used") {
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
	f.token(t, f.assertion(edClient, edSigner, nil)) // the jwks_uri is fetched

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

// TestAudience checks the aud policies against fosite's native rule (the
// token endpoint URL only).
func TestAudience(t *testing.T) {
	def := newFixture(t, fixtureOptions{})
	legacy := newFixture(t, fixtureOptions{cfg: pkjwtfosite.Config{Verify: verify.Config{Audience: verify.AudienceLegacy}}})
	// Legacy with the token endpoint: the URL is known only now.
	legacyURL := newFixture(t, fixtureOptions{})
	legacyAuth, err := pkjwtfosite.New(legacyURL.issuer, legacyURL.store, mustMemory(t),
		pkjwtfosite.Config{Verify: verify.Config{Audience: verify.AudienceLegacy, Endpoints: []string{legacyURL.tokenURL}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { legacyAuth.Close() })
	legacyURL.config.ClientAuthenticationStrategy = legacyAuth.Strategy(nil)

	tests := []struct {
		name string
		f    *fixture
		aud  func(f *fixture) any
		want outcome
	}{
		{"issuer", def, func(f *fixture) any { return f.issuer }, ok},
		{"issuer in a one-element array", def, func(f *fixture) any { return []string{f.issuer} }, ok},
		{"issuer among others", def, func(f *fixture) any { return []string{f.issuer, "https://other.example"} }, invalidClient},
		{"token endpoint (fosite's rule)", def, func(f *fixture) any { return f.tokenURL }, invalidClient},
		{"another server", def, func(*fixture) any { return "https://other.example" }, invalidClient},
		{"legacy: issuer among others", legacy, func(f *fixture) any { return []string{"https://other.example", f.issuer} }, ok},
		{"legacy without endpoints: token endpoint", legacy, func(f *fixture) any { return f.tokenURL }, invalidClient},
		{"legacy with the token endpoint", legacyURL, func(f *fixture) any { return f.tokenURL }, ok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.f.assertion(rsaClient, rsaSigner, func(c map[string]any) { c["aud"] = tt.aud(tt.f) })
			status, body := postForm(tt.f.tokenURL, with(grant(), a), "", "")
			if got := outcomeOf(status, body); got != tt.want {
				t.Errorf("got %v %v, want %v", got, body, tt.want)
			}
		})
	}
}

func mustMemory(t *testing.T) *replay.Memory {
	t.Helper()
	m, err := replay.NewMemory(replay.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// TestRejections sends broken requests to the token endpoint; each fails
// with the RFC 6749 error fosite renders and the failed check's description.
func TestRejections(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	now := time.Now()
	tests := []struct {
		name     string
		form     func() url.Values
		query    string
		user     string
		want     outcome
		wantDesc string
	}{
		{"expired", func() url.Values {
			return with(grant(), f.assertion(rsaClient, rsaSigner, func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }))
		}, "", "", invalidClient, "client assertion has expired"},
		{"not yet valid", func() url.Values {
			return with(grant(), f.assertion(rsaClient, rsaSigner, func(c map[string]any) { c["nbf"] = now.Add(time.Minute).Unix() }))
		}, "", "", invalidClient, "client assertion is not yet valid"},
		{"lifetime too long", func() url.Values {
			return with(grant(), f.assertion(rsaClient, rsaSigner, func(c map[string]any) { c["exp"] = now.Add(time.Hour).Unix() }))
		}, "", "", invalidClient, "client assertion exp is too far in the future"},
		{"no jti", func() url.Values {
			return with(grant(), f.assertion(rsaClient, rsaSigner, func(c map[string]any) { delete(c, "jti") }))
		}, "", "", invalidClient, "client assertion jti missing or too long"},
		{"unknown client", func() url.Values {
			return with(grant(), f.assertion("nobody", rsaSigner, nil))
		}, "", "", invalidClient, "unknown client"},
		{"another key", func() url.Values {
			return with(grant(), f.assertion(rsaClient, signer{testkeys.RSA2048Alt, "RS256", "rsa1"}, nil))
		}, "", "", invalidClient, "client assertion signature is invalid"},
		{"alg not the client's registered alg", func() url.Values {
			return with(grant(), f.assertion(edClient, rsaSigner, nil)) // registered EdDSA
		}, "", "", invalidClient, "client assertion alg is not allowed"},
		{"client registered for client_secret_basic", func() url.Values {
			return with(grant(), f.assertion(basicClient, rsaSigner, nil))
		}, "", "", invalidClient, "client is not registered for this authentication method"},
		{"private key registered as jwks", func() url.Values {
			return with(grant(), f.assertion(badKeyClient, rsaSigner, nil))
		}, "", "", invalidClient, "no registered key of the client matches the assertion"},
		{"no keys registered", func() url.Values {
			return with(grant(), f.assertion(noKeyClient, rsaSigner, nil))
		}, "", "", invalidClient, "no registered key of the client matches the assertion"},
		{"client_id of another client", func() url.Values {
			form := with(grant(), f.assertion(rsaClient, rsaSigner, nil))
			form.Set("client_id", edClient)
			return form
		}, "", "", invalidClient, "client_id does not match the assertion"},
		{"wrong assertion type", func() url.Values {
			form := with(grant(), f.assertion(rsaClient, rsaSigner, nil))
			form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
			return form
		}, "", "", invalidClient, "unsupported client_assertion_type"},
		{"assertion type without assertion", func() url.Values {
			form := grant()
			form.Set("client_assertion_type", verify.AssertionType)
			return form
		}, "", "", invalidReq, "client_assertion or client_assertion_type missing"},
		{"assertion repeated", func() url.Values {
			form := with(grant(), f.assertion(rsaClient, rsaSigner, nil))
			form.Add("client_assertion", f.assertion(rsaClient, rsaSigner, nil))
			return form
		}, "", "", invalidReq, "a request parameter was sent more than once"},
		{"assertion and HTTP Basic", func() url.Values {
			return with(grant(), f.assertion(rsaClient, rsaSigner, nil))
		}, "", basicClient, invalidReq, "more than one client authentication method"},
		{"assertion and client_secret", func() url.Values {
			form := with(grant(), f.assertion(rsaClient, rsaSigner, nil))
			form.Set("client_secret", "x")
			return form
		}, "", "", invalidReq, "more than one client authentication method"},
		{"assertion in the URL query", grant,
			"client_assertion_type=" + url.QueryEscape(verify.AssertionType) + "&client_assertion=x", "", invalidReq,
			"client authentication parameters must be sent in the request body"},
		{"wrong client secret still fosite's", grant, "", basicClient + ":wrong", invalidClient, ""},
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
			if d, _ := body["error_description"].(string); !strings.Contains(d, tt.wantDesc) {
				t.Errorf("error_description = %q, want it to contain %q", d, tt.wantDesc)
			}
		})
	}
}

// TestInfrastructureFailures checks that a replay store or client storage
// that cannot answer fails the request with server_error, at the token and
// the introspection endpoints, and never with a success or {"active": false}.
func TestInfrastructureFailures(t *testing.T) {
	tests := []struct {
		name   string
		o      fixtureOptions
		client string
		s      signer
	}{
		{"replay store down", fixtureOptions{replayStore: failingStore{}}, rsaClient, rsaSigner},
		{"client storage down", fixtureOptions{clients: brokenClients{}}, rsaClient, rsaSigner},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.o)
			status, body := postForm(f.tokenURL, with(grant(), f.assertion(tt.client, tt.s, nil)), "", "")
			if got := outcomeOf(status, body); got != serverError {
				t.Errorf("token: %v %v", got, body)
			}
			if d, _ := body["error_description"].(string); strings.Contains(d, "down") {
				t.Errorf("error_description leaks the cause: %q", d)
			}
			status, body = postForm(f.introspectURL, with(url.Values{"token": {"x"}}, f.assertion(tt.client, tt.s, nil)), "", "")
			if got := outcomeOf(status, body); got != serverError {
				t.Errorf("introspect: %v %v", got, body)
			}
			// fosite's own revocation writer answers 200 OK here.
			status, body = postForm(f.revokeURL, with(url.Values{"token": {"x"}}, f.assertion(tt.client, tt.s, nil)), "", "")
			if got := outcomeOf(status, body); got != serverError {
				t.Errorf("revoke: %v %v", got, body)
			}
		})
	}
}

// TestRevocation revokes a token with private_key_jwt: fosite's revocation
// endpoint goes through the strategy.
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
// authentication: fosite's ways still work and mixing them with an assertion
// does not.
func TestIntrospectionAuthentication(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	tok := f.token(t, f.assertion(rsaClient, rsaSigner, nil))
	other := f.token(t, f.assertion(rsaClient, rsaSigner, nil))

	bearer := func(token string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
	}
	tests := []struct {
		name   string
		form   url.Values
		header func(*http.Request)
		want   outcome
		active bool
	}{
		{"assertion", with(url.Values{"token": {tok}}, f.assertion(rsaClient, rsaSigner, nil)), nil, ok, true},
		{"bearer token (fosite)", url.Values{"token": {tok}}, bearer(other), ok, true},
		{"assertion and bearer token", with(url.Values{"token": {tok}}, f.assertion(rsaClient, rsaSigner, nil)), bearer(other), invalidReq, false},
		{"assertion and access_token parameter", with(url.Values{"token": {tok}, "access_token": {other}}, f.assertion(rsaClient, rsaSigner, nil)), nil, invalidReq, false},
		{"bad assertion", with(url.Values{"token": {tok}}, f.assertion(rsaClient, rsaSigner, func(c map[string]any) { c["aud"] = f.tokenURL })), nil, invalidClient, false},
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

// TestStrategyWithoutFallback: Strategy(nil) accepts private_key_jwt only.
func TestStrategyWithoutFallback(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.config.ClientAuthenticationStrategy = f.auth.Strategy(nil)
	status, body := postForm(f.tokenURL, grant(), basicClient, basicSecret)
	if got := outcomeOf(status, body); got != invalidClient {
		t.Errorf("client_secret_basic: %v %v", got, body)
	}
	f.token(t, f.assertion(rsaClient, rsaSigner, nil))
}

// TestErrorsWrapVerifyError checks that the strategy's errors are fosite
// errors wrapping the *verify.Error, for hosts that log or inspect them.
func TestErrorsWrapVerifyError(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	strategy := f.auth.Strategy(nil)
	form := with(grant(), f.assertion(rsaClient, rsaSigner, func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }))
	r := httptest.NewRequest(http.MethodPost, f.tokenURL, nil)
	_, err := strategy(context.Background(), r, form)
	if !errors.Is(err, fosite.ErrInvalidClient) || !errors.Is(err, verify.ErrExpired) {
		t.Fatalf("err = %v, want fosite.ErrInvalidClient wrapping verify.ErrExpired", err)
	}
	var e *verify.Error
	if !errors.As(err, &e) || e.Reason != "expired" {
		t.Errorf("errors.As *verify.Error: %v", e)
	}
	var fe *fosite.RFC6749Error
	if errors.As(err, &fe) && fe.DebugField != "" {
		t.Errorf("debug text set: %q", fe.DebugField)
	}
}

func TestNew(t *testing.T) {
	store := storage.NewMemoryStore()
	tests := []struct {
		name    string
		clients fosite.ClientManager
		cfg     pkjwtfosite.Config
	}{
		{"nil clients", nil, pkjwtfosite.Config{}},
		{"client_secret_jwt", store, pkjwtfosite.Config{Verify: verify.Config{AllowClientSecretJWT: true}}},
		{"invalid verify config", store, pkjwtfosite.Config{Verify: verify.Config{MaxLifetime: -1}}},
		{"negative body cap", store, pkjwtfosite.Config{MaxBodyBytes: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if a, err := pkjwtfosite.New("https://as.example", tt.clients, mustMemory(t), tt.cfg); err == nil {
				a.Close()
				t.Error("New succeeded")
			}
		})
	}
	if _, err := pkjwtfosite.New("", store, mustMemory(t), pkjwtfosite.Config{}); err == nil {
		t.Error("New without issuer succeeded")
	}
}

func TestInstall(t *testing.T) {
	auth, err := pkjwtfosite.New("https://as.example", storage.NewMemoryStore(), mustMemory(t), pkjwtfosite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer auth.Close()
	config := &fosite.Config{GlobalSecret: []byte("a-32-byte-secret-for-hmac-tokens")}
	composed := compose.ComposeAllEnabled(config, storage.NewMemoryStore(), testkeys.Signer(testkeys.RSA2048))
	composeFn := func(*fosite.Config) fosite.OAuth2Provider { return composed }
	wrapped := func(*fosite.Config) fosite.OAuth2Provider { return struct{ fosite.OAuth2Provider }{composed} }

	if _, err := auth.Install(nil, composeFn); err == nil {
		t.Error("Install(nil config) succeeded")
	}
	if _, err := auth.Install(config, nil); err == nil {
		t.Error("Install(nil compose) succeeded")
	}
	if _, err := auth.Install(config, func(*fosite.Config) fosite.OAuth2Provider { return nil }); err == nil {
		t.Error("Install of a nil provider succeeded")
	}
	if _, err := auth.Install(config, wrapped); err == nil {
		t.Error("Install of a provider that is not a *fosite.Fosite, without a strategy, succeeded")
	}
	other := func(*fosite.Config) fosite.OAuth2Provider {
		return compose.ComposeAllEnabled(&fosite.Config{GlobalSecret: []byte("a-32-byte-secret-for-hmac-tokens")}, storage.NewMemoryStore(), testkeys.Signer(testkeys.RSA2048))
	}
	if _, err := auth.Install(config, other); err == nil {
		t.Error("Install of a provider composed from another config succeeded")
	}
	if config.ClientAuthenticationStrategy != nil {
		t.Error("a failed Install changed the config")
	}

	// An existing strategy becomes the fallback.
	called := false
	config.ClientAuthenticationStrategy = func(context.Context, *http.Request, url.Values) (fosite.Client, error) {
		called = true
		return nil, fosite.ErrInvalidClient
	}
	if _, err := auth.Install(config, wrapped); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/token", nil)
	if _, err := config.ClientAuthenticationStrategy(context.Background(), r, url.Values{"client_id": {"c"}}); !called || err == nil {
		t.Errorf("fallback called = %v, err = %v", called, err)
	}
}

// TestClose: an Authenticator closes the Registry it built, not one it was
// given, which stays usable by everyone who shares it.
func TestClose(t *testing.T) {
	own, err := pkjwtfosite.New("https://as.example", storage.NewMemoryStore(), mustMemory(t), pkjwtfosite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := own.Close(); err != nil {
		t.Fatal(err)
	}
	if err := own.Close(); err != nil {
		t.Fatal(err)
	}

	registry, err := jwksfetch.NewRegistry(jwksfetch.RegistryConfig{Remote: jwksfetch.RemoteConfig{InsecureAllowLoopbackAndHTTP: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer registry.Close()
	f := newFixture(t, fixtureOptions{cfg: pkjwtfosite.Config{Registry: registry}})
	f.token(t, f.assertion(edClient, edSigner, nil))
	if err := f.auth.Close(); err != nil {
		t.Fatal(err)
	}
	f.token(t, f.assertion(edClient, edSigner, nil)) // the shared registry still serves
	registry.Close()
	// Inline keys still verify; a jwks_uri cannot be fetched any more.
	f.token(t, f.assertion(rsaClient, rsaSigner, nil))
	status, body := postForm(f.tokenURL, with(grant(), f.assertion(edClient, edSigner, nil)), "", "")
	if got := outcomeOf(status, body); got != serverError {
		t.Errorf("jwks_uri client after the registry's Close: %v %v", got, body)
	}
}

// TestFositeAlone records what fosite does without pkjwt, as the package
// documentation describes it: the gaps this integration closes. If a fosite
// upgrade closes one, this test says so.
func TestFositeAlone(t *testing.T) {
	f := newFixture(t, fixtureOptions{native: true})
	tokenStatus := func(a string) int {
		status, _ := postForm(f.tokenURL, with(grant(), a), "", "")
		return status
	}
	toTokenURL := func(c map[string]any) { c["aud"] = f.tokenURL }

	if tokenStatus(f.assertion(rsaClient, rsaSigner, toTokenURL)) != http.StatusOK {
		t.Fatal("fosite rejects its own audience, the token endpoint URL")
	}
	if tokenStatus(f.assertion(rsaClient, rsaSigner, nil)) == http.StatusOK {
		t.Error("fosite now accepts the issuer identifier as aud")
	}
	if tokenStatus(f.assertion(edClient, edSigner, toTokenURL)) == http.StatusOK {
		t.Error("fosite now accepts EdDSA")
	}
	if tokenStatus(f.assertion(rsaClient, ecSigner, toTokenURL)) == http.StatusOK {
		t.Error("fosite now accepts ES256 from a client that registered no alg (it pins such clients to RS256)")
	}
	if tokenStatus(f.assertion(rsaClient, rsaSigner, func(c map[string]any) {
		c["aud"] = f.tokenURL
		c["iat"] = time.Now().Add(5 * time.Second).Unix()
	})) == http.StatusOK {
		t.Error("fosite now tolerates clock skew on iat")
	}
	// A rejected assertion burns its jti: fosite records it before checking aud.
	jti := testkeys.NewJTI()
	tokenStatus(f.assertion(rsaClient, rsaSigner, func(c map[string]any) { c["jti"] = jti }))
	if tokenStatus(f.assertion(rsaClient, rsaSigner, func(c map[string]any) { c["jti"] = jti; c["aud"] = f.tokenURL })) == http.StatusOK {
		t.Error("fosite no longer records the jti of an assertion it rejects for its aud")
	}

	tok := f.token(t, f.assertion(rsaClient, rsaSigner, toTokenURL))
	status, body := postForm(f.introspectURL, with(url.Values{"token": {tok}}, f.assertion(rsaClient, rsaSigner, toTokenURL)), "", "")
	if status == http.StatusOK {
		t.Errorf("fosite now accepts private_key_jwt at introspection: %v", body)
	}
}

// TestRejectedAssertionKeepsJTI: unlike fosite alone, an assertion rejected
// for its aud does not use up its jti.
func TestRejectedAssertionKeepsJTI(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	jti := testkeys.NewJTI()
	status, body := postForm(f.tokenURL, with(grant(), f.assertion(rsaClient, rsaSigner, func(c map[string]any) {
		c["jti"] = jti
		c["aud"] = f.tokenURL
	})), "", "")
	if got := outcomeOf(status, body); got != invalidClient {
		t.Fatalf("wrong aud: %v %v", got, body)
	}
	f.token(t, f.assertion(rsaClient, rsaSigner, func(c map[string]any) { c["jti"] = jti }))
}

// TestPushedAuthorization pushes an authorization request (RFC 9126) with
// private_key_jwt: fosite's PAR endpoint goes through the strategy, with the
// form of body and query, where an assertion is refused.
func TestPushedAuthorization(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	par := func() url.Values {
		return url.Values{"response_type": {"code"}, "client_id": {webClient}, "redirect_uri": {"https://client.example/cb"},
			"scope": {"read"}, "state": {"state-0123456789"}}
	}
	status, body := postForm(f.parURL, with(par(), f.assertion(webClient, ecSigner, nil)), "", "")
	if status != http.StatusCreated || !strings.HasPrefix(fmt.Sprint(body["request_uri"]), "urn:ietf:params:oauth:request_uri:") {
		t.Fatalf("PAR: %d %v", status, body)
	}

	a := f.assertion(webClient, ecSigner, nil)
	status, body = postForm(f.parURL, with(par(), a), "", "")
	if status != http.StatusCreated {
		t.Fatalf("PAR: %d %v", status, body)
	}
	status, body = postForm(f.parURL, with(par(), a), "", "")
	if got := outcomeOf(status, body); got != invalidClient {
		t.Errorf("PAR with a used assertion: %v %v", got, body)
	}

	q := url.Values{"client_assertion_type": {verify.AssertionType}, "client_assertion": {f.assertion(webClient, ecSigner, nil)}}
	// fosite turns every client authentication error at PAR into
	// invalid_client (pushed_authorize_request_handler.go).
	status, body = postForm(f.parURL+"?"+q.Encode(), par(), "", "")
	if got := outcomeOf(status, body); got != invalidClient || !strings.Contains(fmt.Sprint(body["error_description"]), "could not be authenticated") {
		t.Errorf("PAR with the assertion in the query: %v %v", got, body)
	}
}
