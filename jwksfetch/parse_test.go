package jwksfetch

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pkjwt/pkjwt/internal/jose"
	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/verify"
)

// TestParseJWK checks each JWK on its own: which are usable, as what, and
// why the others are not.
func TestParseJWK(t *testing.T) {
	rsaJWK := pubJWK(testkeys.RSA2048, "r")
	p256 := pubJWK(testkeys.P256, "e")
	tests := []struct {
		name    string
		jwk     any
		wantAlg string // Key.Algorithm of a usable key
		wantErr error  // sentinel of the KeyError, nil if usable
	}{
		{"RSA without alg", rsaJWK, "", nil},
		{"RSA RS256", with(rsaJWK, "alg", "RS256"), "RS256", nil},
		{"RSA PS512", with(rsaJWK, "alg", "PS512"), "PS512", nil},
		{"RSA use sig", with(rsaJWK, "use", "sig"), "", nil},
		{"RSA key_ops verify", with(rsaJWK, "key_ops", []string{"verify"}), "", nil},
		{"P-256", with(p256, "alg", "ES256"), "ES256", nil},
		{"P-384", testkeys.JWK(testkeys.Signer(testkeys.P384), "e", "ES384", "sig"), "ES384", nil},
		{"P-521", testkeys.JWK(testkeys.Signer(testkeys.P521), "e", "", ""), "", nil},
		{"Ed25519", testkeys.JWK(testkeys.Signer(testkeys.Ed25519), "o", "EdDSA", ""), "EdDSA", nil},
		{"Ed25519, alg Ed25519 (RFC 9864)", testkeys.JWK(testkeys.Signer(testkeys.Ed25519), "o", "Ed25519", "sig"), "Ed25519", nil},
		{"alg Ed25519 on P-256", with(p256, "alg", "Ed25519"), "", ErrUnusableKey},
		{"alg ed25519 in lower case", testkeys.JWK(testkeys.Signer(testkeys.Ed25519), "o", "ed25519", ""), "", ErrUnusableKey},
		{"x5t ignored", with(rsaJWK, "x5t", "abc"), "", nil},

		{"RSA private", testkeys.PrivateJWK(testkeys.RSA2048, "r", ""), "", ErrPrivateKey},
		{"RSA private, d only", with(rsaJWK, "d", "AQAB"), "", ErrPrivateKey},
		{"EC private", testkeys.PrivateJWK(testkeys.P256, "e", "ES256"), "", ErrPrivateKey},
		{"Ed25519 private", testkeys.PrivateJWK(testkeys.Ed25519, "o", ""), "", ErrPrivateKey},
		{"private member upper case", with(rsaJWK, "D", "AQAB"), "", ErrPrivateKey},
		{"private member null", with(p256, "d", json.RawMessage("null")), "", ErrPrivateKey},
		{"oth", with(rsaJWK, "oth", []any{}), "", ErrPrivateKey},
		{"oct", map[string]any{"kty": "oct", "kid": "s", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}, "", ErrSymmetricKey},
		{"oct without k", map[string]any{"kty": "oct", "kid": "s"}, "", ErrSymmetricKey},
		{"k on an RSA key", with(rsaJWK, "k", "AQAB"), "", ErrSymmetricKey},

		{"use enc", with(rsaJWK, "use", "enc"), "", ErrUnusableKey},
		{"use null", with(rsaJWK, "use", json.RawMessage("null")), "", ErrUnusableKey},
		{"use not a string", with(rsaJWK, "use", 1), "", ErrUnusableKey},
		{"key_ops encrypt", with(rsaJWK, "key_ops", []string{"encrypt"}), "", ErrUnusableKey},
		{"key_ops empty", with(rsaJWK, "key_ops", []string{}), "", ErrUnusableKey},
		{"RSA 1024", pubJWK(testkeys.RSA1024, "small"), "", ErrUnusableKey},
		{"RSA 1024 RS256", testkeys.JWK(testkeys.Signer(testkeys.RSA1024), "small", "RS256", "sig"), "", ErrUnusableKey},
		{"alg of another type", with(rsaJWK, "alg", "ES256"), "", ErrUnusableKey},
		{"alg of another curve", with(p256, "alg", "ES384"), "", ErrUnusableKey},
		{"alg HS256 on RSA", with(rsaJWK, "alg", "HS256"), "", ErrUnusableKey},
		{"alg none", with(rsaJWK, "alg", "none"), "", ErrUnusableKey},
		{"alg lower case", with(rsaJWK, "alg", "rs256"), "", ErrUnusableKey},
		{"alg RSA-OAEP", with(rsaJWK, "alg", "RSA-OAEP"), "", ErrUnusableKey},
		{"alg empty", with(rsaJWK, "alg", ""), "", ErrUnusableKey},
		{"X25519", map[string]any{"kty": "OKP", "crv": "X25519", "kid": "x", "x": strings.Repeat("A", 43)}, "", ErrUnusableKey},
		{"Ed448", map[string]any{"kty": "OKP", "crv": "Ed448", "kid": "x", "x": strings.Repeat("A", 76)}, "", ErrUnusableKey},
		{"secp256k1", with(p256, "crv", "secp256k1"), "", ErrUnusableKey},
		{"unknown kty", map[string]any{"kty": "PQC", "kid": "p"}, "", ErrUnusableKey},
		{"no kty", with(rsaJWK, "kty", nil), "", ErrUnusableKey},
		{"kty lower case", with(rsaJWK, "kty", "rsa"), "", ErrUnusableKey},
		{"kty case variant", with(with(rsaJWK, "kty", nil), "KTY", "RSA"), "", ErrUnusableKey},
		{"kid case variant", with(rsaJWK, "KID", "other"), "", ErrUnusableKey},
		{"kid not a string", with(rsaJWK, "kid", 7), "", ErrUnusableKey},
		{"n not base64url", with(rsaJWK, "n", "!!!"), "", ErrUnusableKey},
		{"e zero", with(rsaJWK, "e", "AA"), "", ErrUnusableKey},
		{"EC point off the curve", with(p256, "y", p256["x"]), "", ErrUnusableKey},
		{"EC without y", with(p256, "y", nil), "", ErrUnusableKey},
		{"Ed25519 short", map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "o", "x": "AAAA"}, "", ErrUnusableKey},
		{"x5c garbage", with(rsaJWK, "x5c", []string{"bm90IGEgY2VydA"}), "", ErrUnusableKey},
		{"x5u http", with(rsaJWK, "x5u", "http://x5u.example/cert.pem"), "", ErrUnusableKey},
		{"not an object", []int{1}, "", ErrUnusableKey},
		{"null", nil, "", ErrUnusableKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := json.Marshal(tt.jwk)
			if err != nil {
				t.Fatal(err)
			}
			k, kerr := parseJWK(3, raw)
			if tt.wantErr == nil {
				if kerr != nil {
					t.Fatalf("parseJWK: %v, want a usable key", kerr)
				}
				if k.Algorithm != tt.wantAlg {
					t.Errorf("Algorithm = %q, want %q", k.Algorithm, tt.wantAlg)
				}
				if err := verify.CheckKey(k.Public, naturalAlg(t, k), jose.MinRSABits); err != nil {
					t.Errorf("CheckKey: %v", err)
				}
				return
			}
			if kerr == nil {
				t.Fatalf("parseJWK = %+v, want an error wrapping %v", k, tt.wantErr)
			}
			if !errors.Is(kerr, tt.wantErr) {
				t.Errorf("parseJWK error %q does not wrap %q", kerr, tt.wantErr)
			}
			if kerr.Index != 3 || !strings.HasPrefix(kerr.Error(), "key 3 (kid ") {
				t.Errorf("error %q: want it to name key 3", kerr)
			}
			for _, secret := range []string{"c2VjcmV0", b64Of(testkeys.PrivateJWK(testkeys.RSA2048, "", "")["d"])} {
				if strings.Contains(kerr.Error(), secret) {
					t.Errorf("error %q contains key material", kerr)
				}
			}
		})
	}
}

