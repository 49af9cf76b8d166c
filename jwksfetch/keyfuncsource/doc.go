// Package keyfuncsource adapts a [keyfunc.Keyfunc]
// (github.com/MicahParks/keyfunc/v3) to a [verify.KeySource], for hosts
// that already keep one per client and want pkjwt to verify that client's
// assertions with it:
//
//	kf, err := keyfunc.NewDefaultCtx(ctx, []string{client.JWKSURI}) // the host's own (but see below)
//	if err != nil {
//		return err
//	}
//	keys, err := keyfuncsource.New(kf, keyfuncsource.Config{})
//	if err != nil {
//		return err
//	}
//	clients := verify.ClientMap{client.ID: {ID: client.ID, Keys: keys}}
//	v, err := verify.New(issuer, clients, store, nil)
//
// It is a package of its own so that hosts that do not use keyfunc do not
// build it: package jwksfetch does not import it.
//
// # What the adapter enforces
//
// [Source.Key] reads the JWKs from the keyfunc's storage (Keyfunc.Storage),
// as keyfunc's own Keyfunc method does, and applies to them the key rules
// of jwksfetch's own sources, in place of keyfunc's (which compares the
// JWK's alg with the token's and, if configured, its use with
// keyfunc.Options.UseWhitelist):
//
//   - a JWK with private key members (keyfunc keeps them, and its Keyfunc
//     method hands out the public half) or a symmetric one (kty "oct",
//     which keyfunc hands out as an HMAC secret) never verifies;
//   - its "use", if present, is "sig"; its "key_ops", if present, include
//     "verify"; its "alg", if present, is the assertion's alg;
//   - its type and curve fit the assertion's alg, and an RSA modulus has
//     2048 to 16384 bits (as verify.CheckKey checks; the verifier may
//     require more);
//   - an assertion without kid is verified only if exactly one such key
//     fits its alg (verify.SelectKey), where keyfunc would try every key;
//   - a wait for keyfunc's refresh on an unknown kid is bounded by
//     [Config.MaxWait] (keyfunc waits up to a minute for its rate limiter
//     by default, in the caller);
//   - a keyfunc that holds no key at all (its first fetch failed) yields
//     an error wrapping jwksfetch.ErrUnavailable, so that the verifier
//     fails with a server error rather than blame the client.
//
// # What it cannot give
//
// The fetching is keyfunc's (through github.com/MicahParks/jwkset), and
// the adapter cannot add to it these guarantees of [jwksfetch.Remote]:
//
//   - No SSRF guard: keyfunc fetches with http.DefaultClient (or the
//     client in keyfunc.Override), following redirects, through any
//     proxy, to any address, loopback, private networks and cloud metadata
//     endpoints included. A jwks_uri chosen by whoever registers a client
//     MUST NOT be handed to keyfunc without such a guard in its client.
//   - No size cap: the whole response is decoded, however large.
//   - No coalescing of refreshes on an unknown kid: each caller that gets
//     past keyfunc's rate limiter refreshes in its own request, and a
//     caller that does not get past it does not wait for a refresh in
//     flight; a refresh slower than MaxWait is abandoned.
//   - No staleness limit and no outage signal: keyfunc swallows refresh
//     errors (it logs them) and keeps its last keys for ever, so keys
//     removed upstream keep verifying while the jwks_uri is unreachable,
//     and an unknown kid during an outage is reported as an unknown key
//     (a client error) rather than as unavailable keys.
//   - One malformed JWK fails a whole refresh, so a client's server that
//     publishes one keeps the previous set in place.
//
// A host that can should use jwksfetch.NewRegistry or jwksfetch.NewRemote
// instead.
package keyfuncsource
