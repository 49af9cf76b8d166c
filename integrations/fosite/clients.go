package pkjwtfosite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/ory/fosite"

	"github.com/pkjwt/pkjwt/jwksfetch"
	"github.com/pkjwt/pkjwt/verify"
)

// clientStore is a verify.Clients over a fosite.ClientManager. Each
// verify.Client carries the fosite.Client as Host.
type clientStore struct {
	manager    fosite.ClientManager
	registry   *jwksfetch.Registry
	inlineCfg  jwksfetch.InlineConfig
	inline     *jwksfetch.InlineCache
	isNotFound func(error) bool
	signingAlg func(fosite.OpenIDConnectClient) string
}

var _ verify.Clients = (*clientStore)(nil)

// Client implements verify.Clients. A client that is not registered for
// private_key_jwt gets a Method the verifier refuses (verify.ErrMethod).
func (s *clientStore) Client(ctx context.Context, id string) (*verify.Client, error) {
	c, err := s.manager.GetClient(ctx, id)
	switch {
	case err != nil && s.isNotFound(err):
		return nil, fmt.Errorf("%w: %w", verify.ErrUnknownClient, err)
	case err != nil:
		return nil, fmt.Errorf("pkjwtfosite: GetClient: %w", err)
	case c == nil || c.GetID() != id:
		return nil, verify.ErrUnknownClient
	}
	oc, ok := c.(fosite.OpenIDConnectClient)
	if !ok {
		return &verify.Client{ID: id, Method: "fosite: not an OpenIDConnectClient", Host: c}, nil
	}
	if m := oc.GetTokenEndpointAuthMethod(); m != verify.MethodPrivateKeyJWT {
		return &verify.Client{ID: id, Method: "fosite: " + m, Host: c}, nil
	}
	return &verify.Client{ID: id, Keys: s.keys(oc), SigningAlg: s.signingAlg(oc), Host: c}, nil
}

// keys returns the client's key source: its registered jwks if it has one
// (as fosite's findClientPublicJWK decides), else its jwks_uri.
func (s *clientStore) keys(c fosite.OpenIDConnectClient) verify.KeySource {
	src, err := s.source(c)
	if err != nil {
		return failing{err}
	}
	return src
}

// source returns the client's key source, or an error: one wrapping
// verify.ErrKeyNotFound when the client's registration has no usable keys
// (invalid_client), any other when the server is at fault (server_error).
func (s *clientStore) source(c fosite.OpenIDConnectClient) (verify.KeySource, error) {
	if set := c.GetJSONWebKeys(); set != nil {
		doc, err := json.Marshal(set)
		if err != nil {
			return nil, fmt.Errorf("%w: registered jwks: %w", verify.ErrKeyNotFound, err)
		}
		return s.inline.Source(doc), nil
	}
	uri := c.GetJSONWebKeysURI()
	if uri == "" {
		return nil, fmt.Errorf("%w: the client registered neither jwks nor jwks_uri", verify.ErrKeyNotFound)
	}
	src, err := s.registry.Source(uri)
	switch {
	case errors.Is(err, jwksfetch.ErrClosed):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("%w: registered jwks_uri: %w", verify.ErrKeyNotFound, err)
	}
	return src, nil
}

// failing is a KeySource that always fails with err.
type failing struct{ err error }

func (f failing) Key(context.Context, string, string) (verify.Key, error) {
	return verify.Key{}, f.err
}

// CheckClient checks the registration of c as the Authenticator reads it,
// so that a server refuses a bad registration when it starts or when the
// client registers, not at the client's first request: a client whose
// token_endpoint_auth_method is private_key_jwt must have a registered
// jwks that jwksfetch.NewInline accepts under Config.Inline, or a jwks_uri
// the Registry accepts, and a registered signing alg, if any
// (Config.SigningAlg), on the verifier's list. Other clients are fosite's;
// CheckClient returns nil for them. It fetches nothing: to fetch jwks_uri
// documents ahead of the first request, use the shared Config.Registry.
//
// The error wraps verify.ErrKeyNotFound for unusable keys and
// verify.ErrAlgorithm for an alg the verifier refuses.
func (a *Authenticator) CheckClient(c fosite.Client) error {
	oc, ok := c.(fosite.OpenIDConnectClient)
	if !ok || oc.GetTokenEndpointAuthMethod() != verify.MethodPrivateKeyJWT {
		return nil
	}
	s := a.clients
	if set := oc.GetJSONWebKeys(); set != nil {
		doc, err := json.Marshal(set)
		if err == nil {
			_, err = jwksfetch.NewInline(doc, s.inlineCfg)
		}
		if err != nil {
			return fmt.Errorf("pkjwtfosite: client %q: %w: registered jwks: %w", c.GetID(), verify.ErrKeyNotFound, err)
		}
	}
	if _, err := s.source(oc); err != nil {
		return fmt.Errorf("pkjwtfosite: client %q: %w", c.GetID(), err)
	}
	if alg := s.signingAlg(oc); alg != "" && !slices.Contains(a.v.SigningAlgorithms(), alg) {
		return fmt.Errorf("pkjwtfosite: client %q: %w: registered token_endpoint_auth_signing_alg %q is not on the verifier's list",
			c.GetID(), verify.ErrAlgorithm, alg)
	}
	return nil
}
