package main

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pkjwt/pkjwt/internal/testkeys"
)

// keyFiles writes the named testkeys key in every format mint reads and
// returns the paths by format.
func keyFiles(t *testing.T, dir, name string) map[string]string {
	t.Helper()
	s := testkeys.Signer(name)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(s)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"pkcs8": writeFile(t, dir, name+".p8.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})),
	}
	switch k := s.(type) {
	case *rsa.PrivateKey:
		files["pkcs1"] = writeFile(t, dir, name+".p1.pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		files["sec1"] = writeFile(t, dir, name+".sec1.pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	}
	jwk, err := json.Marshal(testkeys.PrivateJWK(name, "jwk-kid", ""))
	if err != nil {
		t.Fatal(err)
	}
	files["jwk"] = writeFile(t, dir, name+".jwk", jwk)
	return files
}

func TestMintKeyFormats(t *testing.T) {
	dir := t.TempDir()
	const aud = "https://as.example"
	for _, name := range []string{testkeys.RSA2048, testkeys.P256, testkeys.P384, testkeys.P521, testkeys.Ed25519} {
		for format, file := range keyFiles(t, dir, name) {
			t.Run(name+"-"+format, func(t *testing.T) {
				start := time.Now().Truncate(time.Second)
				r := mustRun(t, "", "mint", "-key", file, "-iss", "client-1", "-aud", aud)
				h, c := decodeJWT(t, r.stdout)
				wantKID, err := thumbprint(testkeys.Public(name))
				if err != nil {
					t.Fatal(err)
				}
				if format == "jwk" {
					wantKID = "jwk-kid"
				}
				if diff := cmp.Diff(map[string]any{"alg": testkeys.Alg(name), "kid": wantKID, "typ": "JWT"}, h); diff != "" {
					t.Errorf("header (-want +got):\n%s", diff)
				}
				iat, exp := numeric(t, c["iat"]), numeric(t, c["exp"])
				if c["iss"] != "client-1" || c["sub"] != "client-1" || c["aud"] != aud {
					t.Errorf("claims %v", c)
				}
				if iat.Before(start) || exp.Sub(iat) != time.Minute {
					t.Errorf("iat %v exp %v, want now and now+60s", iat, exp)
				}
				if jti, _ := c["jti"].(string); len(jti) < 22 {
					t.Errorf("jti %q, want 128 random bits", jti)
				}
				if _, err := verifyWith(t, testkeys.Public(name), wantKID, "client-1", aud, r.stdout); err != nil {
					t.Errorf("rejected: %v", err)
				}
			})
		}
	}
}

func TestMintFlags(t *testing.T) {
	dir := t.TempDir()
	rsaKey := keyFiles(t, dir, testkeys.RSA2048)["pkcs8"]
	p256 := keyFiles(t, dir, testkeys.P256)["pkcs8"]
	set := writeFile(t, dir, "set.jwks", testkeys.JWKS(testkeys.PrivateJWK(testkeys.P256, "a", "ES256"), testkeys.PrivateJWK(testkeys.Ed25519, "b", "")))

	for _, tc := range []struct {
		name           string
		args           []string
		header, claims map[string]any // members to compare; nil value: absent
	}{
		{"no kid no typ", []string{"-key", p256, "-kid=", "-typ="}, map[string]any{"kid": nil, "typ": nil}, nil},
		{"explicit", []string{"-key", p256, "-kid", "k9", "-typ", "client-authentication+jwt", "-sub", "someone", "-jti", "j-1"},
			map[string]any{"kid": "k9", "typ": "client-authentication+jwt"}, map[string]any{"sub": "someone", "jti": "j-1", "iss": "c1"}},
		{"aud array", []string{"-key", p256, "-aud-array"}, nil, map[string]any{"aud": []any{"https://as.example"}}},
		{"two auds", []string{"-key", p256, "-aud", "https://as.example/token"}, nil, map[string]any{"aud": []any{"https://as.example", "https://as.example/token"}}},
		{"PS256", []string{"-key", rsaKey, "-alg", "PS256"}, map[string]any{"alg": "PS256"}, nil},
		{"JWKS by kid", []string{"-key", set, "-kid", "b"}, map[string]any{"alg": "EdDSA", "kid": "b"}, nil},
		{"demo key", []string{"-demo-key", "-iss="}, map[string]any{"alg": "ES256"}, map[string]any{"iss": demoClientID, "sub": demoClientID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"mint", "-iss", "c1", "-aud", "https://as.example"}, tc.args...)
			r := mustRun(t, "", args...)
			h, c := decodeJWT(t, r.stdout)
			for _, want := range []struct{ want, got map[string]any }{{tc.header, h}, {tc.claims, c}} {
				for k, v := range want.want {
					got, ok := want.got[k]
					if v == nil && ok || v != nil && !cmp.Equal(v, got) {
						t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
					}
				}
			}
		})
	}

	// RFC 9864's name for EdDSA over Ed25519: minted, then accepted by a
	// default verifier, which reports the alg as sent.
	ed := keyFiles(t, dir, testkeys.Ed25519)["pkcs8"]
	r := mustRun(t, "", "mint", "-key", ed, "-iss", "c1", "-aud", "https://as.example", "-alg", "Ed25519", "-kid", "e")
	if h, _ := decodeJWT(t, r.stdout); h["alg"] != "Ed25519" {
		t.Errorf("-alg Ed25519: header %v", h)
	}
	if res, err := verifyWith(t, testkeys.Public(testkeys.Ed25519), "e", "c1", "https://as.example", r.stdout); err != nil || res.Algorithm != "Ed25519" {
		t.Errorf("-alg Ed25519: %+v, %v", res, err)
	}

	r = mustRun(t, "", "mint", "-key", p256, "-iss", "c1", "-aud", "x", "-lifetime", "-5m")
	_, c := decodeJWT(t, r.stdout)
	if exp := numeric(t, c["exp"]); time.Until(exp) > -4*time.Minute {
		t.Errorf("-lifetime -5m: exp %v", exp)
	}
}

