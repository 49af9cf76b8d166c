package bench

import (
	"crypto"
	"fmt"
	"net/url"
	"time"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/verify"
)

// Issuer is the issuer identifier of the authorization server in every
// measurement, and so the aud of every assertion.
const Issuer = "https://as.bench.example"

// Algs are the algorithms compared: the RSA pair most deployments use and
// the two that FAPI 2.0 adds.
var Algs = []string{"RS256", "PS256", "ES256", "EdDSA"}

// A Client is a registered client with one signing key.
type Client struct {
	ID  string // client_id, also iss and sub of its assertions
	Alg string // its token_endpoint_auth_signing_alg
	Key string // a testkeys key name
	KID string // the kid of its one registered key
}

// Signer returns the client's private key.
func (c Client) Signer() crypto.Signer { return testkeys.Signer(c.Key) }

// Public returns the client's registered public key.
func (c Client) Public() crypto.PublicKey { return testkeys.Public(c.Key) }

// Clients returns n clients for each of algs (n >= 1), in the order of
// algs. The first client of an alg uses the primary test key of its type,
// the second the alternate one, and so on.
func Clients(algs []string, n int) []Client {
	var cs []Client
	for _, alg := range algs {
		keys := keyNames(alg)
		for i := range n {
			cs = append(cs, Client{
				ID:  fmt.Sprintf("client-%s-%d", alg, i+1),
				Alg: alg,
				Key: keys[i%len(keys)],
				KID: fmt.Sprintf("%s-%d", keys[i%len(keys)], i+1),
			})
		}
	}
	return cs
}

func keyNames(alg string) []string {
	switch alg {
	case "RS256", "PS256":
		return []string{testkeys.RSA2048, testkeys.RSA2048Alt}
	case "ES256":
		return []string{testkeys.P256, testkeys.P256Alt}
	case "EdDSA":
		return []string{testkeys.Ed25519, testkeys.Ed25519Alt}
	}
	panic("bench: no keys for " + alg)
}

// Claims returns the claims of a valid assertion of c issued at now and
// valid for lifetime: iss and sub c.ID, aud Issuer, iat, exp and a jti
// unique within the process.
func (c Client) Claims(now time.Time, lifetime time.Duration) map[string]any {
	m := testkeys.Claims(c.ID, Issuer, now)
	m["exp"] = now.Add(lifetime).Unix()
	return m
}

// Mint returns an assertion of c with the given claims, its kid in the
// header.
func (c Client) Mint(claims map[string]any) string {
	return testkeys.Sign(c.Alg, c.Signer(), map[string]any{"kid": c.KID}, claims)
}

// MintNew returns a fresh valid assertion of c, issued now and valid for
// five minutes.
func (c Client) MintNew() string { return c.Mint(c.Claims(time.Now(), 5*time.Minute)) }

// Form returns the token request body that carries assertion
// (client_credentials grant, RFC 7523 §2.2 parameters, no client_id).
func Form(assertion string) url.Values {
	return url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {verify.AssertionType},
		"client_assertion":      {assertion},
	}
}