func b64Of(v any) string { s, _ := v.(string); return s[:16] }

// naturalAlg returns the alg a usable key verifies.
func naturalAlg(t *testing.T, k verify.Key) string {
	t.Helper()
	if k.Algorithm != "" {
		return k.Algorithm
	}
	switch p := k.Public.(type) {
	case *rsa.PublicKey:
		return "RS256"
	case *ecdsa.PublicKey:
		return map[int]string{256: "ES256", 384: "ES384", 521: "ES512"}[p.Curve.Params().BitSize]
	case ed25519.PublicKey:
		return "EdDSA"
	}
	t.Fatalf("key of type %T", k.Public)
	return ""
}

func TestParseJWKSOrderAndDuplicates(t *testing.T) {
	doc := jwks(
		with(pubJWK(testkeys.RSA2048, "dup"), "use", "enc"), // unusable: does not count
		pubJWK(testkeys.P256, "dup"),                        // first usable "dup": wins
		pubJWK(testkeys.RSA2048Alt, "dup"),                  // duplicate
		pubJWK(testkeys.Ed25519, ""),                        // no kid: kept
		pubJWK(testkeys.Ed25519Alt, ""),                     // no kid: kept
		testkeys.PrivateJWK(testkeys.P384, "priv", ""),
	)
	keys, skipped, err := parseJWKS(doc)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(keys))
	for i, k := range keys {
		got[i] = k.ID + "/" + naturalAlg(t, k)
	}
	if diff := cmp.Diff([]string{"dup/ES256", "/EdDSA", "/EdDSA"}, got); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	var gotSkipped []string
	for _, ke := range skipped {
		gotSkipped = append(gotSkipped, ke.Error())
	}
	want := []string{
		`key 0 (kid "dup"): unusable key: use "enc" is not "sig"`,
		`key 2 (kid "dup"): duplicate kid`,
		`key 5 (kid "priv"): private key material: member "d"`,
	}
	if diff := cmp.Diff(want, gotSkipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	if !errors.Is(skipped[1], ErrDuplicateKID) {
		t.Errorf("%v does not wrap ErrDuplicateKID", skipped[1])
	}

	// An assertion without kid finds no single Ed25519 key; with kid "dup"
	// it gets the P-256 key.
	if _, err := verify.SelectKey(keys, "", "EdDSA"); !errors.Is(err, verify.ErrKeyIDRequired) {
		t.Errorf("SelectKey without kid: %v, want ErrKeyIDRequired", err)
	}
	if k, err := verify.SelectKey(keys, "dup", "ES256"); err != nil || k.Public.(*ecdsa.PublicKey) == nil {
		t.Errorf("SelectKey dup: %v", err)
	}
}

