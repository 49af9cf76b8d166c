package pkjwtfosite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"

	"github.com/ory/fosite"

	"github.com/pkjwt/pkjwt/internal/tokenedge"
	"github.com/pkjwt/pkjwt/jwksfetch"
	"github.com/pkjwt/pkjwt/middleware"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

// Config is the policy of an Authenticator, under the configuration rule of
// package verify: the zero value is the default policy, each field documents
// its zero value, a negative number is an error. New copies it.
type Config struct {
	// Verify is the verifier's policy: audience, algs, leeway, lifetime.
	// Zero: verify's default policy (aud must be the issuer
	// identifier). A server whose clients send the token endpoint URL as aud,
	// as fosite required, sets Audience to verify.AudienceLegacy and
	// Endpoints to that URL while they migrate. AllowClientSecretJWT must
	// be false: fosite stores client secrets hashed.
	Verify verify.Config
	// Registry fetches and refreshes the clients' jwks_uri documents.
	// Share one Registry between every Authenticator and verifier of the
	// server, so that each document is fetched once; it stays the
	// caller's to close. Nil: New builds one with jwksfetch's defaults
	// (https only, no private or loopback addresses, 5 min refresh), which
	// Close closes.
	Registry *jwksfetch.Registry
	// Inline is the policy applied to clients' registered jwks. Zero: a
	// JWK Set with any JWK that cannot verify signatures is refused; set
	// SkipUnusable when registrations also carry encryption keys.
	Inline jwksfetch.InlineConfig
	// SigningAlg returns the client's registered
	// token_endpoint_auth_signing_alg, or "" if it registered none; an
	// assertion of a client with one must use exactly that alg, one of a
	// client without one any alg of the verifier's list. Nil: the
	// TokenEndpointAuthSigningAlgorithm field of a
	// *fosite.DefaultOpenIDConnectClient, read directly, because its
	// GetTokenEndpointAuthSigningAlgorithm reports "RS256" when the field
	// is empty; GetTokenEndpointAuthSigningAlgorithm for any other client
	// type. A host whose client type also reports "RS256" for "unset" (Ory
	// Hydra's client.Client does) returns its own field here.
	SigningAlg func(fosite.OpenIDConnectClient) string
	// IsNotFound reports whether an error of the ClientManager's GetClient
	// means that there is no such client (invalid_client), rather than
	// that the storage failed (server_error). Nil: errors.Is(err,
	// fosite.ErrNotFound), which is what storage.MemoryStore returns.
	IsNotFound func(error) bool
	// MaxBodyBytes caps the body of every request that the provider
	// returned by Install or Provider reads (token, introspection,
	// revocation, pushed authorization); a larger body is refused with
	// invalid_request before fosite parses it. Zero: 64 KiB.
	MaxBodyBytes int64
	// FallbackAuthMethods are the token_endpoint_auth_methods_supported
	// values of the strategy that authenticates requests without an
	// assertion, for Metadata. Nil: those of fosite's
	// DefaultClientAuthenticationStrategy, client_secret_basic,
	// client_secret_post and none. Set an empty, non-nil slice with
	// Strategy(nil).
	FallbackAuthMethods []string
	// Logger receives every failed client authentication: at level Error
	// when the server could not decide, Info otherwise, with the failed
	// check's reason, the error text and the client_id parameter. The
	// assertion is never logged. Nil: nothing is logged.
	Logger *slog.Logger
}

// Authenticator verifies client assertions for a fosite server. Its
// Install (or Strategy and Provider) connects it to fosite. It is safe for
// concurrent use; Close it when done.
type Authenticator struct {
	v        *verify.Verifier
	clients  *clientStore
	ownsReg  bool
	maxBody  int64
	fallback []string
	logger   *slog.Logger
}

