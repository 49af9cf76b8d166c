package pkjwtfosite_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/google/go-cmp/cmp"
	"github.com/ory/fosite"

	pkjwtfosite "github.com/pkjwt/pkjwt/integrations/fosite"
	"github.com/pkjwt/pkjwt/internal/edgetest"
	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/middleware"
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
	f.store.Clients["pk-any"] = &fosite.DefaultOpenIDConnectClient{
		DefaultClient:           &fosite.DefaultClient{ID: "pk-any", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}},
		JSONWebKeys:             &jose.JSONWebKeySet{Keys: keys},
		TokenEndpointAuthMethod: "private_key_jwt",
	}
	return "pk-any"
}

// TestMetadata serves the helper's fields in an RFC 8414 and an OpenID
// Connect discovery document, and checks that they tell the truth: every
// advertised signing alg gets a token for a client that registered none,
// and every advertised introspection method authenticates there.
func TestMetadata(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	doc := struct {
		Issuer string `json:"issuer"`
		middleware.Metadata
	}{f.issuer, f.auth.Metadata()}
	want := map[string]any{
		"issuer":                                        f.issuer,
		"token_endpoint_auth_methods_supported":         []any{"private_key_jwt", "client_secret_basic", "client_secret_post", "none"},
		"revocation_endpoint_auth_methods_supported":    []any{"private_key_jwt", "client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint_auth_methods_supported": []any{"private_key_jwt", "client_secret_basic"},
	}
	algs := make([]any, len(edgetest.Algorithms))
	for i, a := range edgetest.Algorithms {
		algs[i] = a
	}
	for _, e := range []string{"token", "revocation", "introspection"} {
		want[e+"_endpoint_auth_signing_alg_values_supported"] = algs
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("metadata (-want +got):\n%s", diff)
	}

	client := f.addAnyAlgClient()
	for _, alg := range got["token_endpoint_auth_signing_alg_values_supported"].([]any) {
		tok := f.token(t, f.assertion(client, algSigner(alg.(string)), nil))
		status, body := postForm(f.introspectURL, with(url.Values{"token": {tok}}, f.assertion(client, algSigner(alg.(string)), nil)), "", "")
		if status != http.StatusOK || body["active"] != true {
			t.Errorf("%s at introspection: %d %v", alg, status, body)
		}
	}
	tok := f.token(t, f.assertion(rsaClient, rsaSigner, nil))
	if status, body := postForm(f.introspectURL, url.Values{"token": {tok}}, basicClient, basicSecret); status != http.StatusOK || body["active"] != true {
		t.Errorf("client_secret_basic at introspection: %d %v", status, body)
	}
}

// hydraClient reports "RS256" when it registered no alg, as Ory Hydra's
// client.Client does (client/client.go, GetTokenEndpointAuthSigningAlgorithm).
type hydraClient struct {
	*fosite.DefaultOpenIDConnectClient
	TokenEndpointAuthSigningAlgorithm string // the registration's own field
}

func (c *hydraClient) GetTokenEndpointAuthSigningAlgorithm() string {
	if c.TokenEndpointAuthSigningAlgorithm == "" {
		return "RS256"
	}
	return c.TokenEndpointAuthSigningAlgorithm
}

// TestSigningAlg: a registered token_endpoint_auth_signing_alg is the only
// one accepted; a client without one may use any alg of the verifier's
// list, also when its type reports "RS256" for "unset" (fosite's stock
// client by default, another type through Config.SigningAlg).
func TestSigningAlg(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	// fosite.DefaultOpenIDConnectClient with no alg: reported as RS256 by
	// fosite, any alg for pkjwt.
	f.token(t, f.assertion(rsaClient, ecSigner, nil))
	f.token(t, f.assertion(rsaClient, rsaSigner, nil))
	// Registered EdDSA: nothing else.
	f.token(t, f.assertion(edClient, edSigner, nil))
	for _, s := range []signer{rsaSigner, {testkeys.P256, "ES256", "ed1"}} {
		status, body := postForm(f.tokenURL, with(grant(), f.assertion(edClient, s, nil)), "", "")
		if got := outcomeOf(status, body); got != invalidClient || !strings.Contains(body["error_description"].(string), "client assertion alg is not allowed") {
			t.Errorf("%s for an EdDSA client: %v %v", s.alg, got, body)
		}
	}

	register := func(f *fixture, id, alg string) {
		base := &fosite.DefaultOpenIDConnectClient{
			DefaultClient: &fosite.DefaultClient{ID: id, GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}},
			JSONWebKeys: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
				{Key: testkeys.Public(testkeys.P256), KeyID: "ec1", Use: "sig"},
				{Key: testkeys.Public(testkeys.RSA2048), KeyID: "rsa1", Use: "sig"},
			}},
			TokenEndpointAuthMethod: "private_key_jwt",
		}
		f.store.Clients[id] = &hydraClient{DefaultOpenIDConnectClient: base, TokenEndpointAuthSigningAlgorithm: alg}
	}
	// Without Config.SigningAlg the getter's "RS256" pins the client.
	register(f, "hydra-unset", "")
	status, body := postForm(f.tokenURL, with(grant(), f.assertion("hydra-unset", ecSigner, nil)), "", "")
	if got := outcomeOf(status, body); got != invalidClient {
		t.Errorf("ES256 of a client whose getter reports RS256: %v %v", got, body)
	}

	// With it, the host says what its registration holds.
	g := newFixture(t, fixtureOptions{cfg: pkjwtfosite.Config{SigningAlg: func(c fosite.OpenIDConnectClient) string {
		if h, ok := c.(*hydraClient); ok {
			return h.TokenEndpointAuthSigningAlgorithm
		}
		return c.GetTokenEndpointAuthSigningAlgorithm()
	}}})
	register(g, "hydra-unset", "")
	register(g, "hydra-es256", "ES256")
	g.token(t, g.assertion("hydra-unset", ecSigner, nil))
	g.token(t, g.assertion("hydra-unset", rsaSigner, nil))
	g.token(t, g.assertion("hydra-es256", ecSigner, nil))
	status, body = postForm(g.tokenURL, with(grant(), g.assertion("hydra-es256", rsaSigner, nil)), "", "")
	if got := outcomeOf(status, body); got != invalidClient {
		t.Errorf("RS256 of a client registered for ES256: %v %v", got, body)
	}
}

