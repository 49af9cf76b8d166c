// Package verify checks OAuth 2.0 client assertions: the private_key_jwt
// (and, opt-in, client_secret_jwt) client authentication of RFC 7523 §2.2
// and §3 and OpenID Connect Core 1.0 §9, with the audience rules of
// draft-ietf-oauth-rfc7523bis and FAPI 2.0 and the JWT BCP (RFC 8725).
//
// A [Verifier] takes the three request values an authorization server
// receives (client_assertion_type, client_assertion, client_id) as a
// [Request], built from the request's form and header by [RequestFromForm],
// and returns a [Result] or an [*Error] that carries the RFC 6749 §5.2 error
// code. It has no HTTP in its API; package middleware wraps it for
// net/http.
//
// The Verifier consumes three small interfaces: [Clients] (the host
// server's client registry; [ClientMap] is a fixed one), [KeySource] (a
// client's public keys; [KeySet] is a fixed one, package jwksfetch fetches
// jwks_uri documents) and replay.Store (jti single use). A host that keeps
// its own client record can put it in [Client.Host] and find it again in
// [Result.Host].
//
// # The checks
//
// This is the one numbered list of what pkjwt checks; the README, the code
// and the rule tests (rules_test.go, whose cases are named after these
// numbers) use its numbering. Each item names its sources and the reasons
// ([Error.Reason]) it fails with. Verify runs the checks in the order of
// [Step.Check] and stops at the first failure.
//
//  1. Parameters. client_assertion_type is exactly
//     urn:ietf:params:oauth:client-assertion-type:jwt-bearer and
//     client_assertion holds the assertion (RFC 7523 §2.2, RFC 7521 §4.2);
//     each of client_assertion, client_assertion_type and client_id is sent
//     once (RFC 6749 §3.2). Reasons no_credentials, missing_parameter,
//     assertion_type, repeated_parameter.
//  2. client_id. If the request has a client_id parameter, it names the
//     client of the assertion, compared exactly (RFC 7521 §4.2). Reason
//     client_id_mismatch.
//  3. One method, and the HTTP request. An assertion sent with another
//     client authentication (an Authorization header of any scheme, a
//     client_secret parameter) is refused (RFC 6749 §2.3). At the HTTP edge
//     (package middleware, the integrations): POST only, an
//     application/x-www-form-urlencoded body of bounded size, and no client
//     credentials in the URL query (RFC 6749 §2.3.1, §3.2). Reasons
//     multiple_methods, method_not_allowed, content_type, body_too_large,
//     malformed_body, query_parameter.
//  4. Syntax. The JWS compact serialization only (RFC 7515 §7.1): at most
//     [Config.MaxAssertionLength] bytes of base64url characters in three
//     segments, each decoding exactly; header and claims are each one JSON
//     object (RFC 8259) with distinct member names (RFC 7515 §4, RFC 7519
//     §4 allow refusing duplicates; refusing them leaves no parser
//     differential with a gateway that keeps the first); a crit header is
//     refused, since no extension is understood (RFC 7515 §4.1.11). Reasons
//     malformed, crit.
//  5. Signature. It verifies with a key registered to the client named by
//     iss (RFC 7523 §3 item 9), never with a key or URL from the token itself
//     (jwk, x5c, jku, x5u: RFC 8725 §3.10). Reason signature.
//  6. alg. Compared exactly with the allow-list, [Config.Algorithms]: never
//     "none" in any casing, never HS256/HS384/HS512 for private_key_jwt, only
//     the client's registered token_endpoint_auth_signing_alg if it has one
//     (RFC 8725 §3.1 and §3.2; OpenID Connect Dynamic Client Registration
//     1.0 §2). The algs, from internal/jose's one table: RS256, RS384,
//     RS512, PS256, PS384, PS512 (RFC 7518 §3.3, §3.5), ES256, ES384, ES512
//     (RFC 7518 §3.4), EdDSA with Ed25519 (RFC 8037 §3.1) and its
//     fully-specified name Ed25519 (RFC 9864). Reason alg.
//  7. The key fits the alg: key type and curve; the JWK's alg, if any,
//     equals the header's; an RSA modulus of at least [Config.MinRSABits]
//     (2048, RFC 7518 §3.3) and at most 16384 bits; never private or
//     symmetric key material. Package jwksfetch also honours JWK use and
//     key_ops (RFC 7517 §4.2, §4.3). Reasons key_rejected, key_not_found.
//  8. kid. Required only when several of the client's keys fit the alg
//     (RFC 7515 §4.1.4); an unknown kid makes a jwksfetch.Remote fetch the
//     jwks_uri again, at most once per rate-limit interval (OpenID Connect
//     Core 1.0 §10.1.1). Reasons kid_required, key_not_found,
//     keys_unavailable.
//  9. typ. If present, JWT or client-authentication+jwt, in any case, with
//     or without "application/" (draft-ietf-oauth-rfc7523bis; RFC 8725
//     §3.11); other types (dpop+jwt, at+jwt, ...) are other tokens. A
//     missing typ is accepted unless [Config.RequireType]. Reason typ.
//  10. iss and sub. Both present and equal to the client_id, compared
//     exactly (RFC 7523 §3 items 1 and 2, OpenID Connect Core 1.0 §9); the
//     client is registered, for this authentication method. Reasons iss,
//     sub, unknown_client, method, clients_unavailable.
//  11. aud, under [Config.Audience]: AudienceRFC7523bis (the default) wants
//     the issuer identifier as the only value, a string or a one-element
//     array; AudienceStrict wants a JSON string (FAPI 2.0 Security Profile
//     §5.3.2.1); AudienceLegacy accepts any member equal to the issuer or
//     one of [Config.Endpoints], as RFC 7523 §3 item 3 (2015) allowed.
//     Compared exactly, with no normalisation. Only the issuer identifier
//     is safe: the token endpoint URL as audience enables the audience
//     injection attacks (Hosseyni, Küsters and Würtele, University of
//     Stuttgart, disclosed January 2025; described in the introduction of
//     draft-ietf-oauth-rfc7523bis, which updates RFC 7523 §3 item 3).
//     Reason aud.
//  12. exp. Present and a number; refused once passed (with
//     [Config.Leeway]) and when further ahead than [Config.MaxLifetime]
//     (RFC 7523 §3 item 4, RFC 7519 §4.1.4). Reasons exp_missing, expired,
//     lifetime.
//  13. nbf and iat. Honoured; in the future beyond the leeway, refused (FAPI
//     2.0 Security Profile §5.3.2.1 asks for 10 s accepted and 60 s
//     refused); an iat older than the maximum lifetime is refused (RFC 7523
//     §3 items 5 and 6, RFC 7519 §4.1.5 and §4.1.6). Reasons nbf, iat.
//  14. jti. Present, non-empty, at most [Config.MaxJTILength] bytes, and used
//     once: claimed in the replay.Store until exp plus the leeway, scoped
//     to the client, last of all checks so that a rejected assertion never
//     uses it up (RFC 7523 §3 item 7, OpenID Connect Core 1.0 §9). One store
//     must serve every endpoint and node. Reasons jti, replayed,
//     replay_unavailable.
//  15. Claims the verifier does not know are ignored; claim names are
//     matched exactly, so "ISS" is not "iss" (RFC 7519 §4).
//  16. client_secret_jwt, opt-in ([Config.AllowClientSecretJWT]): an HMAC
//     with the client's secret, at least as long as the hash (RFC 7518
//     §3.2), for clients registered for that method only, never with keys
//     from a JWK Set (OpenID Connect Core 1.0 §9). Reasons method, alg,
//     key_rejected, signature.
//  17. Responses are the JSON object of RFC 6749 §5.2 with Cache-Control:
//     no-store (RFC 6749 §5.1); package middleware writes them.
//  18. A bad assertion, client or key is invalid_client; a malformed request
//     is invalid_request (RFC 6749 §5.2). [Error.Description] names the
//     failed check in fixed words and never echoes input or key material.
//  19. When the server cannot decide (client registry, keys or replay store
//     unavailable, a host's own failure), the request fails with
//     server_error, never a success. Reasons clients_unavailable,
//     keys_unavailable, replay_unavailable, internal.
//  20. Metadata (RFC 8414 §2): token_endpoint_auth_methods_supported holds
//     private_key_jwt, and token_endpoint_auth_signing_alg_values_supported
//     the allowed algs, never "none" ([Verifier.AuthMethods],
//     [Verifier.SigningAlgorithms]).
//
// # Errors
//
// Every error of Verify is an [*Error] wrapping one of this package's
// sentinel errors, whose reasons are the one documented set above; the
// cause (a KeySource's or replay store's error, say) is kept and
// unwrappable, so errors.Is(err, replay.ErrReplayed) also holds on a
// replayed assertion. Code outside this package that fails a request (an
// HTTP edge, an integration) builds its *Error with [NewError] and one of
// the sentinels, ErrInternal for its own failures; use errors.As to read
// one:
//
//	var e *verify.Error
//	if errors.As(err, &e) {
//		log.Println(e.Reason, e.Code, e.Err)
//	}
//
// # Configuration
//
// pkjwt's packages (verify, jwksfetch, replay, replay/redisstore,
// middleware, the integrations, and the pkjwt command's configuration)
// follow one rule:
//
//   - A constructor takes its required inputs as positional arguments and
//     its policy as a value of a Config struct (named XConfig when a
//     package has several), last, never a pointer or options; it copies the
//     struct and, when anything in it can be invalid, validates it and
//     returns (*T, error), nothing half-built.
//   - The zero value of every Config field is the documented default, so
//     the zero Config is the default policy.
//   - A negative number (or duration) is an error, except where the field
//     says "Negative: none": then it turns off something whose absence is
//     safe, because it only tolerates, waits, repeats or bounds on top of
//     another bound (a leeway, a background refresh or cleanup, a rate
//     limit, a wait, a timeout beyond the caller's ctx). Counts, sizes and
//     every bound that is the only one (a lifetime, a staleness, a fetch
//     timeout) cannot be turned off.
//   - A configuration file or command line, which can tell an absent
//     setting from zero, takes an absent setting as the default and a
//     number literally (0 s of leeway is none); negative numbers are errors
//     there.
//
// # The happy path
//
//	keys, _ := verify.NewKeySet(verify.Key{ID: "k1", Public: clientPublicKey})
//	clients := verify.ClientMap{"c1": {ID: "c1", Keys: keys}}
//	store, _ := replay.NewMemory(replay.MemoryConfig{})
//	defer store.Close()
//	v, err := verify.New("https://as.example.com", clients, store, verify.Config{})
//	if err != nil { ... }
//	req, err := verify.RequestFromForm(r.PostForm, r.Header)
//	if err != nil { ... }
//	res, err := v.Verify(ctx, req)
//	if err != nil { ... } // errors.As(err, &e): e.Code is "invalid_client", ...
//	fmt.Println(res.ClientID)
package verify
