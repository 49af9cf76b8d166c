package pkjwtzitadel_test

import (
	"crypto/sha256"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	pkjwtzitadel "github.com/pkjwt/pkjwt/integrations/zitadel"
	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

// Example serves a zitadel/oidc OpenID Provider whose client authentication
// is pkjwt's: an Ed25519 client gets a token with the client_credentials
// grant, introspects it, and cannot use an assertion twice.
func Example() {
	mux := http.NewServeMux()
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	issuer := srv.URL // https: zitadel/oidc wants it without op.WithAllowInsecure

	// The provider's storage, with a client registered for private_key_jwt
	// and its public key.
	storage := newMemoryStorage()
	storage.addClient(&client{id: "client-1", authMethod: oidc.AuthMethodPrivateKeyJWT},
		jose.JSONWebKey{Key: testkeys.Public(testkeys.Ed25519), KeyID: "k1", Use: "sig"})
	config := &op.Config{CryptoKey: sha256.Sum256([]byte("example crypto key")), AuthMethodPrivateKeyJWT: true}
	replayStore, err := replay.NewMemory(replay.MemoryConfig{})
	if err != nil {
		panic(err)
	}
	defer replayStore.Close()

	provider, err := op.NewProvider(config, storage, op.StaticIssuer(issuer))
	if err != nil {
		log.Fatal(err)
	}
	auth, err := pkjwtzitadel.New(issuer, storage, replayStore, pkjwtzitadel.Config{})
	if err != nil {
		log.Fatal(err)
	}
	server := op.NewLegacyServer(provider, *op.DefaultEndpoints)
	handler := auth.Handler(server, op.AuthorizeCallbackHandler(provider))
	mux.Handle("/", handler)

	// The client's side; srv.Client trusts the test server's certificate.
	postForm := func(u string, form url.Values) (int, map[string]any) {
		return postFormWith(srv.Client(), u, form)
	}
	newAssertion := func() string {
		return testkeys.Sign("EdDSA", testkeys.Signer(testkeys.Ed25519), map[string]any{"kid": "k1"},
			testkeys.Claims("client-1", issuer, time.Now()))
	}
	withAssertion := func(form url.Values, assertion string) url.Values {
		form.Set("client_assertion_type", verify.AssertionType)
		form.Set("client_assertion", assertion)
		return form
	}
	tokenURL := op.DefaultEndpoints.Token.Absolute(issuer)
	introspectURL := op.DefaultEndpoints.Introspection.Absolute(issuer)

	_, tok := postForm(tokenURL, withAssertion(url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}, newAssertion()))
	fmt.Println("token_type:", tok["token_type"], "scope:", tok["scope"])

	used := newAssertion()
	_, info := postForm(introspectURL, withAssertion(url.Values{"token": {tok["access_token"].(string)}}, used))
	fmt.Println("active:", info["active"], "client_id:", info["client_id"])

	status, replayed := postForm(tokenURL, withAssertion(url.Values{"grant_type": {"client_credentials"}}, used))
	fmt.Println(status, replayed["error"])
	// Output:
	// token_type: Bearer scope: read
	// active: true client_id: client-1
	// 401 invalid_client
}