func TestMintUsage(t *testing.T) {
	dir := t.TempDir()
	p256 := keyFiles(t, dir, testkeys.P256)["pkcs8"]
	public := writeFile(t, dir, "public.jwk", testkeys.JWKS(testkeys.JWK(testkeys.Signer(testkeys.P256), "a", "", "")))
	set := writeFile(t, dir, "set.jwks", testkeys.JWKS(testkeys.PrivateJWK(testkeys.P256, "a", ""), testkeys.PrivateJWK(testkeys.P384, "b", "")))
	encrypted := writeFile(t, dir, "enc.pem", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}}))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-iss", "c1", "-aud", "x"}, "-key or -demo-key is required"},
		{[]string{"-key", p256, "-aud", "x"}, "-iss is required"},
		{[]string{"-key", p256, "-iss", "c1"}, "-aud is required"},
		{[]string{"-key", p256, "-demo-key", "-iss", "c1", "-aud", "x"}, "exclusive"},
		{[]string{"-key", p256, "-iss", "c1", "-aud", "x", "-alg", "ES384"}, "does not fit"},
		{[]string{"-key", p256, "-iss", "c1", "-aud", "x", "-alg", "HS256"}, "-alg"},
		{[]string{"-key", p256, "-iss", "c1", "-aud", "x", "-alg", "none"}, "-alg"},
		{[]string{"-key", p256, "-iss", "c1", "-aud", "x", "-lifetime", "0s"}, "-lifetime"},
		{[]string{"-key", public, "-iss", "c1", "-aud", "x"}, "not a private key"},
		{[]string{"-key", set, "-iss", "c1", "-aud", "x"}, "-kid"},
		{[]string{"-key", set, "-iss", "c1", "-aud", "x", "-kid", "zz"}, "no key with kid"},
		{[]string{"-key", encrypted, "-iss", "c1", "-aud", "x"}, "encrypted"},
		{[]string{"-key", dir + "/missing.pem", "-iss", "c1", "-aud", "x"}, "no such file"},
		{[]string{"-key", p256, "-iss", "c1", "-aud", "x", "stray"}, "unexpected argument"},
	} {
		r := pkjwt(t, "", append([]string{"mint"}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("mint %q: want exit 2, no output and %q\n%v", tc.args, tc.want, r)
		}
	}
}
