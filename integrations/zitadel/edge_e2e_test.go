package pkjwtzitadel_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	pkjwtzitadel "github.com/pkjwt/pkjwt/integrations/zitadel"
	"github.com/pkjwt/pkjwt/internal/edgetest"
	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/verify"
)

// algSigner returns a signer of the "pk-any" client for alg.
func algSigner(alg string) signer {
	key := edgetest.KeyFor(alg)
	return signer{key, alg, key}
}

// addAnyAlgClient registers "pk-any": private_key_jwt, no registered alg,
// keys without alg members for every key type.
func (f *fixture) addAnyAlgClient() string {
	var keys []jose.JSONWebKey
	for _, k := range edgetest.AnyAlgKeys {
		keys = append(keys, jose.JSONWebKey{Key: testkeys.Public(k), KeyID: k, Use: "sig"})
	}
	f.storage.addClient(&client{id: "pk-any", authMethod: oidc.AuthMethodPrivateKeyJWT}, keys...)
	return "pk-any"
}

// get fetches u and decodes its JSON body.
func get(t *testing.T, u string) map[string]any {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&m) != nil {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	return m
}

// TestMetadata reads the discovery document the Handler serves, and the
// same through MetadataServer at both well-known paths (OpenID Connect
// Discovery and RFC 8414), and checks that it tells the truth: every
// advertised signing alg gets a token for a client that registered none.
func TestMetadata(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	native := newFixture(t, fixtureOptions{native: true})
	algs := make([]any, len(edgetest.Algorithms))
	for i, a := range edgetest.Algorithms {
		algs[i] = a
	}
	methods := []any{"none", "client_secret_basic", "client_secret_post", "private_key_jwt"}
	want := map[string]any{
		"token_endpoint_auth_methods_supported":                    methods,
		"revocation_endpoint_auth_methods_supported":               methods,
		"introspection_endpoint_auth_methods_supported":            []any{"client_secret_basic", "private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported":         algs,
		"revocation_endpoint_auth_signing_alg_values_supported":    algs,
		"introspection_endpoint_auth_signing_alg_values_supported": algs,
	}
	pick := func(doc map[string]any) map[string]any {
		got := map[string]any{}
		for k := range want {
			got[k] = doc[k]
		}
		return got
	}
	metadata := httptest.NewServer(op.RegisterMetadataServer(f.auth.MetadataServer(op.NewLegacyServer(f.provider, *op.DefaultEndpoints))))
	t.Cleanup(metadata.Close)
	for _, u := range []string{
		f.issuer + "/.well-known/openid-configuration",
		metadata.URL + "/.well-known/openid-configuration",
		metadata.URL + "/.well-known/oauth-authorization-server",
	} {
		doc := get(t, u)
		if diff := cmp.Diff(want, pick(doc)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", u, diff)
		}
		if doc["issuer"] != f.issuer || doc["token_endpoint"] != f.tokenURL {
			t.Errorf("%s: issuer %v, token_endpoint %v", u, doc["issuer"], doc["token_endpoint"])
		}
	}
	if got := get(t, native.issuer+"/.well-known/openid-configuration")["token_endpoint_auth_signing_alg_values_supported"]; !cmp.Equal(got, []any{"RS256"}) {
		t.Errorf("zitadel/oidc alone advertises %v; the package documentation says RS256", got)
	}

	client := f.addAnyAlgClient()
	for _, alg := range edgetest.Algorithms {
		tok := f.token(t, f.assertion(client, algSigner(alg), nil))
		status, body := postForm(f.introspectURL, with(url.Values{"token": {tok}}, f.assertion(client, algSigner(alg), nil)), "", "")
		if status != http.StatusOK || body["active"] != true {
			t.Errorf("%s at introspection: %d %v", alg, status, body)
		}
	}
}

// TestSigningAlg: a registered token_endpoint_auth_signing_alg, which
// zitadel/oidc's op.Client cannot carry, reaches the verifier through
// Config.SigningAlg and is the only alg accepted.
func TestSigningAlg(t *testing.T) {
	f := newFixture(t, fixtureOptions{cfg: pkjwtzitadel.Config{SigningAlg: func(c op.Client) string {
		if c, ok := c.(*client); ok {
			return c.signingAlg
		}
		return ""
	}}})
	keys := []jose.JSONWebKey{
		{Key: testkeys.Public(testkeys.RSA2048), KeyID: "rsa1", Use: "sig"},
		{Key: testkeys.Public(testkeys.P256), KeyID: "ec1", Use: "sig"},
	}
	f.storage.addClient(&client{id: "pk-es256", authMethod: oidc.AuthMethodPrivateKeyJWT, signingAlg: "ES256"}, keys...)
	f.storage.addClient(&client{id: "pk-ps512", authMethod: oidc.AuthMethodPrivateKeyJWT, signingAlg: "PS512"}, keys...)

	f.token(t, f.assertion("pk-es256", ecSigner, nil))
	f.token(t, f.assertion(rsaClient, ecSigner, nil)) // none registered: any
	f.token(t, f.assertion(rsaClient, rsaSigner, nil))
	for _, tt := range []struct {
		client string
		s      signer
	}{
		{"pk-es256", rsaSigner},
		{"pk-es256", signer{testkeys.RSA2048, "PS256", "rsa1"}},
		{"pk-ps512", rsaSigner},
	} {
		status, body := postForm(f.tokenURL, with(grant(), f.assertion(tt.client, tt.s, nil)), "", "")
		if got := outcomeOf(status, body); got != invalidClient || body["error_description"] != "client assertion alg is not allowed" {
			t.Errorf("%s signed %s: %v %v", tt.client, tt.s.alg, got, body)
		}
	}
	if err := f.auth.CheckClient(&client{id: "x", authMethod: oidc.AuthMethodPrivateKeyJWT, signingAlg: "HS256"}); err == nil {
		t.Error("CheckClient accepted a registered alg the verifier refuses")
	}
}

// TestTokenRequestShape: a repeated parameter is invalid_request, where
// zitadel/oidc alone takes the first value; an unsupported grant is
// unsupported_grant_type.
func TestTokenRequestShape(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	native := newFixture(t, fixtureOptions{native: true})
	unsupported := outcome{http.StatusBadRequest, "unsupported_grant_type"}
	tests := []struct {
		name        string
		form        func(f *fixture) url.Values
		basic       bool
		want, alone outcome
	}{
		{"grant_type twice", func(*fixture) url.Values {
			return url.Values{"grant_type": {"client_credentials", "password"}, "scope": {"read"}}
		}, true, invalidReq, ok},
		{"scope twice", func(*fixture) url.Values {
			return url.Values{"grant_type": {"client_credentials"}, "scope": {"read", "write"}}
		}, true, invalidReq, ok},
		{"client_assertion twice", func(f *fixture) url.Values {
			form := with(grant(), f.assertion(rsaClient, rsaSigner, nil))
			form.Add("client_assertion", f.assertion(rsaClient, rsaSigner, nil))
			return form
		}, false, invalidReq, outcome{http.StatusBadRequest, "invalid_client"}},
		{"unsupported grant", func(f *fixture) url.Values {
			form := with(grant(), f.assertion(rsaClient, rsaSigner, nil))
			form.Set("grant_type", "password")
			return form
		}, false, unsupported, unsupported},
		{"resource twice (RFC 8707)", func(f *fixture) url.Values {
			form := with(grant(), f.assertion(rsaClient, rsaSigner, nil))
			form["resource"] = []string{"https://rs1.example", "https://rs2.example"}
			return form
		}, false, ok, outcome{http.StatusBadRequest, "invalid_client"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user := ""
			if tt.basic {
				user = basicClient
			}
			status, body := postForm(f.tokenURL, tt.form(f), user, basicSecret)
			if got := outcomeOf(status, body); got != tt.want {
				t.Errorf("with pkjwt: %v %v, want %v", got, body, tt.want)
			}
			status, body = postForm(native.tokenURL, tt.form(native), user, basicSecret)
			if got := outcomeOf(status, body); got != tt.alone {
				t.Errorf("zitadel/oidc alone: %v %v, want %v", got, body, tt.alone)
			}
		})
	}
}

// TestNoStore: every token, introspection and revocation answer carries
// Cache-Control: no-store and Pragma: no-cache, which zitadel/oidc alone
// does not send.
func TestNoStore(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	tok := f.token(t, f.assertion(rsaClient, rsaSigner, nil))
	type request struct {
		url, user string
		form      url.Values
		want      outcome
	}
	requests := map[string]request{
		"token":                        {f.tokenURL, "", with(grant(), f.assertion(rsaClient, rsaSigner, nil)), ok},
		"token, HTTP Basic":            {f.tokenURL, basicClient, grant(), ok},
		"token, expired assertion":     {f.tokenURL, "", with(grant(), f.assertion(rsaClient, rsaSigner, func(c map[string]any) { c["exp"] = 1 })), invalidClient},
		"token, repeated parameter":    {f.tokenURL, basicClient, url.Values{"grant_type": {"a", "b"}}, invalidReq},
		"token, unsupported grant":     {f.tokenURL, basicClient, url.Values{"grant_type": {"password"}}, outcome{http.StatusBadRequest, "unsupported_grant_type"}},
		"introspection":                {f.introspectURL, "", with(url.Values{"token": {tok}}, f.assertion(rsaClient, rsaSigner, nil)), ok},
		"introspection, bad assertion": {f.introspectURL, "", with(url.Values{"token": {tok}}, f.assertion(rsaClient, rsaSigner, func(c map[string]any) { c["exp"] = 1 })), invalidClient},
		"revocation":                   {f.revokeURL, "", with(url.Values{"token": {"nope"}}, f.assertion(rsaClient, rsaSigner, nil)), ok},
	}
	native := newFixture(t, fixtureOptions{native: true})
	for name, rq := range requests {
		t.Run(name, func(t *testing.T) {
			var header http.Header
			status, body := do(http.DefaultClient, rq.url, rq.form, func(r *http.Request) {
				if rq.user != "" {
					r.SetBasicAuth(rq.user, basicSecret)
				}
			}, &header)
			if got := outcomeOf(status, body); got != rq.want {
				t.Errorf("got %v %v, want %v", got, body, rq.want)
			}
			if header.Get("Cache-Control") != "no-store" || header.Get("Pragma") != "no-cache" {
				t.Errorf("Cache-Control %q, Pragma %q", header.Get("Cache-Control"), header.Get("Pragma"))
			}
		})
	}
	var header http.Header
	do(http.DefaultClient, native.tokenURL, grant(), func(r *http.Request) { r.SetBasicAuth(basicClient, basicSecret) }, &header)
	if header.Get("Cache-Control") == "no-store" {
		t.Error("zitadel/oidc alone now sends Cache-Control: no-store")
	}
}

// TestBodyCap: the token, introspection and revocation endpoints read at
// most Config.MaxBodyBytes; zitadel/oidc alone parses up to net/http's
// 10 MB.
func TestBodyCap(t *testing.T) {
	f := newFixture(t, fixtureOptions{cfg: pkjwtzitadel.Config{MaxBodyBytes: 4 << 10}})
	native := newFixture(t, fixtureOptions{native: true})
	padded := func() url.Values {
		form := grant()
		form.Set("padding", strings.Repeat("x", 8<<10))
		return form
	}
	for _, u := range []string{f.tokenURL, f.introspectURL, f.revokeURL} {
		status, body := postForm(u, padded(), basicClient, basicSecret)
		if status != http.StatusRequestEntityTooLarge || body["error"] != "invalid_request" || body["error_description"] != "the request body is too large" {
			t.Errorf("%s: %d %v", u, status, body)
		}
	}
	if status, body := postForm(f.tokenURL, grant(), basicClient, basicSecret); status != http.StatusOK {
		t.Errorf("a small body: %d %v", status, body)
	}
	if status, body := postForm(native.tokenURL, padded(), basicClient, basicSecret); status != http.StatusOK {
		t.Errorf("zitadel/oidc alone refused an 8 KiB body: %d %v", status, body)
	}
}

// TestLoggedOnce: a refused assertion is logged once, by zitadel/oidc
// through slog's default logger, with pkjwt's error as the parent.
func TestLoggedOnce(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	h := &edgetest.Records{}
	old := slog.Default()
	slog.SetDefault(slog.New(h))
	defer slog.SetDefault(old)

	a := f.assertion(rsaClient, rsaSigner, func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() })
	status, _ := postForm(f.tokenURL, with(grant(), a), "", "")
	if status != http.StatusUnauthorized {
		t.Fatalf("status %d", status)
	}
	got := h.Take()
	if len(got) != 1 {
		t.Fatalf("%d records, want 1", len(got))
	}
	text := fmt.Sprint(edgetest.Attrs(got[0]))
	if !strings.Contains(text, "verify: client assertion has expired") || strings.Contains(text, a) {
		t.Errorf("record %q", text)
	}
}

