package sign_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/sign"
	"github.com/pkjwt/pkjwt/verify"
)

const (
	issuer   = "https://as.example.com"
	clientID = "client-1"
)

var keyNames = []string{testkeys.RSA2048, testkeys.P256, testkeys.P384, testkeys.P521, testkeys.Ed25519}

// TestAlgKeyMatrix signs with every key under every alg: the pairs that
// fit verify under pkjwt's verifier, the others are refused by NewSigner.
func TestAlgKeyMatrix(t *testing.T) {
	for _, name := range keyNames {
		key := testkeys.Signer(name)
		for _, alg := range verify.DefaultAlgorithms() {
			t.Run(name+"/"+alg, func(t *testing.T) {
				fits := verify.CheckKey(key.Public(), alg, 2048) == nil
				for _, k := range []crypto.Signer{key, opaqueSigner{key: key}} {
					s, err := sign.NewSigner(clientID, k, issuer, &sign.Config{Algorithm: alg})
					if !fits {
						if !errors.Is(err, sign.ErrUnsuitableKey) {
							t.Fatalf("NewSigner = %v, want ErrUnsuitableKey", err)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					a, err := s.Assertion(context.Background())
					if err != nil {
						t.Fatal(err)
					}
					v := newVerifier(t, issuer, clientID, verify.Config{}, verify.Key{ID: s.KeyID(), Public: key.Public()})
					res, err := verifyAssertion(v, a)
					if err != nil {
						t.Fatalf("%T: pkjwt rejects the assertion: %v", k, err)
					}
					if res.Algorithm != alg || res.KeyID != s.KeyID() {
						t.Errorf("verified alg %s kid %s", res.Algorithm, res.KeyID)
					}
				}
			})
		}
	}
}

func TestDefaultAlg(t *testing.T) {
	for _, name := range keyNames {
		s, err := sign.NewSigner(clientID, testkeys.Signer(name), issuer, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := s.Algorithm(), testkeys.Alg(name); got != want {
			t.Errorf("%s: alg %s, want %s", name, got, want)
		}
	}
}

// TestPSSSaltLength checks the PS256 signature with the salt length fixed
// to the hash's, as golang-jwt and most verifiers expect.
func TestPSSSaltLength(t *testing.T) {
	key := testkeys.Signer(testkeys.RSA2048)
	s, err := sign.NewSigner(clientID, opaqueSigner{key: key}, issuer, &sign.Config{Algorithm: "PS256"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Assertion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndexByte(a, '.')
	sig, err := base64.RawURLEncoding.DecodeString(a[i+1:])
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte(a[:i]))
	if err := rsa.VerifyPSS(key.Public().(*rsa.PublicKey), crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: sha256.Size}); err != nil {
		t.Errorf("salt length is not the hash length: %v", err)
	}
}

func TestClaims(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s, err := sign.NewSigner(clientID, testkeys.Signer(testkeys.P256), issuer, &sign.Config{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Assertion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h, c := decode(t, a)
	kid, err := sign.Thumbprint(testkeys.Public(testkeys.P256))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"alg": "ES256", "kid": kid, "typ": "JWT"}, h); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	jti, _ := c["jti"].(string)
	if b, err := base64.RawURLEncoding.DecodeString(jti); err != nil || len(b) != 16 {
		t.Errorf("jti %q is not 128 bits base64url", jti)
	}
	delete(c, "jti")
	want := map[string]any{
		"iss": clientID, "sub": clientID, "aud": issuer,
		"iat": float64(now.Unix()), "exp": float64(now.Add(60 * time.Second).Unix()),
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
}

// TestOptions sets each Config field and checks its effect in the decoded
// assertion.
func TestOptions(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	for _, tc := range []struct {
		name       string
		cfg        sign.Config
		header     map[string]any // members expected (nil value: absent)
		claims     map[string]any
		verifyWith *verify.Config // nil: default policy
		rejected   error
	}{
		{name: "KeyID", cfg: sign.Config{KeyID: "my-kid"}, header: map[string]any{"kid": "my-kid"}},
		{name: "OmitKeyID", cfg: sign.Config{OmitKeyID: true}, header: map[string]any{"kid": nil}},
		{name: "Type", cfg: sign.Config{Type: "client-authentication+jwt"}, header: map[string]any{"typ": "client-authentication+jwt"}},
		{name: "OmitType", cfg: sign.Config{OmitType: true}, header: map[string]any{"typ": nil}},
		{name: "Lifetime", cfg: sign.Config{Lifetime: 5 * time.Minute}, claims: map[string]any{"exp": float64(now.Add(5 * time.Minute).Unix())}},
		{name: "MaxLifetime", cfg: sign.Config{Lifetime: sign.MaxLifetime}, claims: map[string]any{"exp": float64(now.Add(10 * time.Minute).Unix())}},
		{
			name: "AudienceArray", cfg: sign.Config{AudienceArray: true},
			claims: map[string]any{"aud": []any{issuer}},
		},
		{
			name: "AudienceArray strict", cfg: sign.Config{AudienceArray: true},
			verifyWith: &verify.Config{Audience: verify.AudienceStrict}, rejected: verify.ErrAudience,
		},
		{
			name: "Audience token URL", cfg: sign.Config{Audience: []string{issuer + "/token"}},
			claims: map[string]any{"aud": issuer + "/token"}, rejected: verify.ErrAudience,
		},
		{
			name: "Audience token URL legacy", cfg: sign.Config{Audience: []string{issuer + "/token"}},
			verifyWith: &verify.Config{Audience: verify.AudienceLegacy, Endpoints: []string{issuer + "/token"}},
		},
		{
			name: "Audience several", cfg: sign.Config{Audience: []string{issuer, issuer + "/token"}},
			claims: map[string]any{"aud": []any{issuer, issuer + "/token"}}, rejected: verify.ErrAudience,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Now = clock
			key := testkeys.Signer(testkeys.Ed25519)
			s, err := sign.NewSigner(clientID, key, issuer, &tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			a, err := s.Assertion(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			h, c := decode(t, a)
			for k, want := range tc.header {
				if got, ok := h[k]; want == nil && ok || want != nil && !cmp.Equal(got, want) {
					t.Errorf("header %s = %v, want %v", k, got, want)
				}
			}
			for k, want := range tc.claims {
				if !cmp.Equal(c[k], want) {
					t.Errorf("claim %s = %v, want %v", k, c[k], want)
				}
			}
			vcfg := verify.Config{Now: clock}
			if tc.verifyWith != nil {
				vcfg = *tc.verifyWith
				vcfg.Now = clock
			}
			v := newVerifier(t, issuer, clientID, vcfg, verify.Key{ID: s.KeyID(), Public: key.Public()})
			_, err = verifyAssertion(v, a)
			if tc.rejected == nil && err != nil || tc.rejected != nil && !errors.Is(err, tc.rejected) {
				t.Errorf("verify = %v, want %v", err, tc.rejected)
			}
		})
	}
}

func TestNewSignerErrors(t *testing.T) {
	p256 := testkeys.Signer(testkeys.P256)
	for _, tc := range []struct {
		name     string
		clientID string
		key      crypto.Signer
		issuer   string
		cfg      sign.Config
		want     error
	}{
		{"empty client_id", "", p256, issuer, sign.Config{}, sign.ErrInvalidConfig},
		{"invalid UTF-8 client_id", "c\xff", p256, issuer, sign.Config{}, sign.ErrInvalidConfig},
		{"empty issuer", clientID, p256, "", sign.Config{}, sign.ErrInvalidConfig},
		{"invalid UTF-8 issuer", clientID, p256, "https://\xff", sign.Config{}, sign.ErrInvalidConfig},
		{"nil key", clientID, nil, issuer, sign.Config{}, sign.ErrUnsuitableKey},
		{"negative lifetime", clientID, p256, issuer, sign.Config{Lifetime: -time.Second}, sign.ErrInvalidConfig},
		{"lifetime too long", clientID, p256, issuer, sign.Config{Lifetime: sign.MaxLifetime + time.Second}, sign.ErrInvalidConfig},
		{"KeyID and OmitKeyID", clientID, p256, issuer, sign.Config{KeyID: "k", OmitKeyID: true}, sign.ErrInvalidConfig},
		{"Type and OmitType", clientID, p256, issuer, sign.Config{Type: "JWT", OmitType: true}, sign.ErrInvalidConfig},
		{"empty Audience value", clientID, p256, issuer, sign.Config{Audience: []string{issuer, ""}}, sign.ErrInvalidConfig},
		{"RSA 1024", clientID, testkeys.Signer(testkeys.RSA1024), issuer, sign.Config{}, sign.ErrUnsuitableKey},
		{"HS256", clientID, testkeys.Signer(testkeys.RSA2048), issuer, sign.Config{Algorithm: "HS256"}, sign.ErrUnsuitableKey},
		{"none", clientID, p256, issuer, sign.Config{Algorithm: "none"}, sign.ErrUnsuitableKey},
		{"ES384 with P-256", clientID, p256, issuer, sign.Config{Algorithm: "ES384"}, sign.ErrUnsuitableKey},
		{"RS256 with Ed25519", clientID, testkeys.Signer(testkeys.Ed25519), issuer, sign.Config{Algorithm: "RS256"}, sign.ErrUnsuitableKey},
		{"lower-case alg", clientID, p256, issuer, sign.Config{Algorithm: "es256"}, sign.ErrUnsuitableKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sign.NewSigner(tc.clientID, tc.key, tc.issuer, &tc.cfg)
			if !errors.Is(err, tc.want) {
				t.Errorf("NewSigner = %v, want %v", err, tc.want)
			}
		})
	}
	// An Audience stands in for an empty issuer.
	if _, err := sign.NewSigner(clientID, p256, "", &sign.Config{Audience: []string{issuer + "/token"}}); err != nil {
		t.Errorf("Audience without issuer: %v", err)
	}
}

func TestSignerFailures(t *testing.T) {
	key := testkeys.Signer(testkeys.P256)
	kms := errors.New("kms: throttled")
	for _, tc := range []struct {
		name   string
		signer opaqueSigner
		want   error
	}{
		{"signer error", opaqueSigner{key: key, fail: kms}, kms},
		{"not DER", opaqueSigner{key: key, sig: make([]byte, 64)}, sign.ErrSign},
		{"DER with trailing bytes", opaqueSigner{key: key, sig: []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00}}, sign.ErrSign},
		{"r too large", opaqueSigner{key: key, sig: derSig(new(big.Int).Lsh(big.NewInt(1), 300), big.NewInt(1))}, sign.ErrSign},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sign.NewSigner(clientID, tc.signer, issuer, nil)
			if err != nil {
				t.Fatal(err)
			}
			a, err := s.Assertion(context.Background())
			if !errors.Is(err, tc.want) || !errors.Is(err, sign.ErrSign) || a != "" {
				t.Errorf("Assertion = %q, %v; want %v", a, err, tc.want)
			}
		})
	}
	// An RSA signer returning a short signature.
	rsaKey := testkeys.Signer(testkeys.RSA2048)
	s, err := sign.NewSigner(clientID, opaqueSigner{key: rsaKey, sig: make([]byte, 10)}, issuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Assertion(context.Background()); !errors.Is(err, sign.ErrSign) {
		t.Errorf("short RSA signature: %v, want ErrSign", err)
	}
	// A cancelled context stops before signing.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Assertion(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// derSig encodes r and s as an ASN.1 DER ECDSA signature.
func derSig(r, s *big.Int) []byte {
	enc := func(n *big.Int) []byte {
		b := n.Bytes()
		if b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return append([]byte{0x02, byte(len(b))}, b...)
	}
	body := append(enc(r), enc(s)...)
	return append([]byte{0x30, byte(len(body))}, body...)
}

func TestSign(t *testing.T) {
	key := testkeys.Signer(testkeys.P384)
	s, err := sign.NewSigner(clientID, key, issuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Sign(context.Background(), map[string]any{"iss": "x", "custom": 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, c := decode(t, tok); !cmp.Equal(c, map[string]any{"iss": "x", "custom": float64(1)}) {
		t.Errorf("claims %v: Sign must add nothing", c)
	}
	for _, bad := range []any{"a string", []int{1}, nil, func() {}} {
		if _, err := s.Sign(context.Background(), bad); !errors.Is(err, sign.ErrInvalidConfig) {
			t.Errorf("Sign(%T) = %v, want ErrInvalidConfig", bad, err)
		}
	}
}

// TestJTIUnique mints assertions from many goroutines at once: every jti
// differs.
func TestJTIUnique(t *testing.T) {
	s, err := sign.NewSigner(clientID, testkeys.Signer(testkeys.Ed25519), issuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 16, 250
	jtis := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range each {
				a, err := s.Assertion(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				_, c := decode(t, a)
				jtis[w] = append(jtis[w], c["jti"].(string))
			}
		})
	}
	wg.Wait()
	all := slices.Concat(jtis...)
	slices.Sort(all)
	if len(all) != workers*each || len(slices.Compact(all)) != workers*each {
		t.Errorf("%d assertions, %d distinct jti", workers*each, len(slices.Compact(all)))
	}
}

// TestThumbprint checks the example of RFC 7638 §3.1.
func TestThumbprint(t *testing.T) {
	n, err := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	if err != nil {
		t.Fatal(err)
	}
	got, err := sign.Thumbprint(&rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537})
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Errorf("Thumbprint = %s, want %s", got, want)
	}
	// A private key gives its public half's thumbprint.
	for _, name := range keyNames {
		a, err1 := sign.Thumbprint(testkeys.Signer(name))
		b, err2 := sign.Thumbprint(testkeys.Public(name))
		if err1 != nil || err2 != nil || a != b {
			t.Errorf("%s: %s %v, %s %v", name, a, err1, b, err2)
		}
	}
	if _, err := sign.Thumbprint([]byte("secret")); !errors.Is(err, sign.ErrUnsuitableKey) {
		t.Errorf("symmetric key: %v", err)
	}
}
