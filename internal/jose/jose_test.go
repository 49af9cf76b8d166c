package jose_test

import (
	"crypto"
	"crypto/ecdsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"testing"

	"github.com/pkjwt/pkjwt/internal/jose"
	"github.com/pkjwt/pkjwt/internal/testkeys"
)

// keyFor names a test key that fits each asymmetric alg.
var keyFor = map[string]string{
	"RS256": testkeys.RSA2048, "RS384": testkeys.RSA2048, "RS512": testkeys.RSA2048,
	"PS256": testkeys.RSA2048, "PS384": testkeys.RSA2048, "PS512": testkeys.RSA2048,
	"ES256": testkeys.P256, "ES384": testkeys.P384, "ES512": testkeys.P521,
	"EdDSA": testkeys.Ed25519, "Ed25519": testkeys.Ed25519,
}

func TestSignVerify(t *testing.T) {
	signing := []byte("eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJjMSJ9")
	for _, name := range jose.Asymmetric() {
		t.Run(name, func(t *testing.T) {
			a := jose.Lookup(name)
			key := keyFor[name]
			if key == "" {
				t.Fatalf("no test key for %s", name)
			}
			sig, err := a.Sign(testkeys.Signer(key), signing)
			if err != nil {
				t.Fatal(err)
			}
			pub := testkeys.Public(key)
			if err := a.FitKey(pub); err != nil {
				t.Fatalf("FitKey: %v", err)
			}
			if err := a.Verify(pub, signing, sig); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			// Another input, a flipped bit, another key of the same type.
			if err := a.Verify(pub, append(signing, 'x'), sig); !errors.Is(err, jose.ErrSignature) {
				t.Errorf("other input: %v", err)
			}
			bad := append([]byte(nil), sig...)
			bad[len(bad)/2] ^= 1
			if err := a.Verify(pub, signing, bad); !errors.Is(err, jose.ErrSignature) {
				t.Errorf("flipped bit: %v", err)
			}
			if err := a.Verify(pub, signing, sig[:len(sig)-1]); err == nil {
				t.Error("truncated signature verifies")
			}
			other := map[string]string{testkeys.RSA2048: testkeys.RSA2048Alt, testkeys.P256: testkeys.P256Alt, testkeys.Ed25519: testkeys.Ed25519Alt}[key]
			if other != "" {
				if err := a.Verify(testkeys.Public(other), signing, sig); !errors.Is(err, jose.ErrSignature) {
					t.Errorf("another key: %v", err)
				}
			}
			// A key of another type or curve never fits nor verifies.
			for _, k := range []string{testkeys.RSA2048, testkeys.P256, testkeys.P384, testkeys.P521, testkeys.Ed25519} {
				if keyFor[name] == k {
					continue
				}
				if a.FitKey(testkeys.Public(k)) == nil || a.Verify(testkeys.Public(k), signing, sig) == nil {
					t.Errorf("%s key accepted for %s", k, name)
				}
			}
		})
	}
}

// TestEd25519Names: RFC 9864's Ed25519 and RFC 8037's EdDSA name the same
// signature over Ed25519.
func TestEd25519Names(t *testing.T) {
	signing := []byte("a.b")
	sig, err := jose.Lookup("EdDSA").Sign(testkeys.Signer(testkeys.Ed25519), signing)
	if err != nil {
		t.Fatal(err)
	}
	if err := jose.Lookup("Ed25519").Verify(testkeys.Public(testkeys.Ed25519), signing, sig); err != nil {
		t.Error(err)
	}
	for _, name := range []string{"ed25519", "ED25519", "Ed448", "eddsa", "none", "None", "", "HS256 "} {
		if jose.Lookup(name) != nil {
			t.Errorf("Lookup(%q) found an alg", name)
		}
	}
}

// cannedSigner hides the concrete key type, as a KMS client does, and
// returns sig (or err) instead of signing.
type cannedSigner struct {
	key crypto.Signer
	sig []byte
	err error
}

func (c cannedSigner) Public() crypto.PublicKey { return c.key.Public() }

func (c cannedSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return c.sig, c.err
}

