package pkjwtzitadel_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	pkjwtzitadel "github.com/pkjwt/pkjwt/integrations/zitadel"
	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

// The clients of the fixture.
const (
	rsaClient    = "pk-rsa" // private_key_jwt, an RS256 and an ES256 key
	edClient     = "pk-ed"  // private_key_jwt, an Ed25519 key
	basicClient  = "basic"  // client_secret_basic
	badKeyClient = "pk-bad" // private_key_jwt, a private key registered
	basicSecret  = "basic-client-secret"
)

// postForm posts form to u, with HTTP Basic credentials if user is not empty,
// and returns the status and the decoded JSON body (nil if not JSON).
func postForm(u string, form url.Values, user, password string) (int, map[string]any) {
	return post(u, form, func(req *http.Request) {
		if user != "" {
			req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(password))
		}
	})
}

// postFormWith posts form to u with client and returns the status and the
// decoded JSON body (nil if not JSON).
func postFormWith(client *http.Client, u string, form url.Values) (int, map[string]any) {
	return do(client, u, form, nil)
}

// post posts form to u after edit (if not nil) changed the request, and
// returns the status and the decoded JSON body (nil if not JSON).
func post(u string, form url.Values, edit func(*http.Request)) (int, map[string]any) {
	return do(http.DefaultClient, u, form, edit)
}

func do(client *http.Client, u string, form url.Values, edit func(*http.Request), header ...*http.Header) (int, map[string]any) {
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if edit != nil {
		edit(req)
	}
	resp, err := client.Do(req)
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

// fixture is a zitadel/oidc OpenID Provider on httptest whose client
// authentication is pkjwt's, set up as Example does.
type fixture struct {
	issuer        string
	tokenURL      string
	introspectURL string
	revokeURL     string
	storage       *memoryStorage
	provider      *op.Provider
	auth          *pkjwtzitadel.Authenticator
}

type fixtureOptions struct {
	cfg         pkjwtzitadel.Config
	replayStore replay.Store // nil: a fresh replay.NewMemory
	issuer      string       // the Authenticator's issuer; empty: the provider's
	native      bool         // serve zitadel/oidc alone, without pkjwt
}

func newFixture(t *testing.T, o fixtureOptions) *fixture {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	issuer := srv.URL

	storage := newMemoryStorage()
	storage.addClient(&client{id: rsaClient, authMethod: oidc.AuthMethodPrivateKeyJWT},
		jose.JSONWebKey{Key: testkeys.Public(testkeys.RSA2048), KeyID: "rsa1", Use: "sig", Algorithm: "RS256"},
		jose.JSONWebKey{Key: testkeys.Public(testkeys.P256), KeyID: "ec1", Use: "sig", Algorithm: "ES256"})
	storage.addClient(&client{id: edClient, authMethod: oidc.AuthMethodPrivateKeyJWT},
		jose.JSONWebKey{Key: testkeys.Public(testkeys.Ed25519), KeyID: "ed1", Use: "sig"})
	storage.addClient(&client{id: basicClient, secret: basicSecret, authMethod: oidc.AuthMethodBasic})
	storage.addClient(&client{id: badKeyClient, authMethod: oidc.AuthMethodPrivateKeyJWT},
		jose.JSONWebKey{Key: testkeys.Signer(testkeys.RSA2048), KeyID: "rsa1", Use: "sig"})

	replayStore := o.replayStore
	if replayStore == nil {
		replayStore = mustMemory(t)
	}
	authIssuer := issuer
	if o.issuer != "" {
		authIssuer = o.issuer
	}
	config := &op.Config{CryptoKey: sha256.Sum256([]byte("test crypto key")), AuthMethodPost: true, AuthMethodPrivateKeyJWT: true}

	provider, err := op.NewProvider(config, storage, op.StaticIssuer(issuer), op.WithAllowInsecure())
	if err != nil {
		t.Fatal(err)
	}
	auth, err := pkjwtzitadel.New(authIssuer, storage, replayStore, o.cfg)
	if err != nil {
		t.Fatal(err)
	}
	server := op.NewLegacyServer(provider, *op.DefaultEndpoints)
	handler := auth.Handler(server, op.AuthorizeCallbackHandler(provider))
	if o.native {
		handler = op.RegisterLegacyServer(server, op.AuthorizeCallbackHandler(provider))
	}
	mux.Handle("/", handler)

	return &fixture{
		issuer:        issuer,
		tokenURL:      op.DefaultEndpoints.Token.Absolute(issuer),
		introspectURL: op.DefaultEndpoints.Introspection.Absolute(issuer),
		revokeURL:     op.DefaultEndpoints.Revocation.Absolute(issuer),
		storage:       storage,
		provider:      provider,
		auth:          auth,
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
