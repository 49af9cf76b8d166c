package keyfuncsource_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/MicahParks/keyfunc/v3"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/jwksfetch"
	"github.com/pkjwt/pkjwt/jwksfetch/keyfuncsource"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

// A host keeps a keyfunc per client and lets pkjwt verify the client's
// assertions with it. The adapter refuses the keys pkjwt never verifies
// with, here a symmetric key that keyfunc would hand out as an HMAC secret.
func ExampleNew() {
	jwks := testkeys.JWKS(
		testkeys.JWK(testkeys.Signer(testkeys.Ed25519), "k1", "EdDSA", "sig"),
		map[string]any{"kty": "oct", "kid": "hs", "k": base64.RawURLEncoding.EncodeToString([]byte("a shared secret, 32 bytes long.."))},
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(jwks) }))
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // stops keyfunc's refresh goroutine
	kf, err := keyfunc.NewDefaultCtx(ctx, []string{srv.URL})
	if err != nil {
		fmt.Println(err)
		return
	}

	keys, err := keyfuncsource.New(kf, keyfuncsource.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	clients := verify.ClientMap{"c1": {ID: "c1", Keys: keys}}
	store, _ := replay.NewMemory(replay.MemoryConfig{})
	defer store.Close()
	v, err := verify.New("https://as.example.com", clients, store, verify.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}

	assertion := testkeys.Sign("EdDSA", testkeys.Signer(testkeys.Ed25519), map[string]any{"kid": "k1"},
		testkeys.Claims("c1", "https://as.example.com", time.Now()))
	res, err := v.Verify(ctx, verify.Request{AssertionType: verify.AssertionType, Assertion: assertion})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.ClientID, res.KeyID, res.Algorithm)

	_, err = keys.Key(ctx, "hs", "HS256")
	fmt.Println(errors.Is(err, jwksfetch.ErrSymmetricKey), errors.Is(err, verify.ErrKeyNotFound))
	// Output:
	// c1 k1 EdDSA
	// true true
}
