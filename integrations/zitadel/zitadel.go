package pkjwtzitadel

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/pkjwt/pkjwt/internal/tokenedge"
	"github.com/pkjwt/pkjwt/jwksfetch"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

// Config is the policy of an Authenticator, under the configuration rule of
// package verify: the zero value is the default policy, each field documents
// its zero value, a negative number is an error. New copies it.
type Config struct {
	// Verify is the verifier's policy: audience, algs, leeway, lifetime.
	// Zero: verify's default policy (aud must be the issuer
	// identifier, as zitadel/oidc also requires). AllowClientSecretJWT must
	// be false: zitadel/oidc's storage checks secrets itself and does not
	// hand them out.
	Verify verify.Config
	// JWKSURI returns the jwks_uri a client registered, or "" for a client
	// whose keys are the storage's (GetKeyByIDAndClientID, asked with the
	// assertion's kid, as zitadel/oidc asks). zitadel/oidc's op.Client has
	// no jwks_uri: the host reads it from its own client type. Nil: every
	// client's keys are the storage's.
	JWKSURI func(op.Client) string
	// Registry fetches and refreshes the documents at the URIs JWKSURI
	// returns; required with JWKSURI. Share one Registry between every
	// verifier of the server, so that each document is fetched once; it
	// stays the caller's to close.
	Registry *jwksfetch.Registry
	// SigningAlg returns the token_endpoint_auth_signing_alg a client
	// registered, or "" if none; an assertion of a client with one must
	// use exactly that alg, one of a client without one any alg of the
	// verifier's list. zitadel/oidc's op.Client has no such field: the host
	// reads it from its own client type. Nil: no client registered one.
	SigningAlg func(op.Client) string
	// MaxBodyBytes caps the body of a request to the token, introspection
	// and revocation endpoints; a larger body is refused with
	// invalid_request (HTTP 413) before zitadel/oidc parses it. Zero:
	// 64 KiB.
	MaxBodyBytes int64
}

// Authenticator verifies client assertions for a zitadel/oidc OpenID
// Provider. Its Handler method connects it. It is safe for concurrent use
// and starts no goroutine.
type Authenticator struct {
	v       *verify.Verifier
	clients *clientStore
	maxBody int64
}