// New returns an Authenticator for the authorization server whose issuer
// identifier is issuer, looking clients up in clients (the server's fosite
// storage) and claiming each assertion's jti in store. Share store with every
// other verifier of the same server, and use one store for all its nodes
// (replay/redisstore). The zero Config is the default policy.
//
// New returns an error if an argument is missing or cfg is invalid.
func New(issuer string, clients fosite.ClientManager, store replay.Store, cfg Config) (*Authenticator, error) {
	if clients == nil {
		return nil, errors.New("pkjwtfosite: nil ClientManager")
	}
	c := cfg
	if c.Verify.AllowClientSecretJWT {
		return nil, errors.New("pkjwtfosite: client_secret_jwt cannot be verified: fosite stores client secrets hashed")
	}
	maxBody, err := tokenedge.BodyCap("pkjwtfosite", c.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	if c.IsNotFound == nil {
		c.IsNotFound = func(err error) bool { return errors.Is(err, fosite.ErrNotFound) }
	}
	if c.SigningAlg == nil {
		c.SigningAlg = registeredAlg
	}
	if c.FallbackAuthMethods == nil {
		c.FallbackAuthMethods = []string{"client_secret_basic", "client_secret_post", "none"}
	}
	registry, owns := c.Registry, false
	if registry == nil {
		var err error
		if registry, err = jwksfetch.NewRegistry(jwksfetch.RegistryConfig{}); err != nil {
			return nil, fmt.Errorf("pkjwtfosite: %w", err)
		}
		owns = true
	}
	cl := &clientStore{manager: clients, registry: registry, inlineCfg: c.Inline, inline: jwksfetch.NewInlineCache(c.Inline),
		isNotFound: c.IsNotFound, signingAlg: c.SigningAlg}
	v, err := verify.New(issuer, cl, store, c.Verify)
	if err != nil {
		if owns {
			registry.Close()
		}
		return nil, fmt.Errorf("pkjwtfosite: %w", err)
	}
	return &Authenticator{v: v, clients: cl, ownsReg: owns, maxBody: maxBody,
		fallback: slices.Clone(c.FallbackAuthMethods), logger: c.Logger}, nil
}

// registeredAlg is the default Config.SigningAlg.
func registeredAlg(c fosite.OpenIDConnectClient) string {
	if d, ok := c.(*fosite.DefaultOpenIDConnectClient); ok {
		return d.TokenEndpointAuthSigningAlgorithm
	}
	return c.GetTokenEndpointAuthSigningAlgorithm()
}

// Verifier returns the verifier, for endpoints outside fosite that must
// share its replay protection.
func (a *Authenticator) Verifier() *verify.Verifier { return a.v }

// Close stops the background refresh of the clients' jwks_uri documents if
// New built the Registry (Config.Registry nil); assertions of clients with
// a jwks_uri then fail with server_error. Close is safe to call more than
// once; it returns nil.
func (a *Authenticator) Close() error {
	if a.ownsReg {
		return a.clients.registry.Close()
	}
	return nil
}

// Install makes the provider that compose builds from config authenticate
// client assertions with a, and returns it wrapped by a's Provider: the one
// provider the server must use for every endpoint. compose is typically
//
//	func(c *fosite.Config) fosite.OAuth2Provider {
//		return compose.ComposeAllEnabled(c, store, signingKey)
//	}
//
// Install sets config.ClientAuthenticationStrategy to a's Strategy, whose
// fallback for requests without an assertion is the strategy config had,
// if any, or else the composed provider's
// DefaultClientAuthenticationStrategy. Because the unwrapped provider never
// leaves Install, a server cannot serve introspection with it by mistake
// (fosite's own introspection endpoint does not accept private_key_jwt).
//
// Install returns an error if config or compose is nil, if compose returns
// nil or a *fosite.Fosite of another config (whose requests would never
// reach the strategy), or if config has no strategy and the provider is not
// a *fosite.Fosite. Call it before serving requests.
func (a *Authenticator) Install(config *fosite.Config, compose func(*fosite.Config) fosite.OAuth2Provider) (fosite.OAuth2Provider, error) {
	if config == nil || compose == nil {
		return nil, errors.New("pkjwtfosite: Install needs the config and the compose function")
	}
	p := compose(config)
	if p == nil {
		return nil, errors.New("pkjwtfosite: compose returned no provider")
	}
	f, isFosite := p.(*fosite.Fosite)
	if isFosite && f.Config != fosite.Configurator(config) {
		// The strategy set on config would never be asked.
		return nil, errors.New("pkjwtfosite: compose built the provider from another config than the one it was given")
	}
	fallback := config.ClientAuthenticationStrategy
	if fallback == nil {
		if !isFosite {
			return nil, fmt.Errorf("pkjwtfosite: provider is a %T, not a *fosite.Fosite: use Strategy and Provider", p)
		}
		fallback = f.DefaultClientAuthenticationStrategy
	}
	config.ClientAuthenticationStrategy = a.Strategy(fallback)
	return a.Provider(p), nil
}

// Strategy returns a fosite.ClientAuthenticationStrategy that verifies the
// client assertion of every request whose body has client_assertion or
// client_assertion_type, and hands every other request to fallback
// (typically (*fosite.Fosite).DefaultClientAuthenticationStrategy) unchanged.
// With a nil fallback such requests fail with invalid_client: only
// private_key_jwt is accepted.
//
// On success it returns the fosite.Client that the ClientManager returned for
// the assertion's iss. Client credentials in the URL query fail with
// invalid_request (RFC 6749 §2.3.1), with or without an assertion.
func (a *Authenticator) Strategy(fallback fosite.ClientAuthenticationStrategy) fosite.ClientAuthenticationStrategy {
	return func(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
		body := form
		if r.PostForm != nil {
			body = r.PostForm // fosite's pushed authorization endpoint passes r.Form
		}
		if e := tokenedge.CheckQuery(rawQuery(r), body); e != nil {
			return nil, a.fail(ctx, e, body)
		}
		if !tokenedge.HasAssertion(body) {
			if fallback == nil {
				return nil, a.fail(ctx, verify.NewError(verify.ErrNoCredentials, nil), body)
			}
			return fallback(ctx, r, form)
		}
		return a.authenticate(ctx, r.Header, body, "")
	}
}

// rawQuery returns r's URL query.
func rawQuery(r *http.Request) string {
	if r.URL == nil {
		return ""
	}
	return r.URL.RawQuery
}

// authenticate verifies the client assertion in the request body form.
// other names a client authentication method the caller found in the
// request besides the Authorization header and client_secret, or is empty.
func (a *Authenticator) authenticate(ctx context.Context, header http.Header, form url.Values, other string) (fosite.Client, error) {
	req, err := verify.RequestFromForm(form, header)
	if err != nil {
		return nil, a.fail(ctx, err, form)
	}
	if req.OtherAuthentication == "" {
		req.OtherAuthentication = other
	}
	res, err := a.v.Verify(ctx, req)
	if err != nil {
		return nil, a.fail(ctx, err, form)
	}
	return res.Host.(fosite.Client), nil // clientStore sets it
}

// fail logs err, a *verify.Error, and returns the fosite error for it.
func (a *Authenticator) fail(ctx context.Context, err error, form url.Values) error {
	e := tokenedge.AsError(err)
	tokenedge.LogFailure(ctx, a.logger, "pkjwtfosite: client authentication failed", e, form.Get("client_id"))
	return toFosite(e)
}

// toFosite maps e to the fosite error with the same RFC 6749 §5.2 code. The
// hint is tokenedge.Description(e); e is wrapped for errors.As and never
// exposed as debug text.
func toFosite(e *verify.Error) *fosite.RFC6749Error {
	var f *fosite.RFC6749Error
	switch e.Code {
	case verify.CodeServerError:
		f = fosite.ErrServerError
	case verify.CodeInvalidRequest:
		f = fosite.ErrInvalidRequest
	default:
		f = fosite.ErrInvalidClient
	}
	return f.WithHint(tokenedge.Description(e)).WithWrap(e)
}

// Metadata returns the client authentication members of the server's
// discovery document, for both OpenID Connect Discovery 1.0
// (/.well-known/openid-configuration) and RFC 8414
// (/.well-known/oauth-authorization-server), which fosite does not serve
// itself: at the token, revocation and pushed authorization endpoints
// private_key_jwt and Config.FallbackAuthMethods; at the introspection
// endpoint private_key_jwt and client_secret_basic, the only method of
// fosite's own introspection; at each, the signing algs the verifier
// accepts. Embed it in the document's struct or copy its fields.
func (a *Authenticator) Metadata() middleware.Metadata {
	m := middleware.NewMetadata(a.v, middleware.TokenEndpoint, middleware.IntrospectionEndpoint, middleware.RevocationEndpoint)
	m.TokenEndpointAuthMethodsSupported = append(m.TokenEndpointAuthMethodsSupported, a.fallback...)
	m.RevocationEndpointAuthMethodsSupported = append(m.RevocationEndpointAuthMethodsSupported, a.fallback...)
	m.IntrospectionEndpointAuthMethodsSupported = append(m.IntrospectionEndpointAuthMethodsSupported, "client_secret_basic")
	return m
}
