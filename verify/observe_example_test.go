package verify_test

import (
	"context"
	"fmt"
	"time"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

func ExampleHooks() {
	keys, _ := verify.NewKeySet(verify.Key{Public: testkeys.Public(testkeys.Ed25519)})
	store, _ := replay.NewMemory(replay.MemoryConfig{})
	defer store.Close()

	// Log each decision and each replay claim, as a metrics library would
	// count them.
	hooks := &verify.Hooks{
		VerifyDone: func(_ context.Context, info verify.VerifyInfo) {
			fmt.Printf("verify: %s %s (client %q, %s)\n", info.Outcome, info.Reason, info.ClientID, info.Algorithm)
		},
		ReplayClaimDone: func(_ context.Context, info verify.ReplayClaimInfo) {
			fmt.Println("replay claim:", info.Outcome)
		},
	}
	v, _ := verify.New("https://as.example.com", verify.ClientMap{"c1": {ID: "c1", Keys: keys}}, store,
		verify.Config{Hooks: hooks})

	claims := testkeys.Claims("c1", "https://as.example.com", time.Now())
	req := verify.Request{
		AssertionType: verify.AssertionType,
		Assertion:     testkeys.Sign("EdDSA", testkeys.Signer(testkeys.Ed25519), nil, claims),
	}
	v.Verify(context.Background(), req)
	v.Verify(context.Background(), req) // the same jti again
	v.Verify(context.Background(), verify.Request{})
	// Output:
	// replay claim: claimed
	// verify: success  (client "c1", EdDSA)
	// replay claim: replayed
	// verify: failure replayed (client "c1", EdDSA)
	// verify: failure no_credentials (client "", )
}
