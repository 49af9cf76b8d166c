package oidcprovidertest_test

import (
	"testing"

	"github.com/pkjwt/pkjwt/internal/oidcprovidertest"
	"github.com/pkjwt/pkjwt/internal/testkeys"
)

// A test registers its clients, then points its client at TokenURL (or
// discovers it from Issuer); the provider is killed when the test ends.
func ExampleStart() {
	_ = func(t *testing.T) {
		p := oidcprovidertest.Start(t, oidcprovidertest.Client{
			ID:         "my-client",
			JWKS:       testkeys.JWKS(testkeys.JWK(testkeys.Signer(testkeys.P256), "k1", "", "sig")),
			SigningAlg: "ES256", // optional: the only alg accepted
			Scope:      "read",  // optional: scopes the client may request
		}) // skips, saying so, without node or `npm ci` (fails under CI)
		_ = p.Issuer           // "http://127.0.0.1:PORT": an accepted aud
		_ = p.TokenURL         // client_credentials grant
		_ = p.IntrospectionURL // RFC 7662
		_ = p.RevocationURL    // RFC 7009
	}
}
