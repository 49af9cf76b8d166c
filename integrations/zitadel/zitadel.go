package pkjwtzitadel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

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
	// identifier, as zitadel/oidc also requires). AllowClientSecretJWT must
	// be false: zitadel/oidc's storage checks secrets itself and does not
	// hand them out.
	Verify *verify.Config
	// Keys returns the key source of a client registered for
	// private_key_jwt, for example a jwksfetch.Registry source for the
	// client's jwks_uri. An error wrapping verify.ErrKeyNotFound means the
	// client has no usable keys (invalid_client); any other error is a
	// server error. Nil: the storage's GetKeyByIDAndClientID, asked with
	// the assertion's kid.
	Keys func(ctx context.Context, client op.Client) (verify.KeySource, error)
	// Logger receives every failed client authentication: at level Error
	// when the server could not decide, Info otherwise, with the failed
	// check's reason, the error text and the client_id parameter. The
	// assertion is never logged. Nil: nothing is logged.
	Logger *slog.Logger
}

// Authenticator verifies client assertions for a zitadel/oidc OpenID
// Provider. Its Server method connects it. It is safe for concurrent use and
// starts no goroutine.
type Authenticator struct {
	v      *verify.Verifier
	logger *slog.Logger
}

// New returns an Authenticator for the OpenID Provider whose issuer
// identifier is issuer, looking clients (and, unless cfg.Keys is set, their
// keys) up in storage and claiming each assertion's jti in store. Share store
// with every other verifier of the same server, and use one store for all its
// nodes (replay/redisstore). A nil cfg means the default policy.
//
// New returns an error if an argument is missing or cfg is invalid.
func New(issuer string, storage op.Storage, store replay.Store, cfg *Config) (*Authenticator, error) {
	if storage == nil {
		return nil, errors.New("pkjwtzitadel: nil Storage")
	}
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.Verify != nil && c.Verify.AllowClientSecretJWT {
		return nil, errors.New("pkjwtzitadel: client_secret_jwt cannot be verified: the storage does not hand out client secrets")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	var vc verify.Config // verify.New takes its Config by value
	if c.Verify != nil {
		vc = *c.Verify
	}
	v, err := verify.New(issuer, &clientStore{storage: storage, keys: c.Keys, inline: jwksfetch.NewInlineCache(jwksfetch.InlineConfig{})}, store, vc)
	if err != nil {
		return nil, fmt.Errorf("pkjwtzitadel: %w", err)
	}
	return &Authenticator{v: v, logger: c.Logger}, nil
}

// Verifier returns the verifier, for metadata (middleware.NewMetadata) or
// for endpoints outside zitadel/oidc that must share its replay protection.
func (a *Authenticator) Verifier() *verify.Verifier { return a.v }

// Server returns s with pkjwt's private_key_jwt: its VerifyClient (every
// endpoint that authenticates clients but introspection) and Introspect verify
// the client assertion of a request whose form has client_assertion or
// client_assertion_type, and pass every other request to s unchanged. Every
// other method is s's. Serve the result with op.RegisterLegacyServer.
func (a *Authenticator) Server(s op.ExtendedLegacyServer) op.ExtendedLegacyServer {
	return &server{ExtendedLegacyServer: s, a: a}
}

// authenticate verifies the client assertion of a request with the given
// form (body and query), header and URL, and returns the client the storage
// returned for it.
func (a *Authenticator) authenticate(ctx context.Context, form url.Values, header http.Header, u *url.URL) (op.Client, error) {
	if err := checkQuery(u); err != nil {
		return nil, a.fail(ctx, err, form)
	}
	if iss := op.IssuerFromContext(ctx); iss != "" && iss != a.v.Issuer() {
		return nil, a.fail(ctx, &verify.Error{Reason: "issuer_mismatch", Code: verify.CodeServerError,
			Description: "client authentication could not be completed",
			Err:         fmt.Errorf("pkjwtzitadel: the request's issuer %q is not the Authenticator's %q", iss, a.v.Issuer())}, form)
	}
	req, err := middleware.RequestFrom(form, header)
	if err != nil {
		return nil, a.fail(ctx, err, form)
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
			Description: "client registry unavailable", Err: errors.New("pkjwtzitadel: verified client not recorded")}, form)
	}
	return found.client, nil
}

// fail logs err, a *verify.Error, and returns the zitadel/oidc error for it.
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
		a.logger.LogAttrs(ctx, level, "pkjwtzitadel: client authentication failed", attrs...)
	}
	return toOIDC(e)
}

// toOIDC maps e to the zitadel/oidc error with the same RFC 6749 §5.2 code:
// invalid_client with status 401, invalid_request (400), server_error (500)
// with a generic description. e is the parent, which zitadel/oidc logs but
// does not send.
func toOIDC(e *verify.Error) error {
	switch {
	case e.Infrastructure():
		return oidc.ErrServerError().WithDescription("client authentication could not be completed").WithParent(e)
	case e.Code == verify.CodeInvalidRequest:
		return oidc.ErrInvalidRequest().WithDescription("%s", e.Description).WithParent(e)
	default:
		return op.NewStatusError(oidc.ErrInvalidClient().WithDescription("%s", e.Description).WithParent(e), http.StatusUnauthorized)
	}
}

// hasAssertion reports whether form carries either client assertion
// parameter, even empty: such a request is pkjwt's to decide.
func hasAssertion(form url.Values) bool {
	_, a := form["client_assertion"]
	_, t := form["client_assertion_type"]
	return a || t
}

// checkQuery refuses client authentication parameters in the URL query, which
// RFC 6749 §2.3.1 keeps out of URLs and zitadel/oidc reads (through r.Form).
func checkQuery(u *url.URL) error {
	if u == nil || u.RawQuery == "" {
		return nil
	}
	q, _ := url.ParseQuery(u.RawQuery) // zitadel/oidc has parsed it already
	for _, name := range [...]string{"client_assertion", "client_assertion_type", "client_secret"} {
		if _, ok := q[name]; ok {
			return &verify.Error{Reason: "query_parameter", Code: verify.CodeInvalidRequest,
				Description: "client authentication parameters must be sent in the request body", Err: middleware.ErrQueryParameter}
		}
	}
	return nil
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
