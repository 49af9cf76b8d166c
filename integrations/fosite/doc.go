// Package pkjwtfosite makes a github.com/ory/fosite authorization server
// verify private_key_jwt client authentication (RFC 7523 §2.2 and §3, OpenID
// Connect Core 1.0 §9) with pkjwt instead of fosite's own code. Import it as
//
//	import pkjwtfosite "github.com/pkjwt/pkjwt/integrations/fosite"
//
// It is a module of its own, so that pkjwt itself never depends on fosite.
//
// # What changes
//
// A request carrying client_assertion or client_assertion_type is verified by
// a verify.Verifier; every other request is handed, unchanged, to the strategy
// fosite would have used (fosite's DefaultClientAuthenticationStrategy:
// client_secret_basic, client_secret_post, public clients). Compared with
// fosite's own private_key_jwt (fosite client_authentication.go,
// DefaultClientAuthenticationStrategy and findPublicKey), the server gains:
//
//   - the audience policies of draft-ietf-oauth-rfc7523bis and FAPI 2.0: the
//     issuer identifier is the expected aud, and the token endpoint URL is
//     refused by default (fosite wants the token endpoint URL,
//     Config.TokenURL, and nothing else);
//   - EdDSA, RS384/RS512, PS384/PS512, ES384/ES512 under one allow-list, and
//     the key checks of package jwksfetch (use, key_ops, alg, curve, RSA size,
//     no private or symmetric keys); fosite accepts only RSA and ECDSA keys
//     whose use is "sig";
//   - jwks_uri fetched with a timeout, a size cap, an SSRF guard, background
//     refresh, refresh on an unknown kid and stale keys while the endpoint is
//     down (jwksfetch.Registry), instead of fosite's JWKSFetcherStrategy;
//   - exp required and bounded by a maximum lifetime, iat and nbf checked
//     with a clock-skew leeway (fosite's jwt.MapClaims.Valid allows no skew,
//     and any exp);
//   - jti single use through a replay.Store (replay.NewMemory, or
//     replay/redisstore for a cluster), claimed only after every other check
//     passed and keyed by client, instead of the storage's
//     ClientAssertionJWTValid/SetClientAssertionJWT pair, which fosite calls
//     before checking aud, and which storage.MemoryStore implements with a
//     scan of every stored jti per request;
//   - the same assertion is good for one request across token, revocation,
//     pushed authorization and introspection endpoints;
//   - private_key_jwt at the introspection endpoint, which fosite's
//     NewIntrospectionRequest does not accept at all (it knows only a bearer
//     token and HTTP Basic).
//
// # How it hooks in
//
// fosite calls a ClientAuthenticationStrategy from AuthenticateClient
// (client_authentication.go), which the token endpoint (NewAccessRequest),
// revocation (NewRevocationRequest) and pushed authorization
// (NewPushedAuthorizeRequest) use; fosite.Config's ClientAuthenticationStrategy
// field sets it. The introspection endpoint authenticates callers itself, so
// Authenticator.Provider wraps the fosite.OAuth2Provider and replaces
// NewIntrospectionRequest (and WriteIntrospectionError, so that a failed
// authentication is answered with an RFC 6749 §5.2 error and not with
// {"active": false}). The same wrapper caps every request body at
// Config.MaxBodyBytes (fosite itself parses up to net/http's 10 MB), refuses
// a token request with a repeated parameter (invalid_request, RFC 6749 §3.2)
// or a grant_type no handler serves (unsupported_grant_type), and answers a
// failed authentication at revocation with its RFC 6749 error (fosite's own
// writer turns server_error into 200 OK). Authenticator.Install does both,
// and takes the function that composes the provider, so that the unwrapped
// provider, whose introspection has no private_key_jwt, never reaches the
// server:
//
//	auth, err := pkjwtfosite.New(issuer, store, replayStore, pkjwtfosite.Config{})
//	if err != nil {
//		return err
//	}
//	defer auth.Close()
//	provider, err := auth.Install(config, func(c *fosite.Config) fosite.OAuth2Provider {
//		return compose.ComposeAllEnabled(c, store, signingKey)
//	})
//	if err != nil {
//		return err
//	}
//
// A server with its own fosite.Configurator (Ory Hydra's fositex.Config is
// one) returns Authenticator.Strategy from GetClientAuthenticationStrategy
// and serves every endpoint with the provider Authenticator.Provider returns
// (Example_hydraStyle).
//
// # Clients
//
// Clients come from the server's own fosite.ClientManager (GetClient). A
// client authenticates with private_key_jwt only if it implements
// fosite.OpenIDConnectClient and its GetTokenEndpointAuthMethod is
// "private_key_jwt". Its keys are GetJSONWebKeys if set, otherwise the JWK Set
// at GetJSONWebKeysURI, fetched by a jwksfetch.Registry that Config.Registry
// lets the server share. Its registered token_endpoint_auth_signing_alg, if
// any, is the only alg accepted; without one, any alg of the verifier's
// list. fosite.DefaultOpenIDConnectClient (and Hydra's client.Client) report
// "RS256" when nothing is registered, which would pin every such client to
// RS256: Config.SigningAlg reads the registration's own field instead (by
// default, fosite.DefaultOpenIDConnectClient's). Authenticator.CheckClient
// refuses, when the server starts or a client registers, a registration that
// pkjwt cannot use (unusable jwks, bad jwks_uri, an alg off the list).
//
// # Metadata
//
// fosite serves no discovery document. Authenticator.Metadata returns the
// client authentication members of one, for both OpenID Connect Discovery
// and RFC 8414: the methods of the token, revocation and pushed authorization
// endpoints (private_key_jwt and the fallback's, Config.FallbackAuthMethods),
// of the introspection endpoint (private_key_jwt and client_secret_basic) and
// the verifier's signing algs.
//
// # Errors
//
// Failures are *fosite.RFC6749Error values that fosite renders: ErrInvalidClient
// (401) for anything about the assertion, the client or its keys,
// ErrInvalidRequest (400) for a malformed request, ErrServerError (500) when
// the client registry, a key source or the replay store could not answer.
// Their hint is the fixed description of the failed check
// (verify.Error.Description), one generic sentence for server errors; they
// wrap the *verify.Error, for errors.As, and never carry it as fosite debug
// text. fosite's own request_unauthorized at introspection (no or bad
// caller credentials) becomes invalid_client. Config.Logger records each
// failure once; fosite logs none.
//
// # What fosite still does
//
// Checked with fosite v0.49.0. fosite still parses the request (within the
// wrapper's cap), decides which endpoints authenticate clients and which
// grants exist, checks grant types, scopes and audiences of the
// authenticated client, issues and introspects tokens, sets the no-store
// headers of its answers, and authenticates every client that does not
// send an assertion. The server still owns its storage, its Configurator,
// TLS, its discovery document (with Metadata's fields) and the rest of its
// HTTP routing. The RFC 7523 authorization grant
// (grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer, handler/rfc7523) is
// not client authentication and stays fosite's. client_secret_jwt cannot be
// offered, because fosite stores client secrets hashed. At the pushed
// authorization endpoint fosite answers every failed client authentication,
// server errors included, as invalid_client (pushed_authorize_request_handler.go).
package pkjwtfosite