// TestRefusalCodes sends requests that fail in every way a client can make
// them fail, at the token, introspection and revocation endpoints: each
// refusal carries an RFC 6749 §5.2 code and the no-store headers.
func TestRefusalCodes(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	tok := f.token(t, f.assertion(rsaClient, rsaSigner, nil))
	a := func() string { return f.assertion(rsaClient, rsaSigner, nil) }
	type request struct {
		url, method, user string
		form              url.Values
	}
	requests := map[string]request{
		"token, GET":                       {f.tokenURL, http.MethodGet, "", nil},
		"token, empty body":                {f.tokenURL, "", "", url.Values{}},
		"token, no grant_type":             {f.tokenURL, "", "", with(url.Values{}, a())},
		"token, grant not allowed":         {f.tokenURL, "", "", with(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}, a())},
		"token, no credentials":            {f.tokenURL, "", "", grant()},
		"token, unknown Basic client":      {f.tokenURL, "", "nobody", grant()},
		"token, assertion type only":       {f.tokenURL, "", "", url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {"x"}}},
		"token, malformed assertion":       {f.tokenURL, "", "", with(grant(), "not.a.jwt")},
		"introspection, empty body":        {f.introspectURL, "", "", url.Values{}},
		"introspection, no credentials":    {f.introspectURL, "", "", url.Values{"token": {tok}}},
		"introspection, unknown client":    {f.introspectURL, "", "nobody", url.Values{"token": {tok}}},
		"introspection, malformed":         {f.introspectURL, "", "", with(url.Values{"token": {tok}}, "x")},
		"introspection, no token":          {f.introspectURL, "", "", with(url.Values{}, a())},
		"revocation, no credentials":       {f.revokeURL, "", "", url.Values{"token": {tok}}},
		"revocation, malformed assertion":  {f.revokeURL, "", "", with(url.Values{"token": {tok}}, "x")},
		"revocation, assertion and secret": {f.revokeURL, "", "", with(url.Values{"token": {tok}, "client_secret": {"s"}}, a())},
		"revocation, assertion in the URL": {f.revokeURL + "?client_assertion=x", "", "", url.Values{"token": {tok}}},
	}
	for name, rq := range requests {
		t.Run(name, func(t *testing.T) {
			method := rq.method
			if method == "" {
				method = http.MethodPost
			}
			req, err := http.NewRequest(method, rq.url, strings.NewReader(rq.form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if rq.user != "" {
				req.SetBasicAuth(rq.user, "secret")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			edgetest.CheckRefusal(t, resp)
		})
	}
}

// TestLeeway: Config.Verify follows verify's configuration rule; its zero
// Leeway is the default (15 s), a negative one is none.
func TestLeeway(t *testing.T) {
	ahead := func(c map[string]any) { c["iat"] = time.Now().Add(5 * time.Second).Unix() }
	f := newFixture(t, fixtureOptions{})
	f.token(t, f.assertion(rsaClient, rsaSigner, ahead))
	none := newFixture(t, fixtureOptions{cfg: pkjwtzitadel.Config{Verify: verify.Config{Leeway: -1}}})
	status, body := postForm(none.tokenURL, with(grant(), none.assertion(rsaClient, rsaSigner, ahead)), "", "")
	if got := outcomeOf(status, body); got != invalidClient {
		t.Errorf("iat 5 s ahead without leeway: %v %v", got, body)
	}
}
