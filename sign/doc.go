// Package sign is the client side of private_key_jwt client
// authentication (RFC 7523 §2.2 and §3, OpenID Connect Core 1.0 §9): it
// signs client assertions, gets access tokens through golang.org/x/oauth2,
// and rotates the client's keys without a failed request.
//
//   - [Signer] makes assertions from any crypto.Signer (an in-memory key, or
//     one in a KMS, an HSM or an agent): iss = sub = the client_id, aud =
//     the authorization server's issuer identifier (what
//     draft-ietf-oauth-rfc7523bis and pkjwt's verifier want), a 60 s
//     lifetime, a 128-bit random jti, and kid = the key's RFC 7638
//     thumbprint. ECDSA signatures are converted from the ASN.1 DER a
//     crypto.Signer returns to the r||s of JWS (RFC 7518 §3.4); RSA-PSS uses
//     a salt as long as the hash.
//   - [ClientCredentials] gets tokens with the client_credentials grant, a
//     fresh assertion per request, in the form only (never an Authorization
//     header); its TokenSource caches them as oauth2.ReuseTokenSource does.
//     [AuthCodeOptions] and [RefreshTokenSource] authenticate the
//     authorization-code and refresh grants of an oauth2.Config.
//   - [Discover] reads the server's metadata (RFC 8414, or OpenID Connect
//     Discovery) and [Metadata.Supports] checks that it takes
//     private_key_jwt with the signer's alg.
//   - [KeyRing] holds the client's keys (next, current, previous), publishes
//     a new key a lead time before it signs, keeps the replaced one
//     published until its assertions have expired, serves the public JWK
//     Set as an http.Handler, and persists keys in a [KeyStore]
//     ([MemoryStore], or [DirStore]: PEM files with mode 0600).
//
// The two-minute path for a Go client:
//
//	key, err := ... // a crypto.Signer; its public JWK registered with the server
//	signer, err := sign.NewSigner("my-client", key, "https://as.example.com", nil)
//	md, err := sign.Discover(ctx, "https://as.example.com")
//	if err := md.Supports(signer.Algorithm()); err != nil { ... }
//	cc, err := sign.NewClientCredentials(signer, md.TokenEndpoint, &sign.TokenConfig{Scopes: []string{"read"}})
//	client := cc.Client(ctx) // adds "Authorization: Bearer <token>", refreshed as it expires
//
// With a key ring instead of one key, serve the ring at the jwks_uri the
// client registered and pass the ring where the signer went:
//
//	ring, err := sign.NewKeyRing(ctx, "my-client", issuer, store, nil)
//	http.Handle("/jwks.json", ring)
//	stop, err := ring.RotateEvery(30 * 24 * time.Hour)
//	defer stop()
//	cc, err := sign.NewClientCredentials(ring, md.TokenEndpoint, nil)
package sign
