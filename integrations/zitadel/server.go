package pkjwtzitadel

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/pkjwt/pkjwt/internal/tokenedge"
)

// server is an op.ExtendedLegacyServer whose client authentication with
// assertions is pkjwt's.
type server struct {
	op.ExtendedLegacyServer
	a *Authenticator
}

// rawQuery returns u's query.
func rawQuery(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.RawQuery
}

// VerifyClient implements op.Server. The web server calls it for the token
// (every grant but the JWT Profile grant), revocation and device
// authorization endpoints (pkg/op/server_http.go, withClient).
func (s *server) VerifyClient(ctx context.Context, r *op.Request[op.ClientCredentials]) (op.Client, error) {
	body := tokenedge.BodyForm(r.Form, rawQuery(r.URL))
	if e := tokenedge.CheckQuery(rawQuery(r.URL), body); e != nil {
		return nil, toOIDC(e)
	}
	if !tokenedge.HasAssertion(body) {
		return s.ExtendedLegacyServer.VerifyClient(ctx, r)
	}
	return s.a.authenticate(ctx, body, r.Header)
}

// Introspect implements op.Server: it is LegacyServer.Introspect
// (pkg/op/server_legacy.go) with the client authenticated by pkjwt, since
// LegacyServer authenticates the caller in an unexported method.
func (s *server) Introspect(ctx context.Context, r *op.Request[op.IntrospectionRequest]) (*op.Response, error) {
	body := tokenedge.BodyForm(r.Form, rawQuery(r.URL))
	if e := tokenedge.CheckQuery(rawQuery(r.URL), body); e != nil {
		return nil, toOIDC(e)
	}
	if !tokenedge.HasAssertion(body) {
		return s.ExtendedLegacyServer.Introspect(ctx, r)
	}
	ctx, span := op.Tracer.Start(ctx, "pkjwtzitadel.Introspect")
	defer span.End()

	client, err := s.a.authenticate(ctx, body, r.Header)
	if err != nil {
		return nil, err
	}
	provider := s.Provider()
	response := new(oidc.IntrospectionResponse)
	tokenID, subject, ok := tokenIDAndSubject(ctx, provider, r.Data.Token)
	if !ok {
		return op.NewResponse(response), nil
	}
	if err := provider.Storage().SetIntrospectionFromToken(ctx, response, tokenID, subject, client.GetID()); err != nil {
		return op.NewResponse(response), nil
	}
	response.Active = true
	return op.NewResponse(response), nil
}

// Discovery implements op.Server: LegacyServer's document with the client
// authentication members of Authenticator.Metadata.
func (s *server) Discovery(ctx context.Context, r *op.Request[struct{}]) (*op.Response, error) {
	//lint:ignore SA1019 op.RegisterServer still serves /.well-known/openid-configuration with it
	resp, err := s.ExtendedLegacyServer.Discovery(ctx, r)
	if err == nil {
		if d, ok := resp.Data.(*oidc.DiscoveryConfiguration); ok {
			s.a.Metadata(d)
		}
	}
	return resp, err
}

// tokenIDAndSubject is zitadel/oidc's unexported getTokenIDAndSubject
// (pkg/op/userinfo.go): an opaque token is the encrypted "tokenID:subject",
// a JWT access token carries them as jti and sub.
func tokenIDAndSubject(ctx context.Context, p op.OpenIDProvider, token string) (string, string, bool) {
	if plain, err := p.Crypto().Decrypt(token); err == nil {
		tokenID, subject, ok := strings.Cut(plain, ":")
		if !ok || strings.Contains(subject, ":") {
			return "", "", false
		}
		return tokenID, subject, true
	}
	claims, err := op.VerifyAccessToken[*oidc.AccessTokenClaims](ctx, token, p.AccessTokenVerifier(ctx))
	if err != nil {
		return "", "", false
	}
	return claims.JWTID, claims.Subject, true
}

// edge returns the middleware of the token, introspection and revocation
// endpoints among ends: no-store headers on every answer, the body read
// within the cap, and at the token endpoint no repeated parameter. Other
// paths pass through.
func (a *Authenticator) edge(ends op.Endpoints) func(http.Handler) http.Handler {
	paths := map[string]bool{}
	token := ""
	for _, e := range []*op.Endpoint{ends.Token, ends.Introspection, ends.Revocation} {
		if e != nil {
			paths[e.Relative()] = true
		}
	}
	if ends.Token != nil {
		token = ends.Token.Relative()
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !paths[r.URL.Path] {
				next.ServeHTTP(w, r)
				return
			}
			tokenedge.SetNoStore(w.Header())
			if r.Method != http.MethodPost || r.PostForm != nil || !tokenedge.FormContentType(r.Header) {
				next.ServeHTTP(w, r)
				return
			}
			body, form, e := tokenedge.ReadForm(w, r, a.maxBody)
			if e != nil {
				op.WriteError(w, r, toOIDC(e), nil)
				return
			}
			if _, repeated := tokenedge.Repeated(form); repeated && r.URL.Path == token {
				op.WriteError(w, r, oidc.ErrInvalidRequest().WithDescription("%s", tokenedge.RepeatedDescription), nil)
				return
			}
			tokenedge.Restore(r, body, form)
			next.ServeHTTP(w, r)
		})
	}
}

// MetadataServer returns an op.MetadataServer that serves s's discovery
// document, with the client authentication members of Metadata, at both
// /.well-known/openid-configuration (OpenID Connect Discovery 1.0) and
// /.well-known/oauth-authorization-server (RFC 8414); serve it with
// op.RegisterMetadataServer at the root of the issuer's host. It serves one
// issuer, s's.
func (a *Authenticator) MetadataServer(s op.ExtendedLegacyServer) op.MetadataServer {
	return &metadataServer{s: &server{ExtendedLegacyServer: s, a: a}}
}

type metadataServer struct {
	op.UnimplementedMetadataServer
	s *server
}

func (m *metadataServer) document(ctx context.Context, r *op.Request[op.MetadataRequest]) (*op.Response, error) {
	if op.IssuerFromContext(ctx) == "" {
		// The metadata handler has no issuer interceptor of its own.
		hr := &http.Request{Method: r.Method, URL: r.URL, Header: r.Header, Host: r.URL.Host}
		ctx = op.ContextWithIssuer(ctx, m.s.Provider().IssuerFromRequest(hr))
	}
	return m.s.Discovery(ctx, &op.Request[struct{}]{Method: r.Method, URL: r.URL, Header: r.Header, Form: r.Form})
}

// OpenIDConfiguration implements op.MetadataServer.
func (m *metadataServer) OpenIDConfiguration(ctx context.Context, r *op.Request[op.MetadataRequest]) (*op.Response, error) {
	return m.document(ctx, r)
}

// AuthorizationServerMetadata implements op.MetadataServer.
func (m *metadataServer) AuthorizationServerMetadata(ctx context.Context, r *op.Request[op.MetadataRequest]) (*op.Response, error) {
	return m.document(ctx, r)
}
