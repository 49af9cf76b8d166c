package pkjwtfosite_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/storage"

	pkjwtfosite "github.com/pkjwt/pkjwt/integrations/fosite"
	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

// Example serves a fosite provider whose client authentication is pkjwt's:
// an Ed25519 client gets a token with the client_credentials grant, with aud
// the issuer identifier, introspects it, and cannot use an assertion twice.
func Example() {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	issuer := srv.URL

	// The server's fosite storage, with a client registered for
	// private_key_jwt with its public key.
	store := storage.NewMemoryStore()
	store.Clients["client-1"] = &fosite.DefaultOpenIDConnectClient{
		DefaultClient: &fosite.DefaultClient{ID: "client-1", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}},
		JSONWebKeys: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: testkeys.Public(testkeys.Ed25519), KeyID: "k1", Use: "sig"},
		}},
		TokenEndpointAuthMethod:           "private_key_jwt",
		TokenEndpointAuthSigningAlgorithm: "EdDSA",
	}
	config := &fosite.Config{GlobalSecret: []byte("a-32-byte-secret-for-hmac-tokens"), TokenURL: issuer + "/token"}
	signingKey := testkeys.Signer(testkeys.RSA2048)
	replayStore, err := replay.NewMemory(replay.MemoryConfig{})
	if err != nil {
		panic(err)
	}
	defer replayStore.Close()

	auth, err := pkjwtfosite.New(issuer, store, replayStore, pkjwtfosite.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
	for _, c := range store.Clients {
		if err := auth.CheckClient(c); err != nil {
			log.Fatal(err) // a registration pkjwt cannot use: refused at start-up
		}
	}
	provider, err := auth.Install(config, func(c *fosite.Config) fosite.OAuth2Provider {
		return compose.ComposeAllEnabled(c, store, signingKey)
	})
	if err != nil {
		log.Fatal(err)
	}
	mux.Handle("/token", tokenEndpoint(provider))
	mux.Handle("/introspect", introspectionEndpoint(provider))

	// The client's side.
	newAssertion := func() string {
		return testkeys.Sign("EdDSA", testkeys.Signer(testkeys.Ed25519), map[string]any{"kid": "k1"},
			testkeys.Claims("client-1", issuer, time.Now()))
	}
	withAssertion := func(form url.Values, assertion string) url.Values {
		form.Set("client_assertion_type", verify.AssertionType)
		form.Set("client_assertion", assertion)
		return form
	}

	_, tok := postForm(srv.URL+"/token", withAssertion(url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}, newAssertion()), "", "")
	fmt.Println("token_type:", tok["token_type"], "scope:", tok["scope"])

	used := newAssertion()
	_, info := postForm(srv.URL+"/introspect", withAssertion(url.Values{"token": {tok["access_token"].(string)}}, used), "", "")
	fmt.Println("active:", info["active"], "client_id:", info["client_id"])

	status, replayed := postForm(srv.URL+"/token", withAssertion(url.Values{"grant_type": {"client_credentials"}}, used), "", "")
	fmt.Println(status, replayed["error"])
	// Output:
	// token_type: bearer scope: read
	// active: true client_id: client-1
	// 401 invalid_client
}