// New returns an Authenticator for the OpenID Provider whose issuer
// identifier is issuer, looking clients (and, unless cfg.JWKSURI names a
// document, their keys) up in storage and claiming each assertion's jti in
// store. Share store with every other verifier of the same server, and use
// one store for all its nodes (replay/redisstore). The zero Config is the
// default policy.
//
// New returns an error if an argument is missing or cfg is invalid.
func New(issuer string, storage op.Storage, store replay.Store, cfg Config) (*Authenticator, error) {
	if storage == nil {
		return nil, errors.New("pkjwtzitadel: nil Storage")
	}
	c := cfg
	if c.Verify.AllowClientSecretJWT {
		return nil, errors.New("pkjwtzitadel: client_secret_jwt cannot be verified: the storage does not hand out client secrets")
	}
	if c.JWKSURI != nil && c.Registry == nil {
		return nil, errors.New("pkjwtzitadel: JWKSURI without a Registry")
	}
	maxBody, err := tokenedge.BodyCap("pkjwtzitadel", c.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	cl := &clientStore{storage: storage, jwksURI: c.JWKSURI, registry: c.Registry, signingAlg: c.SigningAlg,
		inline: jwksfetch.NewInlineCache(jwksfetch.InlineConfig{})}
	v, err := verify.New(issuer, cl, store, c.Verify)
	if err != nil {
		return nil, fmt.Errorf("pkjwtzitadel: %w", err)
	}
	return &Authenticator{v: v, clients: cl, maxBody: maxBody}, nil
}

// Verifier returns the verifier, for endpoints outside zitadel/oidc that
// must share its replay protection.
func (a *Authenticator) Verifier() *verify.Verifier { return a.v }

// Handler serves s, as op.RegisterLegacyServer(s, authorizeCallback,
// options...) does, with pkjwt's client authentication:
//
//   - VerifyClient (every endpoint that authenticates clients but
//     introspection) and Introspect verify the client assertion of a
//     request whose body has client_assertion or client_assertion_type,
//     and pass every other request to s unchanged;
//   - the token, introspection and revocation endpoints read at most
//     Config.MaxBodyBytes of body, answer with Cache-Control: no-store and
//     Pragma: no-cache (zitadel/oidc sends neither), and the token
//     endpoint refuses a request with a repeated parameter with
//     invalid_request (RFC 6749 §3.2; zitadel/oidc takes the first value);
//   - Discovery reports the client authentication methods and algs of
//     Metadata.
//
// Every other method is s's. The endpoints are s.Endpoints(), relative to
// the handler's root.
func (a *Authenticator) Handler(s op.ExtendedLegacyServer, authorizeCallback http.HandlerFunc, options ...op.ServerOption) http.Handler {
	ends := s.Endpoints()
	options = append(slices.Clip(options), op.WithHTTPMiddleware(a.edge(ends)))
	return op.RegisterLegacyServer(&server{ExtendedLegacyServer: s, a: a}, authorizeCallback, options...)
}

// authenticate verifies the client assertion of a request whose decoded
// body is form and whose header is header, and returns the client the
// storage returned for it.
func (a *Authenticator) authenticate(ctx context.Context, form url.Values, header http.Header) (op.Client, error) {
	if iss := op.IssuerFromContext(ctx); iss != "" && iss != a.v.Issuer() {
		return nil, toOIDC(verify.NewError(verify.ErrInternal,
			fmt.Errorf("pkjwtzitadel: the request's issuer %q is not the Authenticator's %q", iss, a.v.Issuer())))
	}
	req, err := verify.RequestFromForm(form, header)
	if err != nil {
		return nil, toOIDC(tokenedge.AsError(err))
	}
	res, err := a.v.Verify(ctx, req)
	if err != nil {
		return nil, toOIDC(tokenedge.AsError(err))
	}
	return res.Host.(op.Client), nil // clientStore sets it
}

// toOIDC maps e to the zitadel/oidc error with the same RFC 6749 §5.2 code:
// invalid_client with status 401, invalid_request (400), server_error (500).
// The description is tokenedge.Description(e); e is the parent, which
// zitadel/oidc logs (once, through slog's default logger) but does not
// send.
func toOIDC(e *verify.Error) error {
	d := tokenedge.Description(e)
	switch e.Code {
	case verify.CodeServerError:
		return oidc.ErrServerError().WithDescription("%s", d).WithParent(e)
	case verify.CodeInvalidRequest:
		status := http.StatusBadRequest
		if errors.Is(e, verify.ErrBodyTooLarge) {
			status = http.StatusRequestEntityTooLarge
		}
		return op.NewStatusError(oidc.ErrInvalidRequest().WithDescription("%s", d).WithParent(e), status)
	default:
		return op.NewStatusError(oidc.ErrInvalidClient().WithDescription("%s", d).WithParent(e), http.StatusUnauthorized)
	}
}

// Metadata sets the client authentication members of d, a discovery
// document (OpenID Connect Discovery 1.0 §3 or RFC 8414 §2) that
// op.CreateDiscoveryConfig or a LegacyServer built, to what the server
// accepts with pkjwt installed: for the token, introspection and
// revocation endpoints, zitadel/oidc's own methods with private_key_jwt
// added, and the algs of the verifier (zitadel/oidc lists RS256 alone, or
// nothing when its own private_key_jwt is off). The Handler's Discovery
// calls it; a MetadataServer (MetadataServer) serves the same.
func (a *Authenticator) Metadata(d *oidc.DiscoveryConfiguration) {
	withPKJWT := func(ms []oidc.AuthMethod) []oidc.AuthMethod {
		if slices.Contains(ms, oidc.AuthMethodPrivateKeyJWT) {
			return ms
		}
		return append(slices.Clip(ms), oidc.AuthMethodPrivateKeyJWT)
	}
	d.TokenEndpointAuthMethodsSupported = withPKJWT(d.TokenEndpointAuthMethodsSupported)
	d.IntrospectionEndpointAuthMethodsSupported = withPKJWT(d.IntrospectionEndpointAuthMethodsSupported)
	d.RevocationEndpointAuthMethodsSupported = withPKJWT(d.RevocationEndpointAuthMethodsSupported)
	d.TokenEndpointAuthSigningAlgValuesSupported = a.v.SigningAlgorithms()
	d.IntrospectionEndpointAuthSigningAlgValuesSupported = a.v.SigningAlgorithms()
	d.RevocationEndpointAuthSigningAlgValuesSupported = a.v.SigningAlgorithms()
}

// CheckClient checks the registration of c as the Authenticator reads it,
// so that a server refuses a bad registration when it starts or when the
// client registers, not at the client's first request: for a client
// registered for private_key_jwt, a jwks_uri (Config.JWKSURI) the Registry
// accepts, and a signing alg (Config.SigningAlg), if any, on the
// verifier's list. The error wraps verify.ErrKeyNotFound or
// verify.ErrAlgorithm. Other clients are zitadel/oidc's; CheckClient
// returns nil for them. It fetches nothing.
func (a *Authenticator) CheckClient(c op.Client) error {
	if c.AuthMethod() != oidc.AuthMethodPrivateKeyJWT {
		return nil
	}
	s := a.clients
	if s.jwksURI != nil {
		if uri := s.jwksURI(c); uri != "" {
			if _, err := s.registry.Source(uri); err != nil {
				return fmt.Errorf("pkjwtzitadel: client %q: %w: registered jwks_uri: %w", c.GetID(), verify.ErrKeyNotFound, err)
			}
		}
	}
	if s.signingAlg != nil {
		if alg := s.signingAlg(c); alg != "" && !slices.Contains(a.v.SigningAlgorithms(), alg) {
			return fmt.Errorf("pkjwtzitadel: client %q: %w: registered token_endpoint_auth_signing_alg %q is not on the verifier's list",
				c.GetID(), verify.ErrAlgorithm, alg)
		}
	}
	return nil
}
