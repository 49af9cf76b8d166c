package pkjwtzitadel_test

import (
	"context"
	"testing"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/sign"
)

// TestSignClient gets tokens from the provider with pkjwt's client side:
// sign.ClientCredentials, a fresh assertion per request, cached by its
// TokenSource.
func TestSignClient(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	for _, tc := range []struct {
		client string
		s      signer
	}{{rsaClient, rsaSigner}, {rsaClient, ecSigner}, {edClient, edSigner}} {
		t.Run(tc.client+"/"+tc.s.alg, func(t *testing.T) {
			s, err := sign.NewSigner(tc.client, testkeys.Signer(tc.s.key), f.issuer, &sign.Config{KeyID: tc.s.kid})
			if err != nil {
				t.Fatal(err)
			}
			cc, err := sign.NewClientCredentials(s, f.tokenURL, &sign.TokenConfig{Scopes: []string{"read"}})
			if err != nil {
				t.Fatal(err)
			}
			src := cc.TokenSource(ctx)
			tok, err := src.Token()
			if err != nil || tok.AccessToken == "" {
				t.Fatalf("TokenSource: %v", err)
			}
			if again, err := src.Token(); err != nil || again != tok {
				t.Errorf("cached token: %v", err)
			}
			for range 3 { // uncached: each request a fresh assertion
				if _, err := cc.Token(ctx); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
