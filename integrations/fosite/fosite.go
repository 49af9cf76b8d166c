package pkjwtfosite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/ory/fosite"

	"github.com/pkjwt/pkjwt/jwksfetch"
	"github.com/pkjwt/pkjwt/middleware"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

// Config is the policy of an Authenticator. The zero value is the default
// policy; each field documents its zero value. New copies it.
type Config struct {
	// Verify is the verifier's policy: audience, algs, leeway, lifetime.
	// Nil: the default policy of verify.New (aud must be the issuer
	// identifier). A server whose clients send the token endpoint URL as aud,
	// as fosite required, sets Audience to verify.AudienceLegacy and
	// Endpoints to that URL while they migrate. AllowClientSecretJWT must
	// be false: fosite stores client secrets hashed.
	Verify *verify.Config
	// Registry is the policy of the jwksfetch.Registry that fetches the
	// clients' jwks_uri documents. Zero: jwksfetch's defaults (https only,
	// no private or loopback addresses, 5 min refresh).
	Registry jwksfetch.RegistryConfig
	// Inline is the policy applied to clients' registered jwks. Zero: a
	// JWK Set with any JWK that cannot verify signatures is refused; set
	// SkipUnusable when registrations also carry encryption keys.
	Inline jwksfetch.InlineConfig
	// IsNotFound reports whether an error of the ClientManager's GetClient
	// means that there is no such client (invalid_client), rather than
	// that the storage failed (server_error). Nil: errors.Is(err,
	// fosite.ErrNotFound), which is what storage.MemoryStore returns.
	IsNotFound func(error) bool
	// Logger receives every failed client authentication: at level Error
	// when the server could not decide, Info otherwise, with the failed
	// check's reason, the error text and the client_id parameter. The
	// assertion is never logged. Nil: nothing is logged.
	Logger *slog.Logger
}

// Authenticator verifies client assertions for a fosite server. Its
// Strategy, Provider and Install connect it to fosite. It is safe for
// concurrent use; Close it when done.
type Authenticator struct {
	v        *verify.Verifier
	registry *jwksfetch.Registry
	logger   *slog.Logger
}

