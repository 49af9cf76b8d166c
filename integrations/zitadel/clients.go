package pkjwtzitadel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/pkjwt/pkjwt/jwksfetch"
	"github.com/pkjwt/pkjwt/verify"
)

// clientStore is a verify.Clients over a zitadel/oidc op.Storage. Each
// verify.Client carries the op.Client as Host.
type clientStore struct {
	storage    op.Storage
	jwksURI    func(op.Client) string
	registry   *jwksfetch.Registry
	signingAlg func(op.Client) string
	inline     *jwksfetch.InlineCache
}

var _ verify.Clients = (*clientStore)(nil)

// Client implements verify.Clients. A client that is not registered for
// private_key_jwt gets a Method the verifier refuses (verify.ErrMethod).
func (s *clientStore) Client(ctx context.Context, id string) (*verify.Client, error) {
	c, err := s.storage.GetClientByClientID(ctx, id)
	switch {
	case err != nil && serverFault(err):
		return nil, fmt.Errorf("pkjwtzitadel: GetClientByClientID: %w", err)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", verify.ErrUnknownClient, err)
	case c == nil, c.GetID() != id:
		return nil, verify.ErrUnknownClient
	}
	if m := c.AuthMethod(); m != oidc.AuthMethodPrivateKeyJWT {
		return &verify.Client{ID: id, Method: "zitadel: " + string(m), Host: c}, nil
	}
	vc := &verify.Client{ID: id, Keys: s.keys(c), Host: c}
	if s.signingAlg != nil {
		vc.SigningAlg = s.signingAlg(c)
	}
	return vc, nil
}

// keys returns the client's key source: the Registry's for the jwks_uri
// Config.JWKSURI returns, if any, else the storage's.
func (s *clientStore) keys(c op.Client) verify.KeySource {
	if s.jwksURI != nil {
		if uri := s.jwksURI(c); uri != "" {
			src, err := s.registry.Source(uri)
			switch {
			case errors.Is(err, jwksfetch.ErrClosed):
				return failing{err} // the server's trouble: server_error
			case err != nil:
				return failing{fmt.Errorf("%w: registered jwks_uri: %w", verify.ErrKeyNotFound, err)}
			}
			return src
		}
	}
	return &storageKeys{storage: s.storage, clientID: c.GetID(), inline: s.inline}
}

// serverFault reports whether err, from the storage, is a server fault rather
// than an unknown client or key: zitadel/oidc's convention (op.OPStorage) is
// an oidc.ErrServerError for a genuine server fault and a plain error
// otherwise. A context that ended is the server's trouble too.
func serverFault(err error) bool {
	var e *oidc.Error
	if errors.As(err, &e) && e.ErrorType == oidc.ServerError {
		return true
	}
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// storageKeys is the key source of one client backed by the storage's
// GetKeyByIDAndClientID, as zitadel/oidc's own jwtProfileKeySet
// (pkg/op/verifier_jwt_profile.go) is, with jwksfetch's key checks.
type storageKeys struct {
	storage  op.Storage
	clientID string
	inline   *jwksfetch.InlineCache
}

// Key implements verify.KeySource. The JWK the storage returns for kid must
// fit alg; if it has no kid of its own, it takes kid.
func (k *storageKeys) Key(ctx context.Context, kid, alg string) (verify.Key, error) {
	jwk, err := k.storage.GetKeyByIDAndClientID(ctx, kid, k.clientID)
	switch {
	case err != nil && serverFault(err):
		return verify.Key{}, fmt.Errorf("pkjwtzitadel: GetKeyByIDAndClientID: %w", err)
	case err != nil:
		return verify.Key{}, fmt.Errorf("%w: GetKeyByIDAndClientID: %w", verify.ErrKeyNotFound, err)
	case jwk == nil:
		return verify.Key{}, fmt.Errorf("%w: GetKeyByIDAndClientID returned no key", verify.ErrKeyNotFound)
	}
	one := *jwk
	if one.KeyID == "" {
		one.KeyID = kid
	}
	doc, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{one}})
	if err != nil {
		return verify.Key{}, fmt.Errorf("%w: the registered key: %w", verify.ErrKeyNotFound, err)
	}
	return k.inline.Source(doc).Key(ctx, kid, alg)
}

// failing is a KeySource that always fails with err.
type failing struct{ err error }

func (f failing) Key(context.Context, string, string) (verify.Key, error) {
	return verify.Key{}, f.err
}
