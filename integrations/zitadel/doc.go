// Package pkjwtzitadel makes an OpenID Provider built with
// github.com/zitadel/oidc/v3/pkg/op verify private_key_jwt client
// authentication (RFC 7523 §2.2 and §3, OpenID Connect Core 1.0 §9) with pkjwt
// instead of zitadel/oidc's own code. Import it as
//
//	import pkjwtzitadel "github.com/pkjwt/pkjwt/integrations/zitadel"
//
// It is a module of its own, so that pkjwt itself never depends on
// zitadel/oidc.
//
// # What changes
//
// zitadel/oidc checks a client assertion with op.VerifyJWTAssertion
// (pkg/op/verifier_jwt_profile.go), used by op.ClientJWTAuth (pkg/op/client.go)
// and op.AuthorizePrivateJWTKey (pkg/op/token_request.go). With this package a
// request carrying a client assertion is verified by a verify.Verifier instead,
// which adds what zitadel/oidc does not do:
//
//   - jti single use: zitadel/oidc records no jti, so an assertion can be
//     replayed until it expires or its iat is an hour old
//     (op.Provider.JWTProfileVerifier, pkg/op/op.go); pkjwt claims each jti
//     once in a replay.Store shared by every endpoint and node;
//   - nbf, which zitadel/oidc ignores, and exp bounded by a maximum lifetime;
//   - the rfc7523bis/FAPI 2.0 audience rule: zitadel/oidc accepts any aud
//     array that contains the issuer (oidc.CheckAudience), which admits the
//     audience-injection attacks of draft-ietf-oauth-rfc7523bis; pkjwt
//     wants the issuer alone;
//   - EdDSA, RS384/RS512, PS384/PS512, ES384/ES512: zitadel/oidc accepts only
//     RS256, ES256 and PS256 (oidc.CheckSignature with no algs,
//     pkg/oidc/verifier.go), and verifies with whatever key the storage
//     returns, whatever its use and alg members say;
//   - the key checks of package jwksfetch on the key the storage returns (use,
//     key_ops, alg, curve, RSA size, no private or symmetric keys);
//   - client_credentials with private_key_jwt at all: zitadel/oidc's
//     LegacyServer.VerifyClient hands that grant to
//     ClientCredentialsStorage.ClientCredentials with the client_id and
//     secret only, ignoring the assertion (pkg/op/server_legacy.go), so an
//     assertion-only request has no client_id and fails.
//
// # How it hooks in
//
// zitadel/oidc's op.Server interface (pkg/op/server.go) authenticates the client
// of every endpoint but introspection in one method, VerifyClient, and
// introspection in Introspect. Authenticator.Handler serves an
// op.ExtendedLegacyServer (what op.NewLegacyServer returns around an
// op.Provider) as op.RegisterLegacyServer does, with both methods replaced for
// requests that carry client_assertion or client_assertion_type; every other
// request goes to the wrapped server unchanged (client_secret_basic,
// client_secret_post, public clients). In front of the token, introspection
// and revocation endpoints it reads the body within Config.MaxBodyBytes,
// refuses a token request with a repeated parameter (RFC 6749 §3.2) and sets
// Cache-Control: no-store and Pragma: no-cache on every answer:
//
//	provider, err := op.NewProvider(config, storage, op.StaticIssuer(issuer))
//	if err != nil {
//		return err
//	}
//	auth, err := pkjwtzitadel.New(issuer, storage, replayStore, pkjwtzitadel.Config{})
//	if err != nil {
//		return err
//	}
//	server := op.NewLegacyServer(provider, *op.DefaultEndpoints)
//	handler := auth.Handler(server, op.AuthorizeCallbackHandler(provider))
//
// Handler is the only way in, so that no endpoint can be served without the
// edge. The op.Server interface is marked EXPERIMENTAL by zitadel/oidc ("may
// change until v4"). An op.Provider served directly as an http.Handler (its
// own router, pkg/op/op.go CreateRouter) has no hook for client
// authentication: its handlers call the storage and op.ClientJWTAuth
// themselves. Serve it through Handler as above, which serves the same
// endpoints as zitadel/oidc's own transition path, op.RegisterLegacyServer.
//
// # Discovery
//
// The discovery document that Handler serves at
// /.well-known/openid-configuration lists private_key_jwt among the methods
// of the token, introspection and revocation endpoints and, as their signing
// algs, the verifier's list (zitadel/oidc lists RS256 alone).
// Authenticator.MetadataServer serves the same document at both
// /.well-known/openid-configuration and the RFC 8414 path
// /.well-known/oauth-authorization-server, with op.RegisterMetadataServer;
// Authenticator.Metadata rewrites a document the host builds itself.
//
// # Clients and keys
//
// Clients come from the storage's GetClientByClientID. A client authenticates
// with private_key_jwt only if its AuthMethod is oidc.AuthMethodPrivateKeyJWT.
// Its keys come from the storage's GetKeyByIDAndClientID, asked with the
// assertion's kid, as zitadel/oidc asks; the returned JWK must fit the
// assertion's alg. For a client whose registration has a jwks_uri, which
// op.Client cannot express, Config.JWKSURI names it and Config.Registry, a
// jwksfetch.Registry shared with every other verifier of the server, fetches
// it. op.Client has no token_endpoint_auth_signing_alg either:
// Config.SigningAlg reads it from the host's client type, and a client with
// one may use that alg alone; without the hook every alg of the verifier's
// list is accepted. Authenticator.CheckClient refuses, at start-up or
// registration, a jwks_uri or an alg the server cannot use.
//
// # Errors
//
// Failures are *oidc.Error values that zitadel/oidc writes as RFC 6749 §5.2
// JSON: invalid_client with HTTP 401 (in an op.StatusError) for anything about
// the assertion, the client or its keys, invalid_request (400; 413 for a body
// over the cap) for a malformed request, server_error (500) when the storage,
// a key source or the replay store could not answer. The description is the
// fixed description of the failed check (verify.Error.Description), one
// generic sentence for server errors; the *verify.Error is the parent, for
// errors.As, and is not sent to the client. zitadel/oidc logs each failure
// once, through slog's default logger, with that parent; this package logs
// nothing of its own.
//
// # What zitadel/oidc still does
//
// Checked with zitadel/oidc v3.52.0. zitadel/oidc still parses the request
// (including its own checks that an assertion and a secret are not both
// sent, and that client_assertion_type is the JWT bearer type), decides which
// grants it supports (an unknown one gets unsupported_grant_type), checks the
// authenticated client's grant types and scopes, issues, introspects and
// revokes tokens, and authenticates every request without an assertion. The
// host still owns its storage (clients, their keys, tokens), the issuer, TLS,
// CORS and the rest of the discovery document. The JWT Profile authorization
// grant (grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer,
// op.JWTProfile) is not client authentication and stays zitadel/oidc's, with
// its gaps. A provider with a per-request issuer (op.IssuerFromHost,
// op.IssuerFromForwardedOrHost) needs one Authenticator per issuer: a request
// whose issuer is not the Authenticator's fails with server_error.
package pkjwtzitadel
