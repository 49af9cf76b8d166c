package sign_test

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

// decode returns the header and claims of a compact JWT, unverified.
func decode(t *testing.T, tok string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %d parts", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
	}
	return header, claims
}

// newVerifier returns pkjwt's verifier for issuer with the client
// clientID, whose keys are keys.
func newVerifier(t testing.TB, issuer, clientID string, cfg verify.Config, keys ...verify.Key) *verify.Verifier {
	t.Helper()
	set, err := verify.NewKeySet(keys...)
	if err != nil {
		t.Fatal(err)
	}
	store, err := replay.NewMemory(replay.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	v, err := verify.New(issuer, verify.ClientMap{clientID: {ID: clientID, Keys: set}}, store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// verifyAssertion runs pkjwt's verifier on a.
func verifyAssertion(v *verify.Verifier, a string) (*verify.Result, error) {
	return v.Verify(context.Background(), verify.Request{AssertionType: verify.AssertionType, Assertion: a})
}

// opaqueSigner hides the concrete key type, as a KMS or agent client does;
// fail, when set, replaces the signature or the error.
type opaqueSigner struct {
	key  crypto.Signer
	sig  []byte
	fail error
}

func (o opaqueSigner) Public() crypto.PublicKey { return o.key.Public() }

func (o opaqueSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if o.fail != nil {
		return nil, o.fail
	}
	if o.sig != nil {
		return o.sig, nil
	}
	return o.key.Sign(r, digest, opts)
}
