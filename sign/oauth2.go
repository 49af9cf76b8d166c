package sign

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/pkjwt/pkjwt/verify"
)

// AssertionSource makes client assertions: a [*Signer], or a [*KeyRing]
// that signs with its current key. Implementations must be safe for
// concurrent use and return a fresh assertion (new jti) on every call.
type AssertionSource interface {
	// ClientID returns the client_id the assertions name.
	ClientID() string
	// Assertion returns a new client assertion.
	Assertion(ctx context.Context) (string, error)
}

var (
	_ AssertionSource = (*Signer)(nil)
	_ AssertionSource = (*KeyRing)(nil)
)

// TokenConfig is the policy of a [ClientCredentials]. The zero value (or a
// nil *TokenConfig) is the default; each field documents its zero value.
type TokenConfig struct {
	// Scopes are sent space-separated as the scope parameter. Nil: none.
	Scopes []string

	// Resources are sent each as a resource parameter (RFC 8707): the
	// resource servers the token is meant for. Nil: none.
	Resources []string

	// Audience is sent as the audience parameter, which some servers
	// (Auth0, Okta custom servers, Keycloak token exchange) use instead of
	// resource. Empty: none.
	Audience string

	// EndpointParams are further form parameters. They must not name a
	// parameter the ClientCredentials sets itself (grant_type, client_id,
	// client_secret, client_assertion, client_assertion_type, and scope,
	// resource or audience when configured above). Nil: none.
	EndpointParams url.Values

	// EarlyExpiry is how long before its expiry a cached token is
	// replaced. Zero: golang.org/x/oauth2's default (10 s). Negative: an
	// error.
	EarlyExpiry time.Duration
}

// ClientCredentials gets access tokens with the client_credentials grant
// (RFC 6749 §4.4), authenticating with a fresh client assertion in the
// form for every token request (RFC 7523 §2.2). It is the private_key_jwt
// counterpart of golang.org/x/oauth2/clientcredentials.Config, and safe
// for concurrent use.
//
// The client never sends an Authorization header: x/oauth2's
// auto-detected auth style tries Basic first, which a strict server
// (pkjwt's included) refuses as a second authentication method, costing a
// failed round trip per token URL.
type ClientCredentials struct {
	src         AssertionSource
	tokenURL    string
	scopes      []string
	params      url.Values // without the assertion
	earlyExpiry time.Duration
}

// NewClientCredentials returns a ClientCredentials that posts to the token
// endpoint tokenURL with assertions from src. A nil cfg means the default
// policy; cfg is copied. It returns an error wrapping [ErrInvalidConfig]
// for a nil src, a tokenURL that is not an absolute http(s) URL, or an
// invalid cfg.
func NewClientCredentials(src AssertionSource, tokenURL string, cfg *TokenConfig) (*ClientCredentials, error) {
	var c TokenConfig
	if cfg != nil {
		c = *cfg
	}
	if src == nil {
		return nil, fmt.Errorf("%w: nil assertion source", ErrInvalidConfig)
	}
	if err := checkEndpoint("token URL", tokenURL); err != nil {
		return nil, err
	}
	if c.EarlyExpiry < 0 {
		return nil, fmt.Errorf("%w: negative EarlyExpiry", ErrInvalidConfig)
	}
	reserved := []string{"grant_type", "client_id", "client_secret", "client_assertion", "client_assertion_type"}
	params := url.Values{}
	if len(c.Scopes) > 0 {
		reserved = append(reserved, "scope")
	}
	for _, r := range c.Resources {
		if u, err := url.Parse(r); err != nil || !u.IsAbs() || u.Fragment != "" {
			return nil, fmt.Errorf("%w: resource %q is not an absolute URI without a fragment (RFC 8707 §2)", ErrInvalidConfig, r)
		}
		params.Add("resource", r)
		reserved = append(reserved, "resource")
	}
	if c.Audience != "" {
		params.Set("audience", c.Audience)
		reserved = append(reserved, "audience")
	}
	for k, v := range c.EndpointParams {
		if slices.Contains(reserved, k) {
			return nil, fmt.Errorf("%w: EndpointParams must not set %s", ErrInvalidConfig, k)
		}
		params[k] = slices.Clone(v)
	}
	return &ClientCredentials{
		src:         src,
		tokenURL:    tokenURL,
		scopes:      slices.Clone(c.Scopes),
		params:      params,
		earlyExpiry: c.EarlyExpiry,
	}, nil
}

// checkEndpoint checks that u is an absolute http or https URL without a
// fragment.
func checkEndpoint(what, u string) error {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || p.Fragment != "" {
		return fmt.Errorf("%w: %s %q is not an absolute http(s) URL without a fragment", ErrInvalidConfig, what, u)
	}
	return nil
}

// Token requests a new access token, with a new assertion, every time it
// is called: no cache. The HTTP client is the one ctx carries under
// oauth2.HTTPClient, or http.DefaultClient.
//
// An error response of the token endpoint is an *oauth2.RetrieveError
// (its ErrorCode is the RFC 6749 §5.2 error, such as "invalid_client"); an
// assertion that could not be made is the AssertionSource's error.
func (c *ClientCredentials) Token(ctx context.Context) (*oauth2.Token, error) {
	return retrieve(ctx, c.src, c.tokenURL, c.scopes, c.params)
}

