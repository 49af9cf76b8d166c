package verify_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

func ExampleVerifier_Verify() {
	keys, _ := verify.NewKeySet(verify.Key{Public: testkeys.Public(testkeys.Ed25519)})
	store, _ := replay.NewMemory(replay.MemoryConfig{})
	defer store.Close()
	v, _ := verify.New("https://as.example.com", verify.ClientMap{"c1": {ID: "c1", Keys: keys}}, store, verify.Config{})

	// An assertion whose aud is the token endpoint: the default policy
	// (draft-ietf-oauth-rfc7523bis) accepts only the issuer identifier.
	claims := testkeys.Claims("c1", "https://as.example.com/token", time.Now())
	_, err := v.Verify(context.Background(), verify.Request{
		AssertionType: verify.AssertionType,
		Assertion:     testkeys.Sign("EdDSA", testkeys.Signer(testkeys.Ed25519), nil, claims),
	})
	fmt.Println(errors.Is(err, verify.ErrAudience))
	var e *verify.Error
	if errors.As(err, &e) {
		// What a client may be told, and what an operator may log.
		fmt.Printf("%s: %s (%s)\n", e.Code, e.Description, e.Reason)
	}
	// Output:
	// true
	// invalid_client: client assertion aud is not this server (aud)
}

func ExampleVerifier_Explain() {
	keys, _ := verify.NewKeySet(verify.Key{Public: testkeys.Public(testkeys.Ed25519)})
	store, _ := replay.NewMemory(replay.MemoryConfig{})
	defer store.Close()
	v, _ := verify.New("https://as.example.com", verify.ClientMap{"c1": {ID: "c1", Keys: keys}}, store, verify.Config{})

	// Expired, and meant for another server.
	claims := testkeys.Claims("c1", "https://other.example.com", time.Now().Add(-time.Hour))
	steps := v.Explain(context.Background(), verify.Request{
		AssertionType: verify.AssertionType,
		Assertion:     testkeys.Sign("EdDSA", testkeys.Signer(testkeys.Ed25519), nil, claims),
	})
	for _, s := range steps {
		switch {
		case s.Skipped:
			fmt.Printf("%-9s skipped\n", s.Check)
		case s.Err != nil:
			var e *verify.Error
			errors.As(s.Err, &e)
			fmt.Printf("%-9s FAIL %s\n", s.Check, e.Description)
		default:
			fmt.Printf("%-9s ok\n", s.Check)
		}
	}
	// Output:
	// request   ok
	// syntax    ok
	// header    ok
	// iss       ok
	// sub       ok
	// client_id ok
	// alg       ok
	// client    ok
	// key       ok
	// signature ok
	// aud       FAIL client assertion aud is not this server
	// exp       FAIL client assertion has expired
	// nbf       ok
	// iat       FAIL client assertion iat is in the future or too old
	// jti       ok
	// replay    skipped
}
