package jwksfetch

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"

	"github.com/pkjwt/pkjwt/verify"
)

// maxInlineSets bounds the sets an InlineCache keeps; when full, it starts
// over.
const maxInlineSets = 1024

// InlineCache turns registered JWK Set documents into key sources with
// [NewInline] and keeps them, keyed by the document's SHA-256, so that a
// host whose client storage hands out a client's jwks on every lookup (a
// database row, a fosite or zitadel/oidc client) checks each set once, not
// on every request. It keeps at most 1024 sets, and starts over when full.
// It is safe for concurrent use.
type InlineCache struct {
	cfg  InlineConfig
	mu   sync.Mutex
	sets map[[sha256.Size]byte]verify.KeySource
}

// NewInlineCache returns an empty InlineCache whose sets are built with cfg.
func NewInlineCache(cfg InlineConfig) *InlineCache {
	return &InlineCache{cfg: cfg, sets: make(map[[sha256.Size]byte]verify.KeySource)}
}

// Source returns the key source of the JWK Set document doc. A document
// that NewInline refuses (private or symmetric keys, unusable keys, not a
// JWK Set) yields a source whose Key fails with an error wrapping
// verify.ErrKeyNotFound and the reason: the client's registration is at
// fault, so its requests fail with invalid_client.
func (c *InlineCache) Source(doc []byte) verify.KeySource {
	sum := sha256.Sum256(doc)
	c.mu.Lock()
	src, ok := c.sets[sum]
	c.mu.Unlock()
	if ok {
		return src
	}
	if ks, err := NewInline(doc, c.cfg); err != nil {
		src = refused{fmt.Errorf("%w: registered jwks: %w", verify.ErrKeyNotFound, err)}
	} else {
		src = ks
	}
	c.mu.Lock()
	if len(c.sets) >= maxInlineSets {
		clear(c.sets)
	}
	c.sets[sum] = src
	c.mu.Unlock()
	return src
}

// refused is the key source of a refused registration: Key always fails
// with err.
type refused struct{ err error }

func (r refused) Key(context.Context, string, string) (verify.Key, error) {
	return verify.Key{}, r.err
}