// retrieve posts params, the assertion and client_id to tokenURL through
// x/oauth2 (which parses the response and builds its errors), with the
// credentials in the form only.
func retrieve(ctx context.Context, src AssertionSource, tokenURL string, scopes []string, params url.Values) (*oauth2.Token, error) {
	assertion, err := src.Assertion(ctx)
	if err != nil {
		return nil, err
	}
	v := make(url.Values, len(params)+2)
	for k, p := range params {
		v[k] = p
	}
	v.Set("client_assertion_type", verify.AssertionType)
	v.Set("client_assertion", assertion)
	cc := clientcredentials.Config{
		ClientID:       src.ClientID(),
		TokenURL:       tokenURL,
		Scopes:         scopes,
		EndpointParams: v,
		AuthStyle:      oauth2.AuthStyleInParams,
	}
	return cc.Token(ctx)
}

// TokenSource returns an oauth2.TokenSource that caches the token until
// shortly before it expires ([TokenConfig.EarlyExpiry]) and then gets a
// new one with [ClientCredentials.Token]; concurrent callers share one
// request (oauth2.ReuseTokenSource). ctx is used for every request, as in
// golang.org/x/oauth2: its HTTP client (oauth2.HTTPClient), and its
// cancellation ends the source.
func (c *ClientCredentials) TokenSource(ctx context.Context) oauth2.TokenSource {
	src := tokenSourceFunc(func() (*oauth2.Token, error) { return c.Token(ctx) })
	if c.earlyExpiry > 0 {
		return oauth2.ReuseTokenSourceWithExpiry(nil, src, c.earlyExpiry)
	}
	return oauth2.ReuseTokenSource(nil, src)
}

// Client returns an HTTP client that adds an access token from
// [ClientCredentials.TokenSource] to every request, as
// oauth2.NewClient does.
func (c *ClientCredentials) Client(ctx context.Context) *http.Client {
	return oauth2.NewClient(ctx, c.TokenSource(ctx))
}

// tokenSourceFunc adapts a function to oauth2.TokenSource.
type tokenSourceFunc func() (*oauth2.Token, error)

// Token implements oauth2.TokenSource.
func (f tokenSourceFunc) Token() (*oauth2.Token, error) { return f() }

// AuthCodeOptions returns the options that authenticate one call of
// oauth2.Config.Exchange (the authorization-code grant) with a fresh
// assertion from src: client_assertion_type and client_assertion. Make
// them for every exchange, since an assertion is single use. The
// oauth2.Config must have ClientID = src.ClientID(), no ClientSecret, and
// Endpoint.AuthStyle = oauth2.AuthStyleInParams, so that x/oauth2 sends no
// Authorization header:
//
//	opts, err := sign.AuthCodeOptions(ctx, signer)
//	if err != nil { ... }
//	tok, err := conf.Exchange(ctx, code, append(opts, oauth2.VerifierOption(verifier))...)
//
// For the refresh_token grant, which has no options in x/oauth2, use
// [RefreshTokenSource].
func AuthCodeOptions(ctx context.Context, src AssertionSource) ([]oauth2.AuthCodeOption, error) {
	assertion, err := src.Assertion(ctx)
	if err != nil {
		return nil, err
	}
	return []oauth2.AuthCodeOption{
		oauth2.SetAuthURLParam("client_assertion_type", verify.AssertionType),
		oauth2.SetAuthURLParam("client_assertion", assertion),
	}, nil
}

// RefreshTokenSource returns an oauth2.TokenSource that starts with t and,
// once t has expired, refreshes it at tokenURL with the refresh_token grant
// (RFC 6749 §6), authenticating each refresh with a fresh assertion from
// src. It keeps the refresh token when the server issues no new one. It
// plays the part of oauth2.Config.TokenSource, which cannot send an
// assertion. ctx is used for every request, as there.
//
// Token returns an error wrapping [ErrInvalidConfig] when a refresh is due
// and there is no refresh token, and an *oauth2.RetrieveError when the
// server refuses.
func RefreshTokenSource(ctx context.Context, src AssertionSource, tokenURL string, t *oauth2.Token) oauth2.TokenSource {
	r := &refresher{ctx: ctx, src: src, tokenURL: tokenURL}
	if t != nil {
		r.refreshToken = t.RefreshToken
	}
	return oauth2.ReuseTokenSource(t, r)
}

// refresher gets tokens with the refresh_token grant. Its Token is called
// under the ReuseTokenSource's lock, never concurrently.
type refresher struct {
	ctx          context.Context
	src          AssertionSource
	tokenURL     string
	refreshToken string
}

// Token implements oauth2.TokenSource.
func (r *refresher) Token() (*oauth2.Token, error) {
	if r.refreshToken == "" {
		return nil, fmt.Errorf("%w: the token has expired and there is no refresh token", ErrInvalidConfig)
	}
	// x/oauth2's client_credentials request with grant_type replaced (which
	// it allows for this purpose) is a refresh request that can carry the
	// assertion.
	t, err := retrieve(r.ctx, r.src, r.tokenURL, nil, url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {r.refreshToken},
	})
	if err != nil {
		return nil, err
	}
	if t.RefreshToken == "" {
		t.RefreshToken = r.refreshToken
	}
	r.refreshToken = t.RefreshToken
	return t, nil
}