func TestParseJWKSDocument(t *testing.T) {
	for _, tt := range []struct {
		doc      string
		wantKeys int
		wantErr  bool
	}{
		{`{"keys":[]}`, 0, false},
		{string(jwks(pubJWK(testkeys.P256, "a"))), 1, false},
		{`{"keys":[], "other": 1}`, 0, false},
		{``, 0, true},
		{`{`, 0, true},
		{`[]`, 0, true},
		{`null`, 0, true},
		{`{}`, 0, true},
		{`{"keys":null}`, 0, true},
		{`{"keys":{}}`, 0, true},
		{`{"keys":"x"}`, 0, true},
		{`{"keys":[]} trailing`, 0, true},
		{`<html>down for maintenance</html>`, 0, true},
		{`{"KEYS":[]}`, 0, true},
	} {
		keys, _, err := parseJWKS([]byte(tt.doc))
		switch {
		case tt.wantErr && !errors.Is(err, ErrNotJWKS):
			t.Errorf("parseJWKS(%q): err %v, want ErrNotJWKS", tt.doc, err)
		case !tt.wantErr && err != nil:
			t.Errorf("parseJWKS(%q): %v", tt.doc, err)
		case len(keys) != tt.wantKeys:
			t.Errorf("parseJWKS(%q): %d keys, want %d", tt.doc, len(keys), tt.wantKeys)
		}
	}
}