// TestTokenRequestShape: a repeated parameter is invalid_request, before
// fosite takes the first value; a grant no handler serves is
// unsupported_grant_type. fosite alone answers both otherwise.
func TestTokenRequestShape(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	native := newFixture(t, fixtureOptions{native: true})
	unsupported := outcome{http.StatusBadRequest, "unsupported_grant_type"}
	tests := []struct {
		name        string
		form        func(f *fixture) url.Values
		want, alone outcome
	}{
		{"grant_type twice", func(f *fixture) url.Values {
			form := with(grant(), f.assertion(rsaClient, rsaSigner, func(c map[string]any) { c["aud"] = []string{f.issuer, f.tokenURL} }))
			form["grant_type"] = []string{"client_credentials", "authorization_code"}
			return form
		}, invalidReq, ok},
		{"scope twice", func(f *fixture) url.Values {
			form := with(grant(), f.assertion(rsaClient, rsaSigner, nil))
			form.Add("scope", "write")
			return form
		}, invalidReq, invalidClient},
		{"unsupported grant", func(f *fixture) url.Values {
			form := with(grant(), f.assertion(rsaClient, rsaSigner, nil))
			form.Set("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange")
			return form
		}, unsupported, invalidReq},
		{"unsupported grant, HTTP Basic", func(*fixture) url.Values {
			return url.Values{"grant_type": {"urn:example:unknown"}}
		}, unsupported, invalidReq},
		{"resource twice (RFC 8707)", func(f *fixture) url.Values {
			form := with(grant(), f.assertion(rsaClient, rsaSigner, nil))
			form["resource"] = []string{"https://rs1.example", "https://rs2.example"}
			return form
		}, ok, invalidClient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user := ""
			if strings.HasSuffix(tt.name, "HTTP Basic") {
				user = basicClient
			}
			status, body := postForm(f.tokenURL, tt.form(f), user, basicSecret)
			if got := outcomeOf(status, body); got != tt.want {
				t.Errorf("with pkjwt: %v %v, want %v", got, body, tt.want)
			}
			status, body = postForm(native.tokenURL, tt.form(native), user, basicSecret)
			if got := outcomeOf(status, body); got != tt.alone {
				t.Errorf("fosite alone: %v %v, want %v", got, body, tt.alone)
			}
		})
	}
}

