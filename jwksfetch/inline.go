package jwksfetch

import (
	"errors"
	"fmt"

	"github.com/pkjwt/pkjwt/verify"
)

// InlineConfig is the policy of [NewInline]. The zero value is the strict
// default.
type InlineConfig struct {
	// SkipUnusable leaves out JWKs that are merely not signature keys (use
	// "enc", key_ops without "verify", an unsupported kty or curve, an RSA
	// key under 2048 bits, an alg that does not fit) and duplicate kids,
	// instead of refusing the set; an RFC 7591 jwks may also carry
	// encryption keys. Private and symmetric keys are refused either way.
	// False: any unusable JWK makes NewInline fail.
	SkipUnusable bool
}

// NewInline returns a fixed key source holding the keys of jwks, a JWK Set
// document (RFC 7517 §5) registered as a client's "jwks" (RFC 7591 §2).
// Keys are selected as [verify.SelectKey] does.
//
// The document is checked once, here, with the rules of the package
// documentation. NewInline returns an error wrapping ErrNotJWKS if jwks is
// not a JWK Set or has no usable key; otherwise, for every JWK it cannot
// use, an error that joins one *[KeyError] per offending key (naming its
// index and kid; wrapping ErrPrivateKey, ErrSymmetricKey, ErrUnusableKey
// or ErrDuplicateKID).
func NewInline(jwks []byte, cfg InlineConfig) (*verify.KeySet, error) {
	keys, skipped, err := parseJWKS(jwks)
	if err != nil {
		return nil, fmt.Errorf("jwksfetch: inline jwks: %w", err)
	}
	var errs []error
	for _, ke := range skipped {
		if cfg.SkipUnusable && !errors.Is(ke, ErrPrivateKey) && !errors.Is(ke, ErrSymmetricKey) {
			continue
		}
		errs = append(errs, ke)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("jwksfetch: inline jwks: %w", errors.Join(errs...))
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("jwksfetch: inline jwks: %w: no usable key", ErrNotJWKS)
	}
	return verify.NewKeySet(keys...)
}
