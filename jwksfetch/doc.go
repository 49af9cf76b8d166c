// Package jwksfetch provides the key sources a verify.Verifier takes a
// client's public keys from: a client's "jwks_uri" or inline "jwks"
// (RFC 7591 §2, OpenID Connect Dynamic Client Registration §2), both JWK
// Sets (RFC 7517 §5), with the key checks that RFC 7523, RFC 8725 and
// FAPI 2.0 call for.
//
//   - [NewInline] checks a registered jwks once and returns a fixed
//     verify.KeySet. Any JWK it cannot use makes it fail, with an error
//     naming the key's index and kid.
//   - [NewRemote] returns a [Remote] for one jwks_uri: fetched in the
//     background, refreshed on a timer and on an unknown kid, served stale
//     while the endpoint is down, up to a limit. JWKs it cannot use are
//     skipped and logged, so that one bad key does not take a client down.
//   - [NewRegistry] returns a [Registry] that hands out sources by
//     jwks_uri for many clients: one Remote per URI, a bounded number
//     alive, idle ones stopped.
//   - [NewInlineCache] returns an [InlineCache] for hosts whose client
//     storage hands out a client's jwks document on every lookup: each
//     document is checked once, and a refused one fails its client's
//     requests with invalid_client.
//
// # Which keys are usable
//
// A JWK verifies signatures only if its kty is RSA, EC (P-256, P-384,
// P-521) or OKP (Ed25519); it has no private or secret member (d, p, q, dp,
// dq, qi, oth, k: a kty "oct" key or a private key is never usable, in any
// letter case); its "use", if present, is "sig"; its "key_ops", if present,
// include "verify"; its "alg", if present, fits the key type and curve
// (the key then verifies that alg only); an RSA modulus has 2048 to 16384
// bits; and its members are well-formed (base64url, the EC point on its
// curve, any x5c certificate matching the key; x5u is never fetched). Among
// usable keys, the first with a given kid, in document order, wins; later
// ones are duplicates (skipped remotely, refused inline). Keys without kid
// are kept: an assertion without kid is then verified only if exactly one
// usable key fits its alg, as verify.SelectKey decides.
//
// # Guarantees of a Remote
//
//   - Key with current keys and a known kid neither blocks nor allocates.
//   - A new kid verifies on its first request: an unknown kid causes a
//     fetch, shared by concurrent callers and at most one per
//     MinRefreshInterval (30 s), so an attacker sending random kids causes
//     at most that many requests to the client's server.
//   - Callers wait for a fetch at most MaxWait (2 s) and never beyond
//     their ctx; a slow endpoint delays only its own clients.
//   - While fetches fail the last good keys keep verifying, for up to
//     MaxStaleness (24 h) after the last success; then Key fails with
//     ErrUnavailable, which the verifier reports as a server error (fail
//     closed), never as a success or a client error.
//   - A key removed upstream stops verifying after the next successful
//     fetch (every RefreshInterval, 5 min).
//   - The default HTTP client has a 5 s timeout, reads at most 512 KiB
//     (plus one byte, to tell) of a response, accepts only status 200 with
//     a JSON-ish content type, follows no redirect and uses no proxy, and
//     refuses, at dial time after DNS resolution, loopback, private
//     (RFC 1918, fc00::/7), link-local (including the 169.254.169.254
//     metadata address), CGNAT, unspecified, multicast and reserved
//     addresses, also in IPv4-mapped, 6to4 and NAT64 form. Only https is
//     fetched. RemoteConfig.InsecureAllowLoopbackAndHTTP allows http and
//     loopback, for tests and development only.
//   - Close stops every goroutine. Between fetches a Remote holds none.
//
// # What comes from github.com/MicahParks/jwkset
//
// jwkset parses and validates each JWK's key material (jwkset.JWKMarshal,
// jwkset.NewJWKFromMarshal, always with private material disabled). The
// fetching, storage, refresh and key selection are this package's own, to
// give the guarantees above; the README compares them with jwkset's own
// HTTP storage and keyfunc. Which algs and key types exist, which JWK
// members are private and the RSA size bounds come from one table shared
// with package verify and the pkjwt command.
//
// # Configuration
//
// Constructors follow pkjwt's configuration rule (see package verify):
// required inputs positional, the policy in a value RemoteConfig,
// RegistryConfig or InlineConfig whose zero value is the default, copied
// and validated. A negative duration or size is an error, except where a
// field says what it turns off: RefreshInterval (no background refresh),
// MinRefreshInterval (no rate limit) and MaxWait (no waiting).
//
// # Happy path
//
//	reg, err := jwksfetch.NewRegistry(jwksfetch.RegistryConfig{})
//	if err != nil {
//		return err
//	}
//	defer reg.Close()
//	keys, err := reg.Source(client.JWKSURI) // or jwksfetch.NewInline(client.JWKS, jwksfetch.InlineConfig{})
//	if err != nil {
//		return err
//	}
//	clients := verify.ClientMap{client.ID: {ID: client.ID, Keys: keys}}
//	v, err := verify.New(issuer, clients, store, verify.Config{})
package jwksfetch
