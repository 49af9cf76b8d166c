package pkjwt_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

// Example verifies a client assertion the way a token endpoint does, then
// shows that the same assertion cannot be used twice.
func Example() {
	const issuer = "https://as.example.com"

	// The host server's registry: client-1 registered one P-256 public key.
	keys, err := verify.NewKeySet(verify.Key{ID: "k1", Public: testkeys.Public(testkeys.P256)})
	if err != nil {
		panic(err)
	}
	clients := verify.ClientMap{"client-1": {ID: "client-1", Keys: keys}}

	store, err := replay.NewMemory(replay.MemoryConfig{})
	if err != nil {
		panic(err)
	}
	defer store.Close()

	v, err := verify.New(issuer, clients, store, verify.Config{}) // default policy
	if err != nil {
		panic(err)
	}

	// What the client sends: a JWT signed with its private key, aud the
	// authorization server's issuer identifier.
	assertion := testkeys.Sign("ES256", testkeys.Signer(testkeys.P256), map[string]any{"kid": "k1"},
		testkeys.Claims("client-1", issuer, time.Now()))
	req := verify.Request{
		AssertionType: verify.AssertionType, // client_assertion_type
		Assertion:     assertion,            // client_assertion
	}

	res, err := v.Verify(context.Background(), req)
	if err != nil {
		panic(err)
	}
	fmt.Println("authenticated:", res.ClientID, res.KeyID, res.Algorithm)

	_, err = v.Verify(context.Background(), req)
	var e *verify.Error
	if errors.As(err, &e) {
		fmt.Println("replayed:", e.Code, e.Reason, e.Description)
	}
	// Output:
	// authenticated: client-1 k1 ES256
	// replayed: invalid_client replayed client assertion was already used
}
