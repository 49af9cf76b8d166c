package pkjwtzitadel

import (
	"context"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// server is an op.ExtendedLegacyServer whose client authentication with
// assertions is pkjwt's.
type server struct {
	op.ExtendedLegacyServer
	a *Authenticator
}

// VerifyClient implements op.Server. The web server calls it for the token
// (every grant but the JWT Profile grant), revocation and device
// authorization endpoints (pkg/op/server_http.go, withClient).
func (s *server) VerifyClient(ctx context.Context, r *op.Request[op.ClientCredentials]) (op.Client, error) {
	if !hasAssertion(r.Form) {
		return s.ExtendedLegacyServer.VerifyClient(ctx, r)
	}
	return s.a.authenticate(ctx, r.Form, r.Header, r.URL)
}

// Introspect implements op.Server: it is LegacyServer.Introspect
// (pkg/op/server_legacy.go) with the client authenticated by pkjwt, since
// LegacyServer authenticates the caller in an unexported method.
func (s *server) Introspect(ctx context.Context, r *op.Request[op.IntrospectionRequest]) (*op.Response, error) {
	if !hasAssertion(r.Form) {
		return s.ExtendedLegacyServer.Introspect(ctx, r)
	}
	ctx, span := op.Tracer.Start(ctx, "pkjwtzitadel.Introspect")
	defer span.End()

	client, err := s.a.authenticate(ctx, r.Form, r.Header, r.URL)
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
