package pkjwtfosite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ory/fosite"

	"github.com/pkjwt/pkjwt/jwksfetch"
	"github.com/pkjwt/pkjwt/verify"
)

// lookupKey is the context key of the *lookup in which clientStore records
// the fosite.Client it found, so that the strategy returns that very client
// without asking the storage twice.
type lookupKey struct{}

type lookup struct{ client fosite.Client }

// clientStore is a verify.Clients over a fosite.ClientManager.
type clientStore struct {
	manager    fosite.ClientManager
	registry   *jwksfetch.Registry
	inline     *jwksfetch.InlineCache
	isNotFound func(error) bool
}

var _ verify.Clients = (*clientStore)(nil)

// Client implements verify.Clients. A client that is not registered for
// private_key_jwt gets a Method the verifier refuses (verify.ErrMethod).
func (s *clientStore) Client(ctx context.Context, id string) (*verify.Client, error) {
	c, err := s.manager.GetClient(ctx, id)
	switch {
	case err != nil && s.isNotFound(err):
		return nil, verify.ErrUnknownClient
	case err != nil:
		return nil, fmt.Errorf("pkjwtfosite: GetClient: %w", err)
	case c == nil || c.GetID() != id:
		return nil, verify.ErrUnknownClient
	}
	if l, ok := ctx.Value(lookupKey{}).(*lookup); ok {
		l.client = c
	}
	oc, ok := c.(fosite.OpenIDConnectClient)
	if !ok {
		return &verify.Client{ID: id, Method: "fosite: not an OpenIDConnectClient"}, nil
	}
	if m := oc.GetTokenEndpointAuthMethod(); m != verify.MethodPrivateKeyJWT {
		return &verify.Client{ID: id, Method: "fosite: " + m}, nil
	}
	return &verify.Client{ID: id, Keys: s.keys(oc), SigningAlg: oc.GetTokenEndpointAuthSigningAlgorithm()}, nil
}

// keys returns the client's key source: its registered jwks if it has one
// (as fosite's findClientPublicJWK decides), else its jwks_uri.
func (s *clientStore) keys(c fosite.OpenIDConnectClient) verify.KeySource {
	if set := c.GetJSONWebKeys(); set != nil {
		doc, err := json.Marshal(set)
		if err != nil {
			return failing{fmt.Errorf("%w: registered jwks: %w", verify.ErrKeyNotFound, err)}
		}
		return s.inline.Source(doc)
	}
	uri := c.GetJSONWebKeysURI()
	if uri == "" {
		return failing{fmt.Errorf("%w: the client registered neither jwks nor jwks_uri", verify.ErrKeyNotFound)}
	}
	src, err := s.registry.Source(uri)
	switch {
	case errors.Is(err, jwksfetch.ErrClosed):
		return failing{err} // the server's trouble: server_error
	case err != nil:
		return failing{fmt.Errorf("%w: registered jwks_uri: %w", verify.ErrKeyNotFound, err)}
	}
	return src
}

// failing is a KeySource that always fails with err: one wrapping
// verify.ErrKeyNotFound when the client's registration has no usable keys
// (invalid_client), any other when the server is at fault (server_error).
type failing struct{ err error }

func (f failing) Key(context.Context, string, string) (verify.Key, error) {
	return verify.Key{}, f.err
}
