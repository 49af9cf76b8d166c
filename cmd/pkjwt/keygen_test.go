package main

import (
	"crypto/rsa"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkjwt/pkjwt/sign"
)

func TestKeygenRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		typ, format, alg string
		args             []string
	}{
		{"rsa", "pem", "RS256", nil},
		{"rsa", "jwk", "PS256", []string{"-alg", "PS256", "-bits", "3072"}},
		{"p256", "pem", "ES256", nil},
		{"p256", "jwk", "ES256", nil},
		{"p384", "pem", "ES384", nil},
		{"ed25519", "pem", "EdDSA", nil},
		{"ed25519", "jwk", "EdDSA", nil},
	} {
		t.Run(tc.typ+"-"+tc.format+"-"+tc.alg, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"keygen", "-type", tc.typ, "-format", tc.format, "-out-private", "client.key"}, tc.args...)
			r := pkjwtIn(t, dir, "", args...)
			if r.code != 0 {
				t.Fatal(r)
			}
			fi, err := os.Stat(filepath.Join(dir, "client.key"))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("private key mode %v, want 0600", fi.Mode().Perm())
			}
			keys := readJWKS(t, []byte(r.stdout))
			if len(keys) != 1 {
				t.Fatalf("%d keys in the JWKS, want 1", len(keys))
			}
			k := keys[0]
			pub := publicKeyOf(t, k)
			tp, err := sign.Thumbprint(pub)
			if err != nil {
				t.Fatal(err)
			}
			if k.KID != tp || string(k.ALG) != tc.alg || k.USE != "sig" {
				t.Errorf("JWK kid %q alg %q use %q, want %q %q sig", k.KID, k.ALG, k.USE, tp, tc.alg)
			}
			if tc.typ == "rsa" {
				want := 2048
				if len(tc.args) > 2 {
					want = 3072
				}
				if n := pub.(*rsa.PublicKey).N.BitLen(); n != want {
					t.Errorf("RSA key of %d bits, want %d", n, want)
				}
			}

			// The private key mints assertions that the public JWKS verifies.
			tok := pkjwtIn(t, dir, "", "mint", "-key", "client.key", "-iss", "c1", "-aud", "https://as.example")
			if tok.code != 0 {
				t.Fatal(tok)
			}
			h, _ := decodeJWT(t, tok.stdout)
			if h["kid"] != tp || h["alg"] != tc.alg {
				t.Errorf("assertion header %v, want kid %s alg %s", h, tp, tc.alg)
			}
			if _, err := verifyWith(t, pub, k.KID, "c1", "https://as.example", tok.stdout); err != nil {
				t.Errorf("minted assertion rejected: %v", err)
			}
		})
	}
}

func TestKeygenFiles(t *testing.T) {
	dir := t.TempDir()
	mustRunIn := func(args ...string) result {
		t.Helper()
		r := pkjwtIn(t, dir, "", args...)
		if r.code != 0 {
			t.Fatal(r)
		}
		return r
	}
	mustRunIn("keygen", "-type", "ed25519", "-out-private", "k.pem", "-out-jwks", "k.jwks")
	first, _ := os.ReadFile(filepath.Join(dir, "k.pem"))
	jwks, _ := os.ReadFile(filepath.Join(dir, "k.jwks"))
	readJWKS(t, jwks)

	// Existing files are never replaced without -force, and nothing is
	// written when either one exists.
	for _, args := range [][]string{
		{"-out-private", "k.pem", "-out-jwks", "new.jwks"},
		{"-out-private", "new.pem", "-out-jwks", "k.jwks"},
	} {
		r := pkjwtIn(t, dir, "", append([]string{"keygen"}, args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, "exists") || !strings.Contains(r.stderr, "-force") {
			t.Errorf("keygen %v over an existing file: %v", args, r)
		}
	}
	for _, name := range []string{"new.pem", "new.jwks"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s written although keygen failed", name)
		}
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "k.pem")); string(again) != string(first) {
		t.Error("private key replaced without -force")
	}

	// -force replaces, and the result has mode 0600 whatever the old file had.
	if err := os.Chmod(filepath.Join(dir, "k.pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRunIn("keygen", "-force", "-out-private", "k.pem", "-out-jwks", "k.jwks")
	fi, err := os.Stat(filepath.Join(dir, "k.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after -force %v, want 0600", fi.Mode().Perm())
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "k.pem")); string(again) == string(first) {
		t.Error("-force did not replace the key")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("directory holds %d entries, want k.pem and k.jwks only", len(entries))
	}
}

func TestKeygenUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "-out-private is required"},
		{[]string{"-out-private", "-"}, "refusing"},
		{[]string{"-out-private", "k", "-type", "dsa"}, "-type"},
		{[]string{"-out-private", "k", "-type", "rsa", "-bits", "1024"}, "2048"},
		{[]string{"-out-private", "k", "-type", "p256", "-bits", "4096"}, "-bits"},
		{[]string{"-out-private", "k", "-format", "der"}, "-format"},
		{[]string{"-out-private", "k", "-alg", "ES384"}, "does not fit"},
		{[]string{"-out-private", "k", "-alg", "HS256"}, "-alg"},
		{[]string{"-out-private", "k", "-out-jwks", "k"}, "same file"},
		{[]string{"-out-private", "k", "extra"}, "unexpected argument"},
		{[]string{"-no-such-flag"}, "not defined"},
	} {
		r := pkjwt(t, "", append([]string{"keygen"}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("keygen %q: want exit 2 and %q\n%v", tc.args, tc.want, r)
		}
	}
}
