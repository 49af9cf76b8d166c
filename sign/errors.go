package sign

import "errors"

// Sentinel errors, for errors.Is. Errors from this package wrap one of them
// (or are *oauth2.RetrieveError, for an error response of a token
// endpoint) and never contain a key or a whole assertion.
var (
	// ErrInvalidConfig: an argument or Config field is invalid (an empty
	// client_id, a lifetime out of bounds, a malformed URL, ...).
	ErrInvalidConfig = errors.New("sign: invalid configuration")

	// ErrUnsuitableKey: the key cannot sign with the requested alg (wrong
	// type or curve, RSA under 2048 bits, unsupported key type).
	ErrUnsuitableKey = errors.New("sign: key unsuitable")

	// ErrSign: the crypto.Signer failed, or returned a signature of the
	// wrong form.
	ErrSign = errors.New("sign: signing failed")

	// ErrDiscovery: the authorization server's metadata (RFC 8414) could
	// not be fetched or is invalid.
	ErrDiscovery = errors.New("sign: discovery failed")

	// ErrNotSupported: the authorization server's metadata does not list
	// private_key_jwt, or not the signer's alg.
	ErrNotSupported = errors.New("sign: not supported by the authorization server")

	// ErrNoKey: the key ring has no key it may sign with.
	ErrNoKey = errors.New("sign: no signing key")

	// ErrRotationPending: Rotate was called while the next key is still
	// waiting for its publish lead to pass.
	ErrRotationPending = errors.New("sign: a rotation is already pending")

	// ErrKeyNotFound: no key of the ring has that ID.
	ErrKeyNotFound = errors.New("sign: no such key")

	// ErrCurrentKey: the current signing key cannot be revoked; rotate
	// first.
	ErrCurrentKey = errors.New("sign: the current key cannot be revoked")

	// ErrStore: a key store failed.
	ErrStore = errors.New("sign: key store failed")
)
