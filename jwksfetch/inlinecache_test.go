package jwksfetch_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/jwksfetch"
	"github.com/pkjwt/pkjwt/verify"
)

func TestInlineCache(t *testing.T) {
	c := jwksfetch.NewInlineCache(jwksfetch.InlineConfig{})
	doc := testkeys.JWKS(testkeys.JWK(testkeys.Signer(testkeys.P256), "e1", "ES256", "sig"))
	src := c.Source(doc)
	if again := c.Source(append([]byte(nil), doc...)); again != src {
		t.Error("the same document built a second source")
	}
	if k, err := src.Key(context.Background(), "e1", "ES256"); err != nil || k.ID != "e1" {
		t.Errorf("Key = %+v, %v", k, err)
	}

	// A registered private key: the client's fault, never usable.
	bad := c.Source(testkeys.JWKS(testkeys.PrivateJWK(testkeys.P256, "p1", "ES256")))
	_, err := bad.Key(context.Background(), "p1", "ES256")
	if !errors.Is(err, verify.ErrKeyNotFound) || !errors.Is(err, jwksfetch.ErrPrivateKey) {
		t.Errorf("private key: %v", err)
	}
	if _, err := c.Source([]byte("not json")).Key(context.Background(), "", "ES256"); !errors.Is(err, verify.ErrKeyNotFound) {
		t.Errorf("not a JWK Set: %v", err)
	}

	// More distinct documents than the cache keeps: it starts over, and
	// every source it hands out still works.
	for i := range 3000 {
		doc := testkeys.JWKS(testkeys.JWK(testkeys.Signer(testkeys.Ed25519), fmt.Sprint("k", i), "", ""))
		if _, err := c.Source(doc).Key(context.Background(), fmt.Sprint("k", i), "EdDSA"); err != nil {
			t.Fatalf("set %d: %v", i, err)
		}
	}
}
