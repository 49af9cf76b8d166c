package verify

import (
	"context"
	"crypto"
	"fmt"

	"github.com/pkjwt/pkjwt/internal/jose"
)

// Key is one public verification key registered to a client.
type Key struct {
	// ID is the key's JWK "kid", or empty.
	ID string
	// Algorithm is the key's JWK "alg". When set, the key verifies only
	// assertions with exactly that alg.
	Algorithm string
	// Public is an *rsa.PublicKey, an *ecdsa.PublicKey or an
	// ed25519.PublicKey. Private and symmetric keys are never accepted.
	Public crypto.PublicKey
}

// KeySource yields a client's registered public keys. Implementations must
// be safe for concurrent use; package jwksfetch provides remote (jwks_uri)
// and inline (jwks) sources, and [KeySet] is a fixed one.
type KeySource interface {
	// Key returns the key that verifies an assertion whose header has the
	// given kid (possibly empty) and alg. The key must never come from the
	// assertion itself.
	//
	// It returns an error wrapping [ErrKeyNotFound] when no usable key has
	// that kid or fits alg, [ErrKeyIDRequired] when kid is empty and more
	// than one usable key fits, and any other error when the keys could not
	// be had (the verifier then fails with [ErrKeysUnavailable]).
	Key(ctx context.Context, kid, alg string) (Key, error)
}

// KeySet is a fixed, in-memory [KeySource]. It is safe for concurrent use.
type KeySet struct {
	keys []Key
}

var _ KeySource = (*KeySet)(nil)

// NewKeySet returns a KeySet of keys, in order. It returns an error if a
// key is not a supported public key type (private and symmetric keys
// included) or if two keys share a non-empty ID.
func NewKeySet(keys ...Key) (*KeySet, error) {
	for i, k := range keys {
		if err := jose.PublicKeyType(k.Public); err != nil {
			return nil, fmt.Errorf("verify: key %d (kid %q): %w", i, k.ID, err)
		}
		for _, prev := range keys[:i] {
			if k.ID != "" && prev.ID == k.ID {
				return nil, fmt.Errorf("verify: key %d: duplicate kid %q", i, k.ID)
			}
		}
	}
	return &KeySet{keys: append([]Key(nil), keys...)}, nil
}

// Keys returns a copy of the set's keys.
func (s *KeySet) Keys() []Key { return append([]Key(nil), s.keys...) }

// Key implements [KeySource]. With a kid, it returns the key with that ID if
// it fits alg. Without one, it returns the only key that fits alg, or an
// error wrapping [ErrKeyIDRequired] when several do.
func (s *KeySet) Key(_ context.Context, kid, alg string) (Key, error) {
	return SelectKey(s.keys, kid, alg)
}

// SelectKey picks the key for an assertion with header kid and alg from
// keys, as [KeySet.Key] does: the first key with ID kid if it fits alg, or
// with an empty kid the only key that fits alg. A key fits alg when its
// Algorithm is empty or equal to alg and its type (and curve) suit alg (see
// [CheckKey], without the size check).
func SelectKey(keys []Key, kid, alg string) (Key, error) {
	if kid != "" {
		for _, k := range keys {
			if k.ID == kid {
				if !fits(k, alg) {
					return Key{}, fmt.Errorf("%w: key %q does not fit alg %q", ErrKeyNotFound, kid, alg)
				}
				return k, nil
			}
		}
		return Key{}, fmt.Errorf("%w: no key %q", ErrKeyNotFound, kid)
	}
	found := -1
	for i, k := range keys {
		if fits(k, alg) {
			if found >= 0 {
				return Key{}, fmt.Errorf("%w: several keys fit alg %q", ErrKeyIDRequired, alg)
			}
			found = i
		}
	}
	if found < 0 {
		return Key{}, fmt.Errorf("%w: no key fits alg %q", ErrKeyNotFound, alg)
	}
	return keys[found], nil
}

func fits(k Key, alg string) bool {
	a := jose.Lookup(alg)
	return (k.Algorithm == "" || k.Algorithm == alg) && a != nil && !a.Symmetric() && a.FitKey(k.Public) == nil
}

// CheckKey reports whether pub may verify assertions signed with alg: alg
// must be one of the asymmetric algs of the package documentation's table,
// pub's type (and curve) must suit it, and an RSA key must have at least
// minRSABits and at most 16384 bits. Private keys, symmetric keys and
// unknown types are rejected.
func CheckKey(pub crypto.PublicKey, alg string, minRSABits int) error {
	a := jose.Lookup(alg)
	if a == nil || a.Symmetric() {
		return fmt.Errorf("alg %q is not a public-key alg", alg)
	}
	if err := a.FitKey(pub); err != nil {
		return err
	}
	return jose.CheckRSASize(pub, minRSABits)
}