// TestNoStore: every token and introspection answer carries Cache-Control:
// no-store and Pragma: no-cache, and every refusal an RFC 6749 §5.2 code.
func TestNoStore(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	tok := f.token(t, f.assertion(rsaClient, rsaSigner, nil))
	type request struct {
		url, user string
		form      url.Values
		want      outcome
	}
	requests := map[string]request{
		"token":                         {f.tokenURL, "", with(grant(), f.assertion(rsaClient, rsaSigner, nil)), ok},
		"token, expired assertion":      {f.tokenURL, "", with(grant(), f.assertion(rsaClient, rsaSigner, func(c map[string]any) { c["exp"] = 1 })), invalidClient},
		"token, repeated parameter":     {f.tokenURL, "", url.Values{"grant_type": {"a", "b"}}, invalidReq},
		"token, unsupported grant":      {f.tokenURL, basicClient, url.Values{"grant_type": {"password2"}}, outcome{http.StatusBadRequest, "unsupported_grant_type"}},
		"introspection":                 {f.introspectURL, "", with(url.Values{"token": {tok}}, f.assertion(rsaClient, rsaSigner, nil)), ok},
		"introspection, Basic":          {f.introspectURL, basicClient, url.Values{"token": {tok}}, ok},
		"introspection, inactive":       {f.introspectURL, "", with(url.Values{"token": {"nope"}}, f.assertion(rsaClient, rsaSigner, nil)), ok},
		"introspection, bad assertion":  {f.introspectURL, "", with(url.Values{"token": {tok}}, f.assertion(rsaClient, ecSigner, func(c map[string]any) { c["exp"] = 1 })), invalidClient},
		"introspection, no credentials": {f.introspectURL, "", url.Values{"token": {tok}}, invalidClient},
		"introspection, wrong secret":   {f.introspectURL, basicClient + ":wrong", url.Values{"token": {tok}}, invalidClient},
	}
	for name, rq := range requests {
		t.Run(name, func(t *testing.T) {
			user, password, _ := strings.Cut(rq.user, ":")
			if user != "" && password == "" {
				password = basicSecret
			}
			var header http.Header
			status, body := post(rq.url, rq.form, func(r *http.Request) {
				if user != "" {
					r.SetBasicAuth(user, password)
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

	// fosite alone answers introspection without credentials with a code
	// of its own.
	native := newFixture(t, fixtureOptions{native: true})
	status, body := postForm(native.introspectURL, url.Values{"token": {"x"}}, "", "")
	if got := outcomeOf(status, body); got.Error != "request_unauthorized" {
		t.Errorf("fosite alone, no credentials at introspection: %d %v", status, body)
	}
}

// TestBodyCap: the provider reads at most Config.MaxBodyBytes, where fosite
// alone parses up to 10 MB.
func TestBodyCap(t *testing.T) {
	f := newFixture(t, fixtureOptions{cfg: pkjwtfosite.Config{MaxBodyBytes: 4 << 10}})
	native := newFixture(t, fixtureOptions{native: true})
	big := func(f *fixture) url.Values {
		form := with(grant(), f.assertion(rsaClient, rsaSigner, func(c map[string]any) { c["aud"] = []string{f.issuer, f.tokenURL} }))
		form.Set("padding", strings.Repeat("x", 8<<10))
		return form
	}
	for _, u := range []func(f *fixture) string{
		func(f *fixture) string { return f.tokenURL },
		func(f *fixture) string { return f.introspectURL },
		func(f *fixture) string { return f.revokeURL },
		func(f *fixture) string { return f.parURL },
	} {
		status, body := postForm(u(f), big(f), "", "")
		if got := outcomeOf(status, body); (got != invalidReq && got != invalidClient) || !strings.Contains(body["error_description"].(string), "the request body is too large") {
			t.Errorf("%s: %v %v", u(f), got, body)
		}
	}
	// The cap is the body's, not the form's: a small one passes.
	f.token(t, f.assertion(rsaClient, rsaSigner, nil))
	if status, body := postForm(native.tokenURL, big(native), "", ""); status != http.StatusOK {
		t.Errorf("fosite alone refused an 8 KiB body: %d %v", status, body)
	}
}

// TestCheckClient: a registration pkjwt cannot use is refused when the
// server starts, with the reason.
func TestCheckClient(t *testing.T) {
	f := newFixture(t, fixtureOptions{cfg: pkjwtfosite.Config{Verify: verify.Config{Algorithms: []string{"ES256", "EdDSA"}}}})
	pk := func(keys *jose.JSONWebKeySet, uri, alg string) fosite.Client {
		return &fosite.DefaultOpenIDConnectClient{
			DefaultClient: &fosite.DefaultClient{ID: "c"}, JSONWebKeys: keys, JSONWebKeysURI: uri,
			TokenEndpointAuthMethod: "private_key_jwt", TokenEndpointAuthSigningAlgorithm: alg,
		}
	}
	good := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: testkeys.Public(testkeys.P256), KeyID: "k", Use: "sig"}}}
	tests := []struct {
		name   string
		client fosite.Client
		want   error
	}{
		{"inline jwks", pk(good, "", "ES256"), nil},
		{"jwks_uri", f.store.Clients[edClient], nil},
		{"client_secret_basic: fosite's", f.store.Clients[basicClient], nil},
		{"symmetric key in jwks", pk(&jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "k"}}}, "", ""), verify.ErrKeyNotFound},
		{"private key in jwks", f.store.Clients[badKeyClient], verify.ErrKeyNotFound},
		{"no keys", f.store.Clients[noKeyClient], verify.ErrKeyNotFound},
		{"jwks_uri not a URL", pk(nil, "://nope", ""), verify.ErrKeyNotFound},
		{"alg off the verifier's list", pk(good, "", "RS256"), verify.ErrAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.auth.CheckClient(tt.client)
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Errorf("CheckClient = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestLoggedOnce: each refused assertion is one record of Config.Logger,
// with its reason and never the assertion, at every endpoint.
func TestLoggedOnce(t *testing.T) {
	h := &edgetest.Records{}
	f := newFixture(t, fixtureOptions{cfg: pkjwtfosite.Config{Logger: slog.New(h)}})
	expired := func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }
	for _, u := range []string{f.tokenURL, f.introspectURL, f.revokeURL} {
		a := f.assertion(rsaClient, rsaSigner, expired)
		form := with(url.Values{"token": {"x"}, "grant_type": {"client_credentials"}}, a)
		if status, body := postForm(u, form, "", ""); status != http.StatusUnauthorized {
			t.Fatalf("%s: %d %v", u, status, body)
		}
		got := h.Take()
		if len(got) != 1 {
			t.Errorf("%s: %d records, want 1", u, len(got))
			continue
		}
		if attrs := edgetest.Attrs(got[0]); attrs["reason"] != "expired" || strings.Contains(fmt.Sprint(attrs), a) {
			t.Errorf("%s: record %v", u, attrs)
		}
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
		"token, bad authorization code":    {f.tokenURL, "", "", with(url.Values{"grant_type": {"authorization_code"}, "code": {"x"}}, f.assertion(webClient, ecSigner, nil))},
		"token, scope not allowed":         {f.tokenURL, "", "", with(url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}}, a())},
		"token, no credentials":            {f.tokenURL, "", "", grant()},
		"token, unknown Basic client":      {f.tokenURL, "", "nobody", grant()},
		"token, assertion type only":       {f.tokenURL, "", "", url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {verify.AssertionType}}},
		"token, malformed assertion":       {f.tokenURL, "", "", with(grant(), "not.a.jwt")},
		"introspection, GET":               {f.introspectURL, http.MethodGet, "", nil},
		"introspection, empty body":        {f.introspectURL, "", "", url.Values{}},
		"introspection, no credentials":    {f.introspectURL, "", "", url.Values{"token": {tok}}},
		"introspection, unknown client":    {f.introspectURL, "", "nobody", url.Values{"token": {tok}}},
		"introspection, bearer not token":  {f.introspectURL, "", "bearer", url.Values{"token": {tok}}},
		"introspection, malformed":         {f.introspectURL, "", "", with(url.Values{"token": {tok}}, "x")},
		"revocation, no credentials":       {f.revokeURL, "", "", url.Values{"token": {tok}}},
		"revocation, malformed assertion":  {f.revokeURL, "", "", with(url.Values{"token": {tok}}, "x")},
		"revocation, assertion and secret": {f.revokeURL, "", "", with(url.Values{"token": {tok}, "client_secret": {"s"}}, a())},
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
			switch rq.user {
			case "":
			case "bearer":
				req.Header.Set("Authorization", "Bearer not-a-token")
			default:
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

// TestSharedRegistry: two Authenticators given one Registry fetch a
// client's jwks_uri document once between them.
func TestSharedRegistry(t *testing.T) {
	jwks := edgetest.NewJWKS(t)
	for _, f := range []*fixture{
		newFixture(t, fixtureOptions{cfg: pkjwtfosite.Config{Registry: jwks.Registry}}),
		newFixture(t, fixtureOptions{cfg: pkjwtfosite.Config{Registry: jwks.Registry}}),
	} {
		f.store.Clients["pk-shared"] = &fosite.DefaultOpenIDConnectClient{
			DefaultClient:           &fosite.DefaultClient{ID: "pk-shared", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}},
			JSONWebKeysURI:          jwks.URL,
			TokenEndpointAuthMethod: "private_key_jwt",
		}
		f.token(t, f.assertion("pk-shared", edSigner, nil))
		f.token(t, f.assertion("pk-shared", edSigner, nil))
	}
	if n := jwks.Fetches(); n != 1 {
		t.Errorf("the shared document was fetched %d times, want 1", n)
	}
}

// TestLeeway: Config.Verify follows verify's configuration rule; its zero
// Leeway is the default (15 s), a negative one is none.
func TestLeeway(t *testing.T) {
	ahead := func(c map[string]any) { c["iat"] = time.Now().Add(5 * time.Second).Unix() }
	f := newFixture(t, fixtureOptions{})
	f.token(t, f.assertion(rsaClient, rsaSigner, ahead))
	none := newFixture(t, fixtureOptions{cfg: pkjwtfosite.Config{Verify: verify.Config{Leeway: -1}}})
	status, body := postForm(none.tokenURL, with(grant(), none.assertion(rsaClient, rsaSigner, ahead)), "", "")
	if got := outcomeOf(status, body); got != invalidClient {
		t.Errorf("iat 5 s ahead without leeway: %v %v", got, body)
	}
}