// New returns an Authenticator for the authorization server whose issuer
// identifier is issuer, looking clients up in clients (the server's fosite
// storage) and claiming each assertion's jti in store. Share store with every
// other verifier of the same server, and use one store for all its nodes
// (replay/redisstore). A nil cfg means the default policy.
//
// New returns an error if an argument is missing or cfg is invalid.
func New(issuer string, clients fosite.ClientManager, store replay.Store, cfg *Config) (*Authenticator, error) {
	if clients == nil {
		return nil, errors.New("pkjwtfosite: nil ClientManager")
	}
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.Verify != nil && c.Verify.AllowClientSecretJWT {
		return nil, errors.New("pkjwtfosite: client_secret_jwt cannot be verified: fosite stores client secrets hashed")
	}
	if c.IsNotFound == nil {
		c.IsNotFound = func(err error) bool { return errors.Is(err, fosite.ErrNotFound) }
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	registry, err := jwksfetch.NewRegistry(c.Registry)
	if err != nil {
		return nil, fmt.Errorf("pkjwtfosite: %w", err)
	}
	cl := &clientStore{manager: clients, registry: registry, inline: jwksfetch.NewInlineCache(c.Inline), isNotFound: c.IsNotFound}
	var vc verify.Config // verify.New takes its Config by value
	if c.Verify != nil {
		vc = *c.Verify
	}
	v, err := verify.New(issuer, cl, store, vc)
	if err != nil {
		registry.Close()
		return nil, fmt.Errorf("pkjwtfosite: %w", err)
	}
	return &Authenticator{v: v, registry: registry, logger: c.Logger}, nil
}

// Verifier returns the verifier, for metadata (middleware.NewMetadata) or
// for endpoints outside fosite that must share its replay protection.
func (a *Authenticator) Verifier() *verify.Verifier { return a.v }

// Close stops the background refresh of the clients' jwks_uri documents.
// Assertions of clients with a jwks_uri then fail with server_error. Close is
// safe to call more than once; it returns nil.
func (a *Authenticator) Close() error { return a.registry.Close() }

// Install makes provider, composed from config (compose.Compose or
// compose.ComposeAllEnabled), authenticate client assertions with a: it sets
// config.ClientAuthenticationStrategy to a's Strategy and returns provider
// wrapped by a's Provider, which the introspection endpoint must use.
//
// Requests without an assertion go to the strategy config had, if any, or
// else to provider's DefaultClientAuthenticationStrategy. Install returns an
// error if config or provider is nil, or if config has no strategy and
// provider is not a *fosite.Fosite. Call it before serving requests.
func (a *Authenticator) Install(config *fosite.Config, provider fosite.OAuth2Provider) (fosite.OAuth2Provider, error) {
	if config == nil || provider == nil {
		return nil, errors.New("pkjwtfosite: Install needs the config and the provider")
	}
	fallback := config.ClientAuthenticationStrategy
	if fallback == nil {
		f, ok := provider.(*fosite.Fosite)
		if !ok {
			return nil, fmt.Errorf("pkjwtfosite: provider is a %T, not a *fosite.Fosite: use Strategy and Provider", provider)
		}
		fallback = f.DefaultClientAuthenticationStrategy
	}
	config.ClientAuthenticationStrategy = a.Strategy(fallback)
	return a.Provider(provider), nil
}

// Strategy returns a fosite.ClientAuthenticationStrategy that verifies the
// client assertion of every request whose form has client_assertion or
// client_assertion_type, and hands every other request to fallback
// (typically (*fosite.Fosite).DefaultClientAuthenticationStrategy) unchanged.
// With a nil fallback such requests fail with invalid_client: only
// private_key_jwt is accepted.
//
// On success it returns the fosite.Client that the ClientManager returned for
// the assertion's iss. Client assertions in the URL query fail with
// invalid_request (RFC 6749 §2.3.1).
func (a *Authenticator) Strategy(fallback fosite.ClientAuthenticationStrategy) fosite.ClientAuthenticationStrategy {
	return func(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
		if err := checkQuery(r); err != nil {
			return nil, a.fail(ctx, err, form)
		}
		if !hasAssertion(form) {
			if fallback == nil {
				return nil, a.fail(ctx, &verify.Error{Reason: "no_credentials", Code: verify.CodeInvalidClient,
					Description: "private_key_jwt client authentication required", Err: verify.ErrNoCredentials}, form)
			}
			return fallback(ctx, r, form)
		}
		return a.authenticate(ctx, r, form, "")
	}
}

// authenticate verifies the client assertion in form. other names a client
// authentication method the caller found in the request besides the
// Authorization header and client_secret, or is empty.
func (a *Authenticator) authenticate(ctx context.Context, r *http.Request, form url.Values, other string) (fosite.Client, error) {
	req, err := middleware.RequestFrom(form, r.Header)
	if err != nil {
		return nil, a.fail(ctx, err, form)
	}
	if req.OtherAuthentication == "" {
		req.OtherAuthentication = other
	}
	var found lookup
	res, err := a.v.Verify(context.WithValue(ctx, lookupKey{}, &found), req)
	if err != nil {
		return nil, a.fail(ctx, err, form)
	}
	if found.client == nil || found.client.GetID() != res.ClientID {
		// Verify looked the client up through clientStore; this cannot
		// happen unless a wrapper dropped the context value.
		return nil, a.fail(ctx, &verify.Error{Reason: "internal", Code: verify.CodeServerError,
			Description: "client registry unavailable", Err: errors.New("pkjwtfosite: verified client not recorded")}, form)
	}
	return found.client, nil
}

// fail logs err, a *verify.Error, and returns the fosite error for it.
func (a *Authenticator) fail(ctx context.Context, err error, form url.Values) error {
	var e *verify.Error
	if !errors.As(err, &e) {
		e = &verify.Error{Reason: "internal", Code: verify.CodeServerError, Description: "internal error", Err: err}
	}
	level := slog.LevelInfo
	if e.Infrastructure() {
		level = slog.LevelError
	}
	if a.logger.Enabled(ctx, level) {
		attrs := []slog.Attr{slog.String("reason", e.Reason), slog.String("code", e.Code), slog.String("error", e.Error())}
		if id := form.Get("client_id"); id != "" {
			attrs = append(attrs, slog.String("client_id", truncate(id)))
		}
		a.logger.LogAttrs(ctx, level, "pkjwtfosite: client authentication failed", attrs...)
	}
	return toFosite(e)
}

// toFosite maps e to the fosite error with the same RFC 6749 §5.2 code. The
// hint is e's fixed description (generic for server errors); e is wrapped for
// errors.As and never exposed as debug text.
func toFosite(e *verify.Error) *fosite.RFC6749Error {
	switch {
	case e.Infrastructure():
		return fosite.ErrServerError.WithHint("Client authentication could not be completed.").WithWrap(e)
	case e.Code == verify.CodeInvalidRequest:
		return fosite.ErrInvalidRequest.WithHint(e.Description).WithWrap(e)
	default:
		return fosite.ErrInvalidClient.WithHint(e.Description).WithWrap(e)
	}
}

// hasAssertion reports whether form carries either client assertion
// parameter, even empty: such a request is pkjwt's to decide.
func hasAssertion(form url.Values) bool {
	_, a := form["client_assertion"]
	_, t := form["client_assertion_type"]
	return a || t
}

// checkQuery refuses client assertion parameters in the URL query, which RFC
// 6749 §2.3.1 keeps out of URLs (and which fosite's pushed authorization
// endpoint would read, through r.Form).
func checkQuery(r *http.Request) error {
	if r.URL == nil || r.URL.RawQuery == "" {
		return nil
	}
	q, _ := url.ParseQuery(r.URL.RawQuery) // a parse error is fosite's to report
	if _, ok := q["client_assertion"]; !ok {
		if _, ok := q["client_assertion_type"]; !ok {
			return nil
		}
	}
	return &verify.Error{Reason: "query_parameter", Code: verify.CodeInvalidRequest,
		Description: "client authentication parameters must be sent in the request body", Err: middleware.ErrQueryParameter}
}

// maxLogged bounds the client-supplied values that are logged.
const maxLogged = 256

// truncate returns s cut to maxLogged bytes, at a UTF-8 boundary.
func truncate(s string) string {
	if len(s) <= maxLogged {
		return s
	}
	return strings.ToValidUTF8(s[:maxLogged], "") + "..."
}
