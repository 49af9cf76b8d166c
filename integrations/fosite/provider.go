package pkjwtfosite

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/ory/fosite"

	"github.com/pkjwt/pkjwt/internal/tokenedge"
	"github.com/pkjwt/pkjwt/verify"
)

// Provider returns p with pkjwt's edge on every endpoint that
// authenticates clients:
//
//   - the token, introspection, revocation and pushed authorization
//     endpoints read at most Config.MaxBodyBytes of body;
//   - the token endpoint refuses a request with a repeated parameter (RFC
//     6749 §3.2; fosite would take the first grant_type) with
//     invalid_request, and one whose grant_type no token endpoint handler
//     of p handles with unsupported_grant_type (fosite answers
//     invalid_request);
//   - NewIntrospectionRequest verifies the client assertion of a request
//     whose body has client_assertion or client_assertion_type (fosite's
//     own accepts only a bearer token and HTTP Basic) and passes every
//     other request to p;
//   - WriteRevocationResponse answers a failed client authentication with
//     its RFC 6749 §5.2 error and status, where fosite's turns a
//     server_error into 200 OK;
//   - WriteIntrospectionError answers a failed client authentication with
//     the RFC 6749 §5.2 error (401 invalid_client, 400 invalid_request, 500
//     server_error), as RFC 7662 §2.3 requires, rather than with
//     {"active": false}, and fosite's own request_unauthorized with
//     invalid_client.
//
// Every other method is p's. Install returns it; a server that uses
// Strategy with its own fosite.Configurator wraps its provider with it.
func (a *Authenticator) Provider(p fosite.OAuth2Provider) fosite.OAuth2Provider {
	return &provider{OAuth2Provider: p, a: a}
}

type provider struct {
	fosite.OAuth2Provider
	a *Authenticator
}

// parse parses r's form as fosite does, with the body capped: fosite's own
// ParseMultipartForm then finds it parsed. A failure is the *verify.Error
// to answer with.
func (p *provider) parse(r *http.Request) *verify.Error {
	if r.Method != http.MethodPost || r.Form != nil {
		return nil // fosite refuses the method; a parsed form is final
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(nil, r.Body, p.a.maxBody)
	}
	// ParseMultipartForm hides an error of ParseForm behind
	// http.ErrNotMultipart (and fosite then sees an empty body): parse the
	// form first.
	err := r.ParseForm()
	if err == nil {
		err = r.ParseMultipartForm(1 << 20) // fosite's memory bound for multipart bodies
	}
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil, errors.Is(err, http.ErrNotMultipart):
		return nil
	case errors.As(err, &tooLarge):
		return verify.NewError(verify.ErrBodyTooLarge, err)
	}
	return verify.NewError(verify.ErrMalformedBody, err)
}

// NewAccessRequest is fosite's, after the token endpoint's request-shape
// checks of pkjwt's edge.
func (p *provider) NewAccessRequest(ctx context.Context, r *http.Request, session fosite.Session) (fosite.AccessRequester, error) {
	if e := p.parse(r); e != nil {
		return nil, p.a.fail(ctx, e, r.PostForm)
	}
	if r.Method == http.MethodPost {
		if _, ok := tokenedge.Repeated(r.PostForm); ok {
			return nil, fosite.ErrInvalidRequest.WithHint(tokenedge.RepeatedDescription)
		}
		if grant := r.PostForm.Get("grant_type"); grant != "" && !p.handles(ctx, grant) {
			return nil, fosite.ErrUnsupportedGrantType.WithHint("The grant_type is not supported.")
		}
	}
	return p.OAuth2Provider.NewAccessRequest(ctx, r, session)
}

