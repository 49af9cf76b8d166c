package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pkjwt/pkjwt/internal/jose"
	"github.com/pkjwt/pkjwt/verify"
)

const mintHelp = `
Print a client assertion (RFC 7523 §2.2, OpenID Connect Core §9): a JWT
with iss and sub set to the client_id, aud set to the authorization
server's issuer identifier, iat, exp and a random jti, signed with the
client's private key. Send it as client_assertion with
client_assertion_type=` + verify.AssertionType + `.

The key is a PEM file (PKCS #8, PKCS #1 or SEC 1), a private JWK, or a JWK
Set holding the key. -demo-key uses the built-in demo client key that
'pkjwt serve' without -config accepts.

Example:
  pkjwt mint -key client.pem -iss my-client -aud https://as.example.com
`

// stringsFlag is a repeatable string flag.
type stringsFlag []string

// String implements flag.Value.
func (s *stringsFlag) String() string { return strings.Join(*s, ",") }

// Set implements flag.Value: each use of the flag adds a value.
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

func runMint(_ context.Context, std stdio, args []string) error {
	fs := newFlagSet(std, "mint", "-key FILE -iss CLIENT_ID -aud ISSUER [flags]", mintHelp)
	keyFile := fs.String("key", "", "private key `file`: PEM (PKCS #8, PKCS #1, SEC 1) or JWK")
	demoKey := fs.Bool("demo-key", false, "sign with the built-in demo client key (public, for 'pkjwt serve' without -config only)")
	iss := fs.String("iss", "", "issuer: the client_id (required; with -demo-key default "+demoClientID+")")
	sub := fs.String("sub", "", "subject (default: the -iss value)")
	var aud stringsFlag
	fs.Var(&aud, "aud", "audience: the authorization server's issuer identifier (required; repeat for several)")
	audArray := fs.Bool("aud-array", false, "encode aud as a JSON array even when it has one value")
	lifetime := fs.Duration("lifetime", 60*time.Second, "time until exp; negative mints an expired assertion (for testing)")
	alg := fs.String("alg", "", "signing alg (default: the JWK's alg, or RS256, ES256, ES384, ES512 or EdDSA by key type)")
	kid := fs.String("kid", "", "kid header (default: the JWK's kid, or the key's RFC 7638 thumbprint; -kid= omits it)")
	typ := fs.String("typ", "JWT", "typ header (-typ= omits it)")
	jti := fs.String("jti", "", "jti claim (default: 128 random bits)")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(rest) > 0:
		return usageErrorf("unexpected argument %q", rest[0])
	case *keyFile == "" && !*demoKey:
		return usageErrorf("-key or -demo-key is required")
	case *keyFile != "" && *demoKey:
		return usageErrorf("-key and -demo-key are exclusive")
	case len(aud) == 0:
		return usageErrorf("-aud is required (the authorization server's issuer identifier)")
	case *lifetime == 0:
		return usageErrorf("-lifetime must not be zero")
	}
	if *iss == "" && *demoKey {
		*iss = demoClientID
	}
	if *iss == "" {
		return usageErrorf("-iss is required (the client_id)")
	}
	if !isSet(fs, "sub") {
		*sub = *iss
	}

	var key signingKey
	if *demoKey {
		key, err = parseSigningKey(demoClientKeyPEM, "")
	} else {
		key, err = readSigningKey(*keyFile, *kid)
	}
	if err != nil {
		return usageErrorf("-key: %v", err)
	}
	if isSet(fs, "kid") {
		key.kid = *kid
	} else if !key.jwk {
		if key.kid, err = thumbprint(key.signer.Public()); err != nil {
			return err
		}
	}
	if *alg != "" {
		key.alg = *alg
	}
	if key.alg == "" {
		if key.alg, err = defaultAlg(key.signer.Public()); err != nil {
			return err
		}
	}
	if !slices.Contains(verify.DefaultAlgorithms(), key.alg) {
		return usageErrorf("-alg %q: want one of %s", key.alg, strings.Join(verify.DefaultAlgorithms(), ", "))
	}
	if err := verify.CheckKey(key.signer.Public(), key.alg, 0); err != nil {
		return usageErrorf("alg %s does not fit the key: %v", key.alg, err)
	}
	if k, ok := key.signer.Public().(*rsa.PublicKey); ok && k.N.BitLen() < jose.MinRSABits {
		fmt.Fprintf(std.err, "pkjwt mint: warning: a %d-bit RSA key; verifiers require at least %d bits\n", k.N.BitLen(), jose.MinRSABits)
	}
	if *jti == "" {
		*jti = randomString(16)
	}

	now := time.Now()
	claims := map[string]any{
		"iss": *iss,
		"sub": *sub,
		"jti": *jti,
		"iat": now.Unix(),
		"exp": now.Add(*lifetime).Unix(),
	}
	if len(aud) == 1 && !*audArray {
		claims["aud"] = aud[0]
	} else {
		claims["aud"] = []string(aud)
	}
	tok, err := signAssertion(key, *typ, claims)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(std.out, tok)
	return err
}

// signAssertion signs claims with key under key.alg, with key.kid (if any)
// and typ (if any) in the header.
func signAssertion(key signingKey, typ string, claims map[string]any) (string, error) {
	alg := jose.Lookup(key.alg)
	if alg == nil {
		return "", fmt.Errorf("unknown alg %q", key.alg)
	}
	header := map[string]any{"alg": key.alg}
	if typ != "" {
		header["typ"] = typ
	}
	if key.kid != "" {
		header["kid"] = key.kid
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	sig, err := alg.Sign(key.signer, []byte(signing))
	if err != nil {
		return "", err
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// randomString returns n random bytes, base64url-encoded.
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}
