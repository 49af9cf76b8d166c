package testkeys_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/pkjwt/pkjwt/internal/testkeys"
)

// Example mints an assertion of client c1 for the issuer, then a broken
// one: the same claims with a header alg that no verifier may accept.
func Example() {
	claims := testkeys.Claims("c1", "https://as.example.com", time.Unix(1_800_000_000, 0))
	claims["jti"] = "fixed"
	good := testkeys.Sign("ES256", testkeys.Signer(testkeys.P256), map[string]any{"kid": "e1"}, claims)
	header, _ := base64.RawURLEncoding.DecodeString(strings.Split(good, ".")[0])
	fmt.Println(string(header))

	bad := testkeys.SignRaw("none", nil, []byte(`{"alg":"nOnE"}`), []byte(`{"iss":"c1"}`))
	fmt.Println(strings.HasSuffix(bad, "."))
	// Output:
	// {"alg":"ES256","kid":"e1","typ":"JWT"}
	// true
}
