package keyfuncsource

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"

	"github.com/pkjwt/pkjwt/jwksfetch"
	"github.com/pkjwt/pkjwt/verify"
)

const (
	// defaultMaxWait is Config.MaxWait's zero value, as for a
	// jwksfetch.Remote.
	defaultMaxWait = 2 * time.Second
	// minRSABits is the smallest RSA modulus of a usable key, as for
	// jwksfetch's own sources (RFC 8725 §3.5, FAPI 2.0 §5.4.1); the verifier
	// may require more.
	minRSABits = 2048
)

// Config is the policy of a [Source]. The zero value is the default
// policy; each field documents its zero value. New copies it.
type Config struct {
	// MaxWait bounds how long Key lets the keyfunc's storage work on a kid
	// it does not hold: wait for its refresh rate limiter, then refetch the
	// jwks_uri in the caller. When the limiter's next slot is further away,
	// Key does not wait at all; a refetch not done by then is abandoned.
	// Key never waits beyond its ctx either. Zero: 2 s. Negative: an error.
	MaxWait time.Duration
}

// Source is a [verify.KeySource] that takes a client's keys from a
// keyfunc.Keyfunc and applies jwksfetch's key rules to them (see the
// package documentation for what it enforces, and what it cannot). It holds
// no goroutine; the keyfunc's lifetime is the host's. A Source is safe for
// concurrent use.
type Source struct {
	storage jwkset.Storage
	maxWait time.Duration
}

var _ verify.KeySource = (*Source)(nil)

// New returns a Source that reads the keys of kf. It returns an error if kf
// or its storage is nil, or if cfg is invalid.
func New(kf keyfunc.Keyfunc, cfg Config) (*Source, error) {
	switch {
	case kf == nil:
		return nil, errors.New("keyfuncsource: nil Keyfunc")
	case kf.Storage() == nil:
		return nil, errors.New("keyfuncsource: Keyfunc without storage")
	case cfg.MaxWait < 0:
		return nil, errors.New("keyfuncsource: negative MaxWait")
	case cfg.MaxWait == 0:
		cfg.MaxWait = defaultMaxWait
	}
	return &Source{storage: kf.Storage(), maxWait: cfg.MaxWait}, nil
}

// Key implements [verify.KeySource]. With a kid, it returns the keyfunc's
// JWK with that kid if it is usable and fits alg; a kid the keyfunc does
// not hold makes it refresh, as keyfunc would (rate-limited, bounded by
// MaxWait). Without a kid, it returns the only usable key that fits alg.
//
// It returns an error wrapping verify.ErrKeyNotFound when no usable key has
// that kid or fits alg (and also jwksfetch.ErrPrivateKey,
// jwksfetch.ErrSymmetricKey or jwksfetch.ErrUnusableKey when the key with
// that kid is not usable at all), verify.ErrKeyIDRequired when kid is empty
// and several keys fit, and jwksfetch.ErrUnavailable when the keyfunc holds
// no key, its storage fails, or ctx ends while it refreshes (then also
// wrapping ctx.Err()).
func (s *Source) Key(ctx context.Context, kid, alg string) (verify.Key, error) {
	if kid == "" {
		jwks, err := s.all(ctx)
		if err != nil {
			return verify.Key{}, err
		}
		var keys []verify.Key
		for _, j := range jwks {
			if k, err := usable(j, alg); err == nil {
				keys = append(keys, k)
			}
		}
		return verify.SelectKey(keys, "", alg)
	}

	wait, cancel := context.WithTimeout(ctx, s.maxWait)
	j, err := s.storage.KeyRead(wait, kid)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return verify.Key{}, fmt.Errorf("%w: keyfunc: waiting for a refresh: %w", jwksfetch.ErrUnavailable, ctx.Err())
		}
		// Not found, or refresh not allowed by the rate limiter or not
		// done within MaxWait: the kid is unknown if the storage answers.
		jwks, errAll := s.all(ctx)
		if errAll != nil {
			return verify.Key{}, errAll
		}
		i := slices.IndexFunc(jwks, func(j jwkset.JWK) bool { return j.Marshal().KID == kid })
		if i < 0 {
			return verify.Key{}, fmt.Errorf("no key %q (keyfunc: %w): %w", kid, err, verify.ErrKeyNotFound)
		}
		j = jwks[i] // a refresh landed meanwhile
	}
	k, err := usable(j, alg)
	if err != nil {
		return verify.Key{}, fmt.Errorf("key %q: %w: %w", kid, err, verify.ErrKeyNotFound)
	}
	return k, nil
}

// all returns every JWK the keyfunc holds, or an error wrapping
// jwksfetch.ErrUnavailable if it holds none or its storage fails.
func (s *Source) all(ctx context.Context) ([]jwkset.JWK, error) {
	jwks, err := s.storage.KeyReadAll(ctx)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: keyfunc: %w", jwksfetch.ErrUnavailable, err)
	case len(jwks) == 0:
		return nil, fmt.Errorf("%w: keyfunc holds no keys (has its first fetch failed?)", jwksfetch.ErrUnavailable)
	}
	return jwks, nil
}

// usable returns j as a verify.Key if it may verify an assertion signed
// with alg, or an error wrapping jwksfetch.ErrPrivateKey,
// jwksfetch.ErrSymmetricKey or jwksfetch.ErrUnusableKey and saying why not.
func usable(j jwkset.JWK, alg string) (verify.Key, error) {
	m := j.Marshal()
	switch k := j.Key().(type) {
	case *rsa.PublicKey:
		// Any RSA alg, for the size rule alone.
		if err := verify.CheckKey(k, "RS256", minRSABits); err != nil {
			return verify.Key{}, fmt.Errorf("%w: %w", jwksfetch.ErrUnusableKey, err)
		}
	case *ecdsa.PublicKey, ed25519.PublicKey:
	case []byte:
		return verify.Key{}, fmt.Errorf("%w: kty %q", jwksfetch.ErrSymmetricKey, m.KTY)
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey, *ecdh.PrivateKey:
		return verify.Key{}, fmt.Errorf("%w: kty %q", jwksfetch.ErrPrivateKey, m.KTY)
	default:
		return verify.Key{}, fmt.Errorf("%w: unsupported key type %T", jwksfetch.ErrUnusableKey, k)
	}
	switch {
	case m.USE != "" && m.USE != jwkset.UseSig:
		return verify.Key{}, fmt.Errorf("%w: use %q is not \"sig\"", jwksfetch.ErrUnusableKey, m.USE)
	case m.KEYOPS != nil && !slices.Contains(m.KEYOPS, jwkset.KeyOpsVerify): // an empty key_ops allows nothing
		return verify.Key{}, fmt.Errorf("%w: key_ops without \"verify\"", jwksfetch.ErrUnusableKey)
	case m.ALG != "" && string(m.ALG) != alg:
		return verify.Key{}, fmt.Errorf("alg %q, not %q", m.ALG, alg)
	}
	if err := verify.CheckKey(j.Key(), alg, minRSABits); err != nil {
		return verify.Key{}, fmt.Errorf("does not fit alg %q: %w", alg, err)
	}
	return verify.Key{ID: m.KID, Algorithm: string(m.ALG), Public: j.Key()}, nil
}
