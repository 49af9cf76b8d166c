package jose_test

import (
	"crypto"
	"errors"
	"fmt"
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
