package middleware_test

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/middleware"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

// Wrap an existing token endpoint: the handler runs only for an
// authenticated client, which it finds in the request context.
func ExampleNew() {
	// The verifier: registered clients, their public keys, a replay store.
	keys, err := verify.NewKeySet(verify.Key{ID: "k1", Public: testkeys.Public(testkeys.P256)})
	if err != nil {
		log.Fatal(err)
	}
	clients := verify.ClientMap{"c1": {ID: "c1", Keys: keys}}
	store, err := replay.NewMemory(replay.MemoryConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	v, err := verify.New("https://as.example.com", clients, store, verify.Config{})
	if err != nil {
		log.Fatal(err)
	}

	// The existing token endpoint, wrapped.
	token := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, _ := middleware.ResultFrom(r.Context())
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintf(w, `{"access_token":"at-%s","token_type":"Bearer","scope":%q}`, res.ClientID, r.PostForm.Get("scope"))
	})
	auth, err := middleware.New(v, middleware.Config{})
	if err != nil {
		log.Fatal(err)
	}
	handler := auth(token)

	// A client's token request, sent twice: the second is a replay.
	assertion := testkeys.Sign("ES256", testkeys.Signer(testkeys.P256), map[string]any{"kid": "k1"},
		testkeys.Claims("c1", "https://as.example.com", time.Now()))
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"scope":                 {"read"},
		"client_assertion_type": {verify.AssertionType},
		"client_assertion":      {assertion},
	}
	for range 2 {
		r := httptest.NewRequest("POST", "/token", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
	}
	// Output:
	// 200 {"access_token":"at-c1","token_type":"Bearer","scope":"read"}
	// 401 {"error":"invalid_client","error_description":"client assertion was already used"}
}

// Publish what the endpoints accept in the RFC 8414 discovery document.
func ExampleNewMetadata() {
	store, err := replay.NewMemory(replay.MemoryConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	v, err := verify.New("https://as.example.com", verify.ClientMap{}, store, verify.Config{
		Algorithms: verify.FAPIAlgorithms(),
	})
	if err != nil {
		log.Fatal(err)
	}
	doc := struct {
		Issuer                string `json:"issuer"`
		TokenEndpoint         string `json:"token_endpoint"`
		IntrospectionEndpoint string `json:"introspection_endpoint"`
		middleware.Metadata
	}{
		Issuer:                v.Issuer(),
		TokenEndpoint:         "https://as.example.com/token",
		IntrospectionEndpoint: "https://as.example.com/introspect",
		Metadata:              middleware.NewMetadata(v, middleware.TokenEndpoint, middleware.IntrospectionEndpoint),
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(b))
	// Output:
	// {
	//   "issuer": "https://as.example.com",
	//   "token_endpoint": "https://as.example.com/token",
	//   "introspection_endpoint": "https://as.example.com/introspect",
	//   "token_endpoint_auth_methods_supported": [
	//     "private_key_jwt"
	//   ],
	//   "token_endpoint_auth_signing_alg_values_supported": [
	//     "PS256",
	//     "ES256",
	//     "EdDSA",
	//     "Ed25519"
	//   ],
	//   "introspection_endpoint_auth_methods_supported": [
	//     "private_key_jwt"
	//   ],
	//   "introspection_endpoint_auth_signing_alg_values_supported": [
	//     "PS256",
	//     "ES256",
	//     "EdDSA",
	//     "Ed25519"
	//   ]
	// }
}
