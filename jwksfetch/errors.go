package jwksfetch

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors, for errors.Is. Their text is stable.
var (
	// ErrUnavailable is wrapped by the errors a [Remote] (or a [Registry]
	// source) returns when it has no keys it may use: the first fetch has
	// not succeeded yet, or every fetch has failed for longer than
	// [RemoteConfig.MaxStaleness]. It does not wrap verify.ErrKeyNotFound,
	// so the verifier fails closed with a server error.
	ErrUnavailable = errors.New("jwksfetch: keys unavailable")
	// ErrClosed is wrapped by the errors of a closed [Remote] or [Registry]
	// when it would have to fetch.
	ErrClosed = errors.New("jwksfetch: closed")
	// ErrForbiddenAddress is wrapped by fetch errors when the default HTTP
	// client refused to connect to an address (loopback, private,
	// link-local, ...), and by constructors refusing a URI scheme.
	ErrForbiddenAddress = errors.New("jwksfetch: forbidden address")
	// ErrResponseTooLarge is wrapped by fetch errors when the document is
	// larger than [RemoteConfig.MaxResponseBytes].
	ErrResponseTooLarge = errors.New("jwksfetch: response too large")
	// ErrNotJWKS is wrapped by fetch and [NewInline] errors when the
	// document is not a JWK Set: not JSON, no "keys" array, a wrong status
	// or content type.
	ErrNotJWKS = errors.New("jwksfetch: not a JWK Set")

	// ErrPrivateKey is wrapped by a [KeyError] for a JWK with private key
	// members (d, p, q, dp, dq, qi, oth).
	ErrPrivateKey = errors.New("private key material")
	// ErrSymmetricKey is wrapped by a [KeyError] for a JWK of kty "oct" or
	// with a "k" member.
	ErrSymmetricKey = errors.New("symmetric key")
	// ErrUnusableKey is wrapped by a [KeyError] for a JWK that is not a
	// usable signature verification key: unsupported kty or curve, use
	// other than "sig", key_ops without "verify", an alg that does not fit
	// the key, an RSA modulus under 2048 bits, malformed members.
	ErrUnusableKey = errors.New("unusable key")
	// ErrDuplicateKID is wrapped by a [KeyError] for a usable JWK whose kid
	// an earlier usable JWK of the same set already has.
	ErrDuplicateKID = errors.New("duplicate kid")
)

// KeyError describes one JWK of a set that cannot be used to verify
// signatures. A remote source skips (and logs) such keys; [NewInline]
// refuses the whole set. Its text names the key's position and kid and the
// reason, never key material.
type KeyError struct {
	// Index is the key's position in the set's "keys" array, from 0.
	Index int
	// KID is the key's kid, or empty.
	KID string
	// Err wraps ErrPrivateKey, ErrSymmetricKey, ErrUnusableKey or
	// ErrDuplicateKID, and possibly a detail.
	Err error
}

// Error returns "key <index> (kid <kid>): <reason>".
func (e *KeyError) Error() string {
	return "key " + strconv.Itoa(e.Index) + " (kid " + strconv.Quote(e.KID) + "): " + e.Err.Error()
}

// Unwrap returns e.Err.
func (e *KeyError) Unwrap() error { return e.Err }

func keyError(i int, kid string, sentinel error, format string, args ...any) *KeyError {
	if format == "" {
		return &KeyError{Index: i, KID: kid, Err: sentinel}
	}
	return &KeyError{Index: i, KID: kid, Err: fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)}
}
