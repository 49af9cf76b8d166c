package jwksfetch_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/jwksfetch"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

// An inline jwks is checked once, when the client is registered: a private
// key in it is refused, naming the key.
func ExampleNewInline() {
	jwks := testkeys.JWKS(testkeys.JWK(testkeys.Signer(testkeys.P256), "k1", "ES256", "sig"))
	keys, err := jwksfetch.NewInline(jwks, jwksfetch.InlineConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	k, err := keys.Key(context.Background(), "k1", "ES256")
	fmt.Println(k.ID, k.Algorithm, err)

	leaked := testkeys.JWKS(testkeys.PrivateJWK(testkeys.P256, "k1", "ES256"))
	_, err = jwksfetch.NewInline(leaked, jwksfetch.InlineConfig{})
	fmt.Println(err)
	fmt.Println(errors.Is(err, jwksfetch.ErrPrivateKey))
	// Output:
	// k1 ES256 <nil>
	// jwksfetch: inline jwks: key 0 (kid "k1"): private key material: member "d"
	// true
}

// A Remote fetches a client's jwks_uri in the background; a key the client
// publishes later verifies on its first request.
func ExampleNewRemote() {
	jwks := testkeys.JWKS(testkeys.JWK(testkeys.Signer(testkeys.P256), "k1", "", ""))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(jwks)
	}))
	defer srv.Close()

	remote, err := jwksfetch.NewRemote(srv.URL, jwksfetch.RemoteConfig{
		InsecureAllowLoopbackAndHTTP: true, // httptest serves http on 127.0.0.1: never in production
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer remote.Close()

	ctx := context.Background()
	k, err := remote.Key(ctx, "k1", "ES256")
	fmt.Println(k.ID, err)
	_, err = remote.Key(ctx, "k1", "RS256")
	fmt.Println(errors.Is(err, verify.ErrKeyNotFound))
	// Output:
	// k1 <nil>
	// true
}

// Without the opt-out, a jwks_uri that resolves to an internal address is
// refused when dialling, before any connection.
func ExampleRemoteConfig_ssrf() {
	remote, err := jwksfetch.NewRemote("https://169.254.169.254/latest/meta-data/", jwksfetch.RemoteConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer remote.Close()
	_, err = remote.Key(context.Background(), "k1", "ES256")
	fmt.Println(errors.Is(err, jwksfetch.ErrForbiddenAddress), errors.Is(err, jwksfetch.ErrUnavailable))

	_, err = jwksfetch.NewRemote("http://client.example/jwks", jwksfetch.RemoteConfig{})
	fmt.Println(err)
	// Output:
	// true true
	// jwksfetch: jwks_uri "http://client.example/jwks": jwksfetch: forbidden address: scheme must be https
}

// A Registry serves many clients: one Remote per jwks_uri, shared.
func ExampleRegistry() {
	jwks := testkeys.JWKS(testkeys.JWK(testkeys.Signer(testkeys.Ed25519), "k1", "EdDSA", "sig"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(jwks) }))
	defer srv.Close()

	reg, err := jwksfetch.NewRegistry(jwksfetch.RegistryConfig{
		Remote: jwksfetch.RemoteConfig{InsecureAllowLoopbackAndHTTP: true},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reg.Close()
	keys, err := reg.Source(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	clients := verify.ClientMap{"c1": {ID: "c1", Keys: keys}}
	store, _ := replay.NewMemory(replay.MemoryConfig{})
	defer store.Close()
	v, err := verify.New("https://as.example.com", clients, store, verify.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}

	assertion := testkeys.Sign("EdDSA", testkeys.Signer(testkeys.Ed25519), map[string]any{"kid": "k1"},
		testkeys.Claims("c1", "https://as.example.com", time.Now()))
	res, err := v.Verify(context.Background(), verify.Request{AssertionType: verify.AssertionType, Assertion: assertion})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.ClientID, res.KeyID, res.Algorithm)
	// Output:
	// c1 k1 EdDSA
}
