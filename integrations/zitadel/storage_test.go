package pkjwtzitadel_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// memoryStorage is the smallest op.Storage (with op.ClientCredentialsStorage)
// that serves the client_credentials grant, introspection and revocation with
// opaque access tokens. The rest of op.Storage is not implemented.
type memoryStorage struct {
	mu      sync.Mutex
	clients map[string]*client
	keys    map[string]*jose.JSONWebKey // by client_id + " " + kid
	tokens  map[string]*accessToken     // by token ID
	next    int

	// clientsDown, if set, is what GetClientByClientID returns.
	clientsDown error
}

var (
	_ op.Storage                  = (*memoryStorage)(nil)
	_ op.ClientCredentialsStorage = (*memoryStorage)(nil)
)

func newMemoryStorage() *memoryStorage {
	return &memoryStorage{
		clients: make(map[string]*client),
		keys:    make(map[string]*jose.JSONWebKey),
		tokens:  make(map[string]*accessToken),
	}
}

// addClient registers c and its keys.
func (s *memoryStorage) addClient(c *client, keys ...jose.JSONWebKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[c.id] = c
	for _, k := range keys {
		s.keys[c.id+" "+k.KeyID] = &k
	}
}

type accessToken struct {
	id, clientID string
	scopes       []string
	expiration   time.Time
}

// tokenRequest is the op.TokenRequest of a client_credentials grant: the
// client is the subject.
type tokenRequest struct {
	clientID string
	scopes   []string
}

func (r *tokenRequest) GetSubject() string    { return r.clientID }
func (r *tokenRequest) GetAudience() []string { return []string{r.clientID} }
func (r *tokenRequest) GetScopes() []string   { return r.scopes }

func (s *memoryStorage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clientsDown != nil {
		return nil, s.clientsDown
	}
	c, ok := s.clients[id]
	if !ok {
		return nil, fmt.Errorf("client %q not found", id)
	}
	return c, nil
}

func (s *memoryStorage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	c, err := s.GetClientByClientID(ctx, id)
	if err != nil {
		return err
	}
	if c.(*client).secret == "" || c.(*client).secret != secret {
		return errors.New("wrong client secret")
	}
	return nil
}

// ClientCredentials answers a wrong secret with an invalid_client *oidc.Error:
// LegacyServer.VerifyClient (pkg/op/server_legacy.go) returns this method's
// error as it is, and zitadel/oidc answers a plain error with a 500.
func (s *memoryStorage) ClientCredentials(ctx context.Context, id, secret string) (op.Client, error) {
	if err := s.AuthorizeClientIDSecret(ctx, id, secret); err != nil {
		return nil, oidc.ErrInvalidClient().WithParent(err)
	}
	return s.GetClientByClientID(ctx, id)
}

func (s *memoryStorage) ClientCredentialsTokenRequest(_ context.Context, id string, scopes []string) (op.TokenRequest, error) {
	return &tokenRequest{clientID: id, scopes: scopes}, nil
}

func (s *memoryStorage) GetKeyByIDAndClientID(_ context.Context, kid, clientID string) (*jose.JSONWebKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[clientID+" "+kid]
	if !ok {
		return nil, fmt.Errorf("no key %q for client %q", kid, clientID)
	}
	return k, nil
}

func (s *memoryStorage) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	t := &accessToken{id: fmt.Sprint("at-", s.next), clientID: req.GetSubject(), scopes: req.GetScopes(), expiration: time.Now().Add(5 * time.Minute)}
	s.tokens[t.id] = t
	return t.id, t.expiration, nil
}

func (s *memoryStorage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[tokenID]
	if !ok || t.clientID != subject || time.Now().After(t.expiration) {
		return errors.New("token not active")
	}
	resp.ClientID = t.clientID
	resp.Subject = subject
	resp.Scope = t.scopes
	resp.Expiration = oidc.FromTime(t.expiration)
	return nil
}

func (s *memoryStorage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

func (s *memoryStorage) RevokeToken(_ context.Context, tokenID, _, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[tokenID]; ok {
		if t.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		delete(s.tokens, tokenID)
	}
	return nil
}

func (s *memoryStorage) Health(context.Context) error { return nil }

func (s *memoryStorage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *memoryStorage) KeySet(context.Context) ([]op.Key, error) { return nil, nil }

var errNotImplemented = errors.New("not implemented by the test storage")

func (s *memoryStorage) CreateAuthRequest(context.Context, *oidc.AuthRequest, string) (op.AuthRequest, error) {
	return nil, errNotImplemented
}
func (s *memoryStorage) AuthRequestByID(context.Context, string) (op.AuthRequest, error) {
	return nil, errNotImplemented
}
func (s *memoryStorage) AuthRequestByCode(context.Context, string) (op.AuthRequest, error) {
	return nil, errNotImplemented
}
func (s *memoryStorage) SaveAuthCode(context.Context, string, string) error { return errNotImplemented }
func (s *memoryStorage) DeleteAuthRequest(context.Context, string) error    { return errNotImplemented }
func (s *memoryStorage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errNotImplemented
}
func (s *memoryStorage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, errNotImplemented
}
func (s *memoryStorage) TerminateSession(context.Context, string, string) error {
	return errNotImplemented
}
func (s *memoryStorage) SigningKey(context.Context) (op.SigningKey, error) {
	return nil, errNotImplemented
}
func (s *memoryStorage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return errNotImplemented
}
func (s *memoryStorage) SetUserinfoFromToken(context.Context, *oidc.UserInfo, string, string, string) error {
	return errNotImplemented
}
func (s *memoryStorage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}
func (s *memoryStorage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errNotImplemented
}

// client is an op.Client of a service: client_credentials only, opaque
// access tokens.
type client struct {
	id         string
	secret     string // for client_secret_basic and client_secret_post
	authMethod oidc.AuthMethod
	signingAlg string // the registration's token_endpoint_auth_signing_alg, read through Config.SigningAlg
}

func (c *client) GetID() string                       { return c.id }
func (c *client) RedirectURIs() []string              { return nil }
func (c *client) PostLogoutRedirectURIs() []string    { return nil }
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *client) AuthMethod() oidc.AuthMethod         { return c.authMethod }
func (c *client) ResponseTypes() []oidc.ResponseType  { return nil }
func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeClientCredentials}
}
func (c *client) LoginURL(string) string               { return "" }
func (c *client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration       { return time.Hour }
func (c *client) DevMode() bool                        { return false }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) IsScopeAllowed(scope string) bool {
	return slices.Contains([]string{"read", "write"}, scope)
}
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
