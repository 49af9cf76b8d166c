package verify

import (
	"context"
	"errors"
	"fmt"
)

// Client authentication methods (RFC 7591 token_endpoint_auth_method values)
// that a [Verifier] handles.
const (
	// MethodPrivateKeyJWT: the assertion is signed with the client's private
	// key and verified with its registered public keys (the default).
	MethodPrivateKeyJWT = "private_key_jwt"
	// MethodClientSecretJWT: the assertion is an HMAC with the client's
	// secret (OpenID Connect Core §9). Opt-in per client.
	MethodClientSecretJWT = "client_secret_jwt"
)

// Client is what a [Verifier] needs to know of a registered client.
type Client struct {
	// ID is the client_id.
	ID string
	// Method is the client's registered token_endpoint_auth_method:
	// MethodPrivateKeyJWT (also when empty) or MethodClientSecretJWT.
	Method string
	// Keys yields the client's public keys, for MethodPrivateKeyJWT.
	Keys KeySource
	// Secret is the client's shared secret, for MethodClientSecretJWT only.
	// HS256 needs at least 32 bytes, HS384 48 and HS512 64 (RFC 7518 §3.2).
	Secret []byte
	// SigningAlg is the client's registered token_endpoint_auth_signing_alg.
	// When set, assertions must use exactly this alg (which must also be
	// allowed by the Verifier). Empty: any allowed alg.
	SigningAlg string
	// Host is the host server's own value for the client (its storage
	// record, say), or nil. The Verifier never looks at it and returns it
	// unchanged as [Result.Host].
	Host any
}

// Clients looks up registered clients in the host server's own storage.
// Implementations must be safe for concurrent use.
type Clients interface {
	// Client returns the client with the given client_id. It returns an
	// error wrapping [ErrUnknownClient] when there is none, and any other
	// error when the storage could not answer.
	Client(ctx context.Context, clientID string) (*Client, error)
}

// ClientMap is a fixed set of clients keyed by client_id; it implements
// [Clients]. It must not be modified while in use.
type ClientMap map[string]*Client

var _ Clients = ClientMap(nil)

// Client implements [Clients].
func (m ClientMap) Client(_ context.Context, clientID string) (*Client, error) {
	if c, ok := m[clientID]; ok {
		return c, nil
	}
	return nil, ErrUnknownClient
}

// validate reports a configuration mistake in c.
func (c *Client) validate() error {
	switch c.Method {
	case "", MethodPrivateKeyJWT:
		if c.Keys == nil {
			return errors.New("private_key_jwt client without keys")
		}
		if c.Secret != nil {
			return errors.New("private_key_jwt client with a secret")
		}
	case MethodClientSecretJWT:
		if len(c.Secret) < 32 {
			return errors.New("client_secret_jwt client with a secret shorter than 32 bytes")
		}
		if c.Keys != nil {
			return errors.New("client_secret_jwt client with public keys")
		}
	default:
		return fmt.Errorf("unsupported token_endpoint_auth_method %q", c.Method)
	}
	return nil
}
