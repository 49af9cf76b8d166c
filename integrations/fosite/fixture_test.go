package pkjwtfosite_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/storage"

	pkjwtfosite "github.com/pkjwt/pkjwt/integrations/fosite"
	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/jwksfetch"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

// The clients of the fixture.
const (
	rsaClient    = "pk-rsa"   // private_key_jwt, inline jwks, no alg registered (fosite: RS256)
	edClient     = "pk-ed"    // private_key_jwt, EdDSA, jwks_uri
	basicClient  = "basic"    // client_secret_basic
	badKeyClient = "pk-bad"   // private_key_jwt, a private key in its jwks
	noKeyClient  = "pk-nokey" // private_key_jwt, neither jwks nor jwks_uri
	webClient    = "pk-web"   // private_key_jwt, ES256, authorization code flow
	basicSecret  = "basic-client-secret"
)

// tokenEndpoint is a fosite token endpoint, as fosite's documentation writes
// it; it grants every requested scope the client may have.
func tokenEndpoint(p fosite.OAuth2Provider) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ar, err := p.NewAccessRequest(ctx, r, new(fosite.DefaultSession))
		if err != nil {
			p.WriteAccessError(ctx, w, ar, err)
			return
		}
		for _, s := range ar.GetRequestedScopes() {
			ar.GrantScope(s)
		}
		resp, err := p.NewAccessResponse(ctx, ar)
		if err != nil {
			p.WriteAccessError(ctx, w, ar, err)
			return
		}
		p.WriteAccessResponse(ctx, w, ar, resp)
	}
}

// introspectionEndpoint is a fosite introspection endpoint.
func introspectionEndpoint(p fosite.OAuth2Provider) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ir, err := p.NewIntrospectionRequest(ctx, r, new(fosite.DefaultSession))
		if err != nil {
			p.WriteIntrospectionError(ctx, w, err)
			return
		}
		p.WriteIntrospectionResponse(ctx, w, ir)
	}
}

// parEndpoint is a fosite pushed authorization request endpoint.
func parEndpoint(p fosite.OAuth2Provider) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ar, err := p.NewPushedAuthorizeRequest(ctx, r)
		if err != nil {
			p.WritePushedAuthorizeError(ctx, w, ar, err)
			return
		}
		resp, err := p.NewPushedAuthorizeResponse(ctx, ar, new(fosite.DefaultSession))
		if err != nil {
			p.WritePushedAuthorizeError(ctx, w, ar, err)
			return
		}
		p.WritePushedAuthorizeResponse(ctx, w, ar, resp)
	}
}

// revocationEndpoint is a fosite revocation endpoint.
func revocationEndpoint(p fosite.OAuth2Provider) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p.WriteRevocationResponse(r.Context(), w, p.NewRevocationRequest(r.Context(), r))
	}
}

// postForm posts form to u, with HTTP Basic credentials if user is not empty,
// and returns the status and the decoded JSON body (nil if not JSON).
func postForm(u string, form url.Values, user, password string) (int, map[string]any) {
	return post(u, form, func(req *http.Request) {
		if user != "" {
			req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(password))
		}
	})
}

// post posts form to u after edit (if not nil) changed the request, and
// returns the status and the decoded JSON body (nil if not JSON); header,
// if given, receives the response header.
func post(u string, form url.Values, edit func(*http.Request), header ...*http.Header) (int, map[string]any) {
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	for _, h := range header {
		*h = resp.Header
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		m = nil
	}
	return resp.StatusCode, m
}

// fixture is a fosite server on httptest whose client authentication is
// pkjwt's, set up as Example does.
type fixture struct {
	issuer        string
	tokenURL      string
	introspectURL string
	revokeURL     string
	parURL        string
	store         *storage.MemoryStore
	auth          *pkjwtfosite.Authenticator
	config        *fosite.Config
}

type fixtureOptions struct {
	cfg         pkjwtfosite.Config // nil Registry: one that fetches from loopback
	replayStore replay.Store       // nil: a fresh replay.NewMemory
	clients     fosite.ClientManager
	native      bool // serve fosite alone, without pkjwt
}