// handles reports whether a token endpoint handler of the provider handles
// grant, as fosite's NewAccessRequest looks for one. A provider that is not
// a *fosite.Fosite is left to decide.
func (p *provider) handles(ctx context.Context, grant string) bool {
	f, ok := p.OAuth2Provider.(*fosite.Fosite)
	if !ok {
		return true
	}
	ar := fosite.NewAccessRequest(nil)
	ar.GrantTypes = fosite.RemoveEmpty(strings.Split(grant, " "))
	for _, h := range f.Config.GetTokenEndpointHandlers(ctx) {
		if h.CanHandleTokenEndpointRequest(ctx, ar) {
			return true
		}
	}
	return false
}

// NewRevocationRequest is fosite's, with the body capped.
func (p *provider) NewRevocationRequest(ctx context.Context, r *http.Request) error {
	if e := p.parse(r); e != nil {
		return p.a.fail(ctx, e, r.PostForm)
	}
	return p.OAuth2Provider.NewRevocationRequest(ctx, r)
}

// WriteRevocationResponse answers a failed client authentication with its
// RFC 6749 §5.2 error, description and status (fosite's own writer sends
// a fixed invalid_request or invalid_client and turns any other error,
// server_error included, into 200 OK); every other answer is fosite's.
func (p *provider) WriteRevocationResponse(ctx context.Context, rw http.ResponseWriter, err error) {
	var e *verify.Error
	if errors.As(err, &e) {
		p.WriteAccessError(ctx, rw, nil, err)
		return
	}
	p.OAuth2Provider.WriteRevocationResponse(ctx, rw, err)
}

// NewPushedAuthorizeRequest is fosite's, with the body capped.
func (p *provider) NewPushedAuthorizeRequest(ctx context.Context, r *http.Request) (fosite.AuthorizeRequester, error) {
	if e := p.parse(r); e != nil {
		return nil, p.a.fail(ctx, e, r.PostForm)
	}
	return p.OAuth2Provider.NewPushedAuthorizeRequest(ctx, r)
}

// NewIntrospectionRequest is fosite's (introspection_request_handler.go), with
// the client authenticated by pkjwt when the request carries an assertion.
func (p *provider) NewIntrospectionRequest(ctx context.Context, r *http.Request, session fosite.Session) (fosite.IntrospectionResponder, error) {
	inactive := &fosite.IntrospectionResponse{Active: false}
	if e := p.parse(r); e != nil {
		return inactive, p.a.fail(ctx, e, r.PostForm)
	}
	if r.Method != http.MethodPost {
		return p.OAuth2Provider.NewIntrospectionRequest(ctx, r, session)
	}
	if e := tokenedge.CheckQuery(rawQuery(r), r.PostForm); e != nil {
		return inactive, p.a.fail(ctx, e, r.PostForm)
	}
	if !tokenedge.HasAssertion(r.PostForm) {
		return p.OAuth2Provider.NewIntrospectionRequest(ctx, r, session)
	}
	ctx = context.WithValue(ctx, fosite.RequestContextKey, r)
	other := ""
	if _, ok := r.Form["access_token"]; ok {
		other = "access_token" // fosite would take it as the caller's bearer token
	}
	if _, err := p.a.authenticate(ctx, r.Header, r.PostForm, other); err != nil {
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
// failed client authentication of NewIntrospectionRequest, and for fosite's
// own request_unauthorized (no or bad caller credentials) invalid_client;
// it leaves every other error to fosite.
func (p *provider) WriteIntrospectionError(ctx context.Context, rw http.ResponseWriter, err error) {
	var e *verify.Error
	if errors.As(err, &e) {
		p.WriteAccessError(ctx, rw, nil, err)
		return
	}
	if f := fosite.ErrorToRFC6749Error(err); f.ErrorField == fosite.ErrRequestUnauthorized.ErrorField && !errors.Is(err, fosite.ErrInactiveToken) {
		p.WriteAccessError(ctx, rw, nil, fosite.ErrInvalidClient.WithHint(f.HintField).WithWrap(err))
		return
	}
	p.OAuth2Provider.WriteIntrospectionError(ctx, rw, err)
}