// der encodes r and s as an ASN.1 DER ECDSA signature.
func der(t *testing.T, r, s *big.Int) []byte {
	t.Helper()
	b, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSignRefusesMalformed: what a faulty crypto.Signer returns never
// becomes a JWS signature.
func TestSignRefusesMalformed(t *testing.T) {
	one := big.NewInt(1)
	n256 := testkeys.Public(testkeys.P256).(*ecdsa.PublicKey).Curve.Params().N
	n521 := testkeys.Public(testkeys.P521).(*ecdsa.PublicKey).Curve.Params().N
	kms := errors.New("kms: throttled")
	for _, tc := range []struct {
		name, alg, key string
		sig            func(*testing.T) []byte
		err            error
		ok             bool
	}{
		{name: "signer error", alg: "ES256", key: testkeys.P256, err: kms},
		{name: "not DER", alg: "ES256", key: testkeys.P256, sig: func(*testing.T) []byte { return make([]byte, 64) }},
		{name: "DER with trailing bytes", alg: "ES256", key: testkeys.P256, sig: func(t *testing.T) []byte { return append(der(t, one, one), 0) }},
		{name: "r zero", alg: "ES256", key: testkeys.P256, sig: func(t *testing.T) []byte { return der(t, new(big.Int), one) }},
		{name: "s negative", alg: "ES256", key: testkeys.P256, sig: func(t *testing.T) []byte { return der(t, one, big.NewInt(-1)) }},
		{name: "r = N", alg: "ES256", key: testkeys.P256, sig: func(t *testing.T) []byte { return der(t, n256, one) }},
		{name: "s of 300 bits", alg: "ES256", key: testkeys.P256, sig: func(t *testing.T) []byte { return der(t, one, new(big.Int).Lsh(one, 299)) }},
		// 522 bits fit the 66 bytes of a P-521 value but exceed the order.
		{name: "P-521 r of 522 bits", alg: "ES512", key: testkeys.P521, sig: func(t *testing.T) []byte { return der(t, new(big.Int).Lsh(one, 521), one) }},
		{name: "r = N-1, s = 1", alg: "ES256", key: testkeys.P256, sig: func(t *testing.T) []byte { return der(t, new(big.Int).Sub(n256, one), one) }, ok: true},
		{name: "P-521 r = N-1", alg: "ES512", key: testkeys.P521, sig: func(t *testing.T) []byte { return der(t, new(big.Int).Sub(n521, one), one) }, ok: true},
		{name: "short RSA signature", alg: "RS256", key: testkeys.RSA2048, sig: func(*testing.T) []byte { return make([]byte, 255) }},
		{name: "long PSS signature", alg: "PS256", key: testkeys.RSA2048, sig: func(*testing.T) []byte { return make([]byte, 257) }},
		{name: "short Ed25519 signature", alg: "EdDSA", key: testkeys.Ed25519, sig: func(*testing.T) []byte { return make([]byte, 63) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := jose.Lookup(tc.alg)
			c := cannedSigner{key: testkeys.Signer(tc.key), err: tc.err}
			if tc.sig != nil {
				c.sig = tc.sig(t)
			}
			sig, err := a.Sign(c, []byte("a.b"))
			switch {
			case tc.ok:
				if err != nil || len(sig) != a.SignatureSize(c.Public()) {
					t.Errorf("Sign = %d bytes, %v", len(sig), err)
				}
			case err == nil || sig != nil:
				t.Errorf("Sign = %x, %v; want an error", sig, err)
			case tc.err != nil && !errors.Is(err, tc.err):
				t.Errorf("Sign error %v does not wrap %v", err, tc.err)
			}
		})
	}
}

// TestSignAs: the public key SignAs is given must fit the alg.
func TestSignAs(t *testing.T) {
	a := jose.Lookup("ES256")
	key := testkeys.Signer(testkeys.P256)
	if sig, err := a.SignAs(key, key.Public(), []byte("a.b")); err != nil || len(sig) != 64 {
		t.Errorf("SignAs = %d bytes, %v", len(sig), err)
	}
	if _, err := a.SignAs(key, testkeys.Public(testkeys.P384), []byte("a.b")); err == nil {
		t.Error("SignAs accepted a P-384 public key for ES256")
	}
	if _, err := jose.Lookup("HS256").SignAs(key, key.Public(), []byte("a.b")); err == nil {
		t.Error("SignAs signed HS256 with an ECDSA key")
	}
}

func TestDefaultAlg(t *testing.T) {
	for key, want := range map[string]string{testkeys.RSA2048: "RS256", testkeys.P256: "ES256", testkeys.P384: "ES384", testkeys.P521: "ES512", testkeys.Ed25519: "EdDSA"} {
		if got, err := jose.DefaultAlg(testkeys.Public(key)); got != want || err != nil {
			t.Errorf("%s: DefaultAlg = %q, %v; want %s", key, got, err, want)
		}
	}
	if _, err := jose.DefaultAlg([]byte("secret")); err == nil {
		t.Error("DefaultAlg accepted a secret")
	}
}

func TestHMAC(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	for _, name := range []string{"HS256", "HS384", "HS512"} {
		a := jose.Lookup(name)
		if !a.Symmetric() || a.MinSecret < 32 {
			t.Errorf("%s: symmetric %v, min secret %d", name, a.Symmetric(), a.MinSecret)
		}
		sig, err := a.Sign(secret, []byte("x.y"))
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Verify(secret, []byte("x.y"), sig); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if err := a.Verify(secret[1:], []byte("x.y"), sig); !errors.Is(err, jose.ErrSignature) {
			t.Errorf("%s, another secret: %v", name, err)
		}
		// An RSA public key is no HMAC secret.
		if err := a.Verify(testkeys.Public(testkeys.RSA2048), []byte("x.y"), sig); err == nil || errors.Is(err, jose.ErrSignature) {
			t.Errorf("%s with an RSA key: %v", name, err)
		}
	}
}

func TestPublicKeyType(t *testing.T) {
	for _, k := range []string{testkeys.RSA2048, testkeys.P256, testkeys.Ed25519} {
		if err := jose.PublicKeyType(testkeys.Public(k)); err != nil {
			t.Errorf("%s: %v", k, err)
		}
		if err := jose.PublicKeyType(testkeys.Signer(k)); err == nil {
			t.Errorf("private %s accepted", k)
		}
	}
	for _, k := range []crypto.PublicKey{nil, []byte("secret"), "secret", 42} {
		if err := jose.PublicKeyType(k); err == nil {
			t.Errorf("%T accepted", k)
		}
	}
}

func TestCheckRSASize(t *testing.T) {
	if err := jose.CheckRSASize(testkeys.Public(testkeys.RSA1024), jose.MinRSABits); err == nil {
		t.Error("1024-bit key accepted")
	}
	if err := jose.CheckRSASize(testkeys.Public(testkeys.RSA2048), jose.MinRSABits); err != nil {
		t.Error(err)
	}
	if err := jose.CheckRSASize(testkeys.Public(testkeys.RSA2048), 3072); err == nil {
		t.Error("2048-bit key accepted at a 3072-bit minimum")
	}
}

func TestPrivateMember(t *testing.T) {
	for name, want := range map[string]string{"d": "d", "D": "d", "Dq": "dq", "oth": "oth", "k": "k", "K": "k"} {
		if got, ok := jose.PrivateMember(name); !ok || got != want {
			t.Errorf("PrivateMember(%q) = %q, %v", name, got, ok)
		}
	}
	for _, name := range []string{"n", "e", "x", "y", "kid", "kty", "dd", ""} {
		if _, ok := jose.PrivateMember(name); ok {
			t.Errorf("PrivateMember(%q) reports private material", name)
		}
	}
}

func ExampleLookup() {
	alg := jose.Lookup("ES256")
	signing := []byte("eyJhbGciOiJFUzI1NiJ9.e30")
	sig, err := alg.Sign(testkeys.Signer(testkeys.P256), signing)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(sig), alg.Verify(testkeys.Public(testkeys.P256), signing, sig))
	fmt.Println(jose.Lookup("none") == nil, jose.NaturalAlg(testkeys.Public(testkeys.Ed25519)))
	// Output:
	// 64 <nil>
	// true EdDSA
}