func TestNewInline(t *testing.T) {
	good := pubJWK(testkeys.RSA2048, "good")
	tests := []struct {
		name     string
		doc      []byte
		cfg      InlineConfig
		wantKIDs []string
		wantErr  []error  // each must be wrapped
		wantText []string // each must appear in the error
	}{
		{"valid", jwks(good, pubJWK(testkeys.P256, "ec"), pubJWK(testkeys.Ed25519, "")), InlineConfig{}, []string{"good", "ec", ""}, nil, nil},
		{"private RSA", jwks(good, testkeys.PrivateJWK(testkeys.RSA2048Alt, "leaked", "RS256")), InlineConfig{}, nil,
			[]error{ErrPrivateKey}, []string{`key 1 (kid "leaked"): private key material`}},
		{"oct", jwks(good, map[string]any{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}), InlineConfig{}, nil,
			[]error{ErrSymmetricKey}, []string{`kid "hmac"`, "symmetric key"}},
		{"use enc", jwks(good, with(pubJWK(testkeys.RSA2048Alt, "enc1"), "use", "enc")), InlineConfig{}, nil,
			[]error{ErrUnusableKey}, []string{`kid "enc1"`, `use "enc"`}},
		{"RSA 1024", jwks(good, pubJWK(testkeys.RSA1024, "weak")), InlineConfig{}, nil,
			[]error{ErrUnusableKey}, []string{`kid "weak"`, "1024 bits"}},
		{"duplicate kid", jwks(good, pubJWK(testkeys.P256, "good")), InlineConfig{}, nil,
			[]error{ErrDuplicateKID}, []string{`key 1 (kid "good"): duplicate kid`}},
		{"several offenders", jwks(testkeys.PrivateJWK(testkeys.P256, "p", ""), good, pubJWK(testkeys.RSA1024, "weak")), InlineConfig{}, nil,
			[]error{ErrPrivateKey, ErrUnusableKey}, []string{`kid "p"`, `kid "weak"`}},
		{"skip unusable", jwks(good, with(pubJWK(testkeys.RSA2048Alt, "enc1"), "use", "enc"), pubJWK(testkeys.P256, "good")), InlineConfig{SkipUnusable: true}, []string{"good"}, nil, nil},
		{"skip unusable keeps refusing private keys", jwks(good, testkeys.PrivateJWK(testkeys.P256, "p", "")), InlineConfig{SkipUnusable: true}, nil,
			[]error{ErrPrivateKey}, []string{`kid "p"`}},
		{"no keys", jwks(), InlineConfig{}, nil, []error{ErrNotJWKS}, []string{"no usable key"}},
		{"no usable keys", jwks(with(good, "use", "enc")), InlineConfig{SkipUnusable: true}, nil, []error{ErrNotJWKS}, nil},
		{"not JSON", []byte("kid: k1"), InlineConfig{}, nil, []error{ErrNotJWKS}, nil},
		{"a single JWK", mustJSON(t, good), InlineConfig{}, nil, []error{ErrNotJWKS}, []string{`no "keys" array`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := NewInline(tt.doc, tt.cfg)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("NewInline: %v", err)
				}
				var kids []string
				for _, k := range set.Keys() {
					kids = append(kids, k.ID)
				}
				if diff := cmp.Diff(tt.wantKIDs, kids); diff != "" {
					t.Errorf("kids (-want +got):\n%s", diff)
				}
				return
			}
			if err == nil {
				t.Fatal("NewInline succeeded, want an error")
			}
			for _, w := range tt.wantErr {
				if !errors.Is(err, w) {
					t.Errorf("error %q does not wrap %q", err, w)
				}
			}
			for _, w := range tt.wantText {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "jwksfetch: inline jwks: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			var ke *KeyError
			if errors.Is(err, ErrPrivateKey) && !errors.As(err, &ke) {
				t.Errorf("error %q holds no *KeyError", err)
			}
		})
	}
}

func TestNewInlineSelects(t *testing.T) {
	set, err := NewInline(jwks(pubJWK(testkeys.RSA2048, "r"), with(pubJWK(testkeys.P256, "e"), "alg", "ES256")), InlineConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		kid, alg string
		want     error
	}{
		{"r", "RS256", nil},
		{"r", "PS256", nil},
		{"e", "ES256", nil},
		{"", "ES256", nil},
		{"", "RS256", nil},
		{"r", "ES256", verify.ErrKeyNotFound},
		{"x", "RS256", verify.ErrKeyNotFound},
		{"", "EdDSA", verify.ErrKeyNotFound},
	} {
		_, err := set.Key(bg, tt.kid, tt.alg)
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("Key(%q, %q) = %v, want %v", tt.kid, tt.alg, err, tt.want)
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzParseJWKS checks that no document makes the parser panic or yield a
// key the verifier would refuse, a private key, or a duplicate kid.
func FuzzParseJWKS(f *testing.F) {
	f.Add(jwks(pubJWK(testkeys.RSA2048, "r"), pubJWK(testkeys.P256, "e"), pubJWK(testkeys.Ed25519, "")))
	f.Add(jwks(testkeys.PrivateJWK(testkeys.P256, "p", "ES256"), with(pubJWK(testkeys.P384, "x"), "alg", "ES384", "use", "sig")))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"AAAA"},{"kty":"EC","crv":"P-256","x":"","y":""}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","alg":"RS256","key_ops":["verify"]}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		keys, skipped, err := parseJWKS(doc)
		if err != nil {
			if keys != nil || skipped != nil {
				t.Fatal("keys or skipped with an error")
			}
			return
		}
		seen := map[string]bool{}
		for _, k := range keys {
			switch k.Public.(type) {
			case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
			default:
				t.Fatalf("key of type %T", k.Public)
			}
			if err := verify.CheckKey(k.Public, naturalAlg(t, k), jose.MinRSABits); err != nil {
				t.Fatalf("unusable key %q: %v", k.ID, err)
			}
			if k.ID != "" && seen[k.ID] {
				t.Fatalf("duplicate kid %q", k.ID)
			}
			seen[k.ID] = true
		}
		for _, ke := range skipped {
			if ke.Err == nil || ke.Error() == "" {
				t.Fatal("empty KeyError")
			}
		}
	})
}
