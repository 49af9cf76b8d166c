package main

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"

	"github.com/pkjwt/pkjwt/internal/jose"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

// decodeJWT returns the header and claims of a compact JWT, unverified.
func decodeJWT(t *testing.T, tok string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(strings.TrimSpace(tok), ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWT: %q", tok)
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

// verifyWith verifies tok for client clientID of the issuer aud, whose only
// key is pub (with kid), as a server would.
func verifyWith(t *testing.T, pub crypto.PublicKey, kid, clientID, aud, tok string) (*verify.Result, error) {
	t.Helper()
	keys, err := verify.NewKeySet(verify.Key{ID: kid, Public: pub})
	if err != nil {
		t.Fatal(err)
	}
	store, err := replay.NewMemory(replay.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	v, err := verify.New(aud, verify.ClientMap{clientID: {ID: clientID, Keys: keys}}, store, verify.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return v.Verify(context.Background(), verify.Request{AssertionType: verify.AssertionType, Assertion: strings.TrimSpace(tok)})
}

// readJWKS parses a JWK Set document into its public keys, failing the
// test on any private member.
func readJWKS(t *testing.T, b []byte) []jwkset.JWKMarshal {
	t.Helper()
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("JWKS: %v\n%s", err, b)
	}
	for _, k := range raw.Keys {
		for m := range k {
			if _, ok := jose.PrivateMember(m); ok {
				t.Fatalf("JWKS holds private member %q: %s", m, b)
			}
		}
	}
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	return set.Keys
}

// publicKeyOf returns the key of a public JWK.
func publicKeyOf(t *testing.T, m jwkset.JWKMarshal) crypto.PublicKey {
	t.Helper()
	j, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return j.Key()
}

// writeFile writes data to name in dir and returns its path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// numeric returns a JSON number claim as a time.
func numeric(t *testing.T, v any) time.Time {
	t.Helper()
	f, ok := v.(float64)
	if !ok {
		t.Fatalf("claim %v is not a number", v)
	}
	return time.Unix(int64(f), 0)
}
