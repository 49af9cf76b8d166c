package pkjwtfosite_test

import (
	"context"
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

// configurator is a fosite.Configurator of the server's own, as Ory Hydra's
// fositex.Config is, whose client authentication strategy is pkjwt's.
type configurator struct {
	*fosite.Config
	clientAuth fosite.ClientAuthenticationStrategy
}

func (c *configurator) GetClientAuthenticationStrategy(context.Context) fosite.ClientAuthenticationStrategy {
	return c.clientAuth
}

// Example_hydraStyle wires pkjwt into a fosite server built the way Ory
// Hydra is: a Configurator of its own, a client model whose getter reports
// RS256 when no token_endpoint_auth_signing_alg is registered (hydraClient,
// like Hydra's client.Client), and a replay.Store instead of the storage's
// jti table. The client registered no alg and signs with ES256.
func Example_hydraStyle() {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	issuer := srv.URL

	store := storage.NewMemoryStore()
	store.Clients["client-1"] = &hydraClient{DefaultOpenIDConnectClient: &fosite.DefaultOpenIDConnectClient{
		DefaultClient:           &fosite.DefaultClient{ID: "client-1", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}},
		JSONWebKeys:             &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: testkeys.Public(testkeys.P256), KeyID: "k1", Use: "sig"}}},
		TokenEndpointAuthMethod: "private_key_jwt",
	}}
	signingKey := testkeys.Signer(testkeys.RSA2048)
	replayStore, err := replay.NewMemory(replay.MemoryConfig{}) // replay/redisstore for a cluster
	if err != nil {
		panic(err)
	}
	defer replayStore.Close()

	auth, err := pkjwtfosite.New(issuer, store, replayStore, pkjwtfosite.Config{
		// The registration's own field: the getter reports RS256 when it is empty.
		SigningAlg: func(c fosite.OpenIDConnectClient) string {
			return c.(*hydraClient).TokenEndpointAuthSigningAlgorithm
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
	config := &configurator{Config: &fosite.Config{GlobalSecret: []byte("a-32-byte-secret-for-hmac-tokens")}}
	compose.ComposeAllEnabled(config.Config, store, signingKey) // fills the Config's handlers
	f := fosite.NewOAuth2Provider(store, config)
	config.clientAuth = auth.Strategy(f.DefaultClientAuthenticationStrategy)
	provider := auth.Provider(f) // serve every endpoint with it
	mux.Handle("/oauth2/token", tokenEndpoint(provider))
	mux.Handle("/oauth2/introspect", introspectionEndpoint(provider))

	assertion := func() url.Values {
		return url.Values{"client_assertion_type": {verify.AssertionType}, "client_assertion": {
			testkeys.Sign("ES256", testkeys.Signer(testkeys.P256), map[string]any{"kid": "k1"}, testkeys.Claims("client-1", issuer, time.Now())),
		}}
	}
	form := assertion()
	form.Set("grant_type", "client_credentials")
	status, tok := postForm(srv.URL+"/oauth2/token", form, "", "")
	fmt.Println(status, tok["token_type"])

	form = assertion()
	form.Set("token", tok["access_token"].(string))
	_, info := postForm(srv.URL+"/oauth2/introspect", form, "", "")
	fmt.Println("active:", info["active"], "client_id:", info["client_id"])
	// Output:
	// 200 bearer
	// active: true client_id: client-1
}
