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

// lookupKey is the context key of the *lookup in which clientStore records
// the op.Client it found, so that VerifyClient returns that very client
// without asking the storage twice.
type lookupKey struct{}

type lookup struct{ client op.Client }

// clientStore is a verify.Clients over a zitadel/oidc op.Storage.
type clientStore struct {
	storage op.Storage
	keys    func(context.Context, op.Client) (verify.KeySource, error)
	inline  *jwksfetch.InlineCache
}

var _ verify.Clients = (*clientStore)(nil)

// Client implements verify.Clients. A client that is not registered for
// private_key_jwt gets a Method the verifier refuses (verify.ErrMethod).
func (s *clientStore) Client(ctx context.Context, id string) (*verify.Client, error) {
	c, err := s.storage.GetClientByClientID(ctx, id)
	switch {
	case err != nil && serverFault(err):
		return nil, fmt.Errorf("pkjwtzitadel: GetClientByClientID: %w", err)
	case err != nil, c == nil, c.GetID() != id:
		return nil, verify.ErrUnknownClient
	}
	if l, ok := ctx.Value(lookupKey{}).(*lookup); ok {
		l.client = c
	}
	if m := c.AuthMethod(); m != oidc.AuthMethodPrivateKeyJWT {
		return &verify.Client{ID: id, Method: "zitadel: " + string(m)}, nil
	}
	if s.keys == nil {
		return &verify.Client{ID: id, Keys: &storageKeys{storage: s.storage, clientID: id, inline: s.inline}}, nil
	}
	keys, err := s.keys(ctx, c)
	switch {
	case err != nil:
		keys = failing{err}
	case keys == nil:
		keys = failing{fmt.Errorf("%w: Config.Keys returned no key source", verify.ErrKeyNotFound)}
	}
	return &verify.Client{ID: id, Keys: keys}, nil
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
