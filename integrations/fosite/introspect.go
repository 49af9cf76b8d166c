package pkjwtfosite

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/ory/fosite"

	"github.com/pkjwt/pkjwt/verify"
)

// Provider returns p with private_key_jwt at the introspection endpoint
// (RFC 7662 §2.1): its NewIntrospectionRequest verifies the client assertion of
// a request whose body has client_assertion or client_assertion_type, and
// passes every other request to p unchanged (a bearer token or HTTP Basic, as
// fosite accepts). Its WriteIntrospectionError answers a failed client
// authentication with the RFC 6749 §5.2 error (401 invalid_client, 400
// invalid_request, 500 server_error), as RFC 7662 §2.3 requires, rather than
// with {"active": false}. Every other method is p's.
//
// The introspection endpoint must call the returned provider's
// NewIntrospectionRequest and WriteIntrospectionError.
func (a *Authenticator) Provider(p fosite.OAuth2Provider) fosite.OAuth2Provider {
	return &provider{OAuth2Provider: p, a: a}
}

type provider struct {
	fosite.OAuth2Provider
	a *Authenticator
}

// NewIntrospectionRequest is fosite's (introspection_request_handler.go), with
// the client authenticated by pkjwt when the request carries an assertion.
func (p *provider) NewIntrospectionRequest(ctx context.Context, r *http.Request, session fosite.Session) (fosite.IntrospectionResponder, error) {
	inactive := &fosite.IntrospectionResponse{Active: false}
	if r.Method != http.MethodPost {
		return p.OAuth2Provider.NewIntrospectionRequest(ctx, r, session)
	}
	if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		return p.OAuth2Provider.NewIntrospectionRequest(ctx, r, session) // fosite reports it
	}
	if err := checkQuery(r); err != nil {
		return inactive, p.a.fail(ctx, err, r.PostForm)
	}
	if !hasAssertion(r.PostForm) {
		return p.OAuth2Provider.NewIntrospectionRequest(ctx, r, session)
	}
	ctx = context.WithValue(ctx, fosite.RequestContextKey, r)
	other := ""
	if _, ok := r.Form["access_token"]; ok {
		other = "access_token" // fosite would take it as the caller's bearer token
	}
	if _, err := p.a.authenticate(ctx, r, r.PostForm, other); err != nil {
		return inactive, err
	}

	token := r.PostForm.Get("token")
	hint := r.PostForm.Get("token_type_hint")
	scope := r.PostForm.Get("scope")
	tu, ar, err := p.IntrospectToken(ctx, token, fosite.TokenUse(hint), session, fosite.RemoveEmpty(strings.Split(scope, " "))...)
	if err != nil {
		return inactive, fosite.ErrInactiveToken.WithHint("An introspection strategy indicated that the token is inactive.").WithWrap(err).WithDebug(err.Error())
	}
	tokenType := ""
	if tu == fosite.AccessToken {
		tokenType = fosite.BearerAccessToken
	}
	return &fosite.IntrospectionResponse{Active: true, AccessRequester: ar, TokenUse: tu, AccessTokenType: tokenType}, nil
}

// WriteIntrospectionError writes the RFC 6749 §5.2 error response for a
// failed client authentication of NewIntrospectionRequest, and leaves every
// other error to fosite.
func (p *provider) WriteIntrospectionError(ctx context.Context, rw http.ResponseWriter, err error) {
	var e *verify.Error
	if errors.As(err, &e) {
		p.WriteAccessError(ctx, rw, nil, err)
		return
	}
	p.OAuth2Provider.WriteIntrospectionError(ctx, rw, err)
}