func newFixture(t *testing.T, o fixtureOptions) *fixture {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	issuer := srv.URL

	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(testkeys.JWKS(testkeys.JWK(testkeys.Public(testkeys.Ed25519), "ed1", "EdDSA", "sig")))
	}))
	t.Cleanup(jwks.Close)

	store := storage.NewMemoryStore()
	config := &fosite.Config{
		GlobalSecret: []byte("a-32-byte-secret-for-hmac-tokens"),
		TokenURL:     issuer + "/token",
		HashCost:     4, // bcrypt's minimum: the basic client stays fast under -race
	}
	hash, err := (&fosite.BCrypt{Config: config}).Hash(context.Background(), []byte(basicSecret))
	if err != nil {
		t.Fatal(err)
	}
	cc := func(id string) *fosite.DefaultClient {
		return &fosite.DefaultClient{ID: id, GrantTypes: []string{"client_credentials"}, Scopes: []string{"read", "write"}}
	}
	store.Clients[rsaClient] = &fosite.DefaultOpenIDConnectClient{
		DefaultClient: cc(rsaClient),
		JSONWebKeys: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: testkeys.Public(testkeys.RSA2048), KeyID: "rsa1", Use: "sig", Algorithm: "RS256"},
			{Key: testkeys.Public(testkeys.P256), KeyID: "ec1", Use: "sig", Algorithm: "ES256"},
		}},
		TokenEndpointAuthMethod: "private_key_jwt",
	}
	store.Clients[edClient] = &fosite.DefaultOpenIDConnectClient{
		DefaultClient:                     cc(edClient),
		JSONWebKeysURI:                    jwks.URL,
		TokenEndpointAuthMethod:           "private_key_jwt",
		TokenEndpointAuthSigningAlgorithm: "EdDSA",
	}
	basic := cc(basicClient)
	basic.Secret = hash
	store.Clients[basicClient] = &fosite.DefaultOpenIDConnectClient{DefaultClient: basic, TokenEndpointAuthMethod: "client_secret_basic"}
	store.Clients[badKeyClient] = &fosite.DefaultOpenIDConnectClient{
		DefaultClient: cc(badKeyClient),
		JSONWebKeys: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: testkeys.Signer(testkeys.RSA2048), KeyID: "rsa1", Use: "sig"},
		}},
		TokenEndpointAuthMethod: "private_key_jwt",
	}
	web := cc(webClient)
	web.GrantTypes, web.ResponseTypes, web.RedirectURIs = []string{"authorization_code"}, []string{"code"}, []string{"https://client.example/cb"}
	store.Clients[webClient] = &fosite.DefaultOpenIDConnectClient{
		DefaultClient:                     web,
		JSONWebKeys:                       &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: testkeys.Public(testkeys.P256), KeyID: "ec1", Use: "sig"}}},
		TokenEndpointAuthMethod:           "private_key_jwt",
		TokenEndpointAuthSigningAlgorithm: "ES256",
	}
	store.Clients[noKeyClient] = &fosite.DefaultOpenIDConnectClient{DefaultClient: cc(noKeyClient), TokenEndpointAuthMethod: "private_key_jwt"}

	cfg := o.cfg
	if cfg.Registry == nil {
		registry, err := jwksfetch.NewRegistry(jwksfetch.RegistryConfig{Remote: jwksfetch.RemoteConfig{InsecureAllowLoopbackAndHTTP: true}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { registry.Close() })
		cfg.Registry = registry
	}
	replayStore := o.replayStore
	if replayStore == nil {
		m, err := replay.NewMemory(replay.MemoryConfig{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		replayStore = m
	}
	var clients fosite.ClientManager = store
	if o.clients != nil {
		clients = o.clients
	}

	auth, err := pkjwtfosite.New(issuer, clients, replayStore, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { auth.Close() })
	for id, c := range store.Clients {
		if err := auth.CheckClient(c); (err != nil) != (id == badKeyClient || id == noKeyClient) {
			t.Fatalf("CheckClient(%s): %v", id, err)
		}
	}
	composeProvider := func(c *fosite.Config) fosite.OAuth2Provider {
		return compose.ComposeAllEnabled(c, store, testkeys.Signer(testkeys.RSA2048))
	}
	var provider fosite.OAuth2Provider
	if o.native {
		provider = composeProvider(config)
	} else if provider, err = auth.Install(config, composeProvider); err != nil {
		t.Fatal(err)
	}
	mux.Handle("/token", tokenEndpoint(provider))
	mux.Handle("/introspect", introspectionEndpoint(provider))
	mux.Handle("/revoke", revocationEndpoint(provider))
	mux.Handle("/par", parEndpoint(provider))

	return &fixture{
		issuer:        issuer,
		tokenURL:      issuer + "/token",
		introspectURL: issuer + "/introspect",
		revokeURL:     issuer + "/revoke",
		parURL:        issuer + "/par",
		store:         store,
		auth:          auth,
		config:        config,
	}
}

// signer describes how a test client signs.
type signer struct {
	key, alg, kid string
}

var (
	rsaSigner = signer{testkeys.RSA2048, "RS256", "rsa1"}
	ecSigner  = signer{testkeys.P256, "ES256", "ec1"}
	edSigner  = signer{testkeys.Ed25519, "EdDSA", "ed1"}
)

// assertion returns a client assertion of client, signed as s, with aud
// f.issuer, after edit (if not nil) changed its claims.
func (f *fixture) assertion(client string, s signer, edit func(claims map[string]any)) string {
	claims := testkeys.Claims(client, f.issuer, time.Now())
	if edit != nil {
		edit(claims)
	}
	return testkeys.Sign(s.alg, testkeys.Signer(s.key), map[string]any{"kid": s.kid}, claims)
}

// with returns form with the client assertion parameters for assertion.
func with(form url.Values, assertion string) url.Values {
	form.Set("client_assertion_type", verify.AssertionType)
	form.Set("client_assertion", assertion)
	return form
}

func grant() url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
}

// token runs the client_credentials grant with assertion and returns the
// access token; the test fails unless it succeeds.
func (f *fixture) token(t *testing.T, assertion string) string {
	t.Helper()
	status, body := postForm(f.tokenURL, with(grant(), assertion), "", "")
	tok, _ := body["access_token"].(string)
	if status != http.StatusOK || tok == "" {
		t.Fatalf("token: %d %v", status, body)
	}
	return tok
}

// failingStore is a replay.Store that cannot answer.
type failingStore struct{}

func (failingStore) Claim(context.Context, string, time.Time) (time.Time, error) {
	return time.Time{}, errors.New("replay store down")
}

// brokenClients is a fosite.ClientManager whose storage is down.
type brokenClients struct{ fosite.ClientManager }

func (brokenClients) GetClient(context.Context, string) (fosite.Client, error) {
	return nil, errors.New("database down")
}
