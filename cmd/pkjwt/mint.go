package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pkjwt/pkjwt/sign"
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
	keyFlags := addKeyFlags(fs, true, "signing alg (default: the JWK's alg, or RS256, ES256, ES384, ES512 or EdDSA by key type)")
	iss := fs.String("iss", "", "issuer: the client_id (required; with -demo-key default "+demoClientID+")")
	sub := fs.String("sub", "", "subject (default: the -iss value)")
	var aud stringsFlag
	fs.Var(&aud, "aud", "audience: the authorization server's issuer identifier (required; repeat for several)")
	audArray := fs.Bool("aud-array", false, "encode aud as a JSON array even when it has one value")
	lifetime := fs.Duration("lifetime", 60*time.Second, "time until exp; negative mints an expired assertion (for testing)")
	typ := fs.String("typ", "JWT", "typ header (-typ= omits it)")
	jti := fs.String("jti", "", "jti claim (default: 128 random bits)")
	if err := parseOptions(fs, args); err != nil {
		return err
	}
	if err := keyFlags.check(); err != nil {
		return err
	}
	switch {
	case len(aud) == 0:
		return usageErrorf("-aud is required (the authorization server's issuer identifier)")
	case *lifetime == 0:
		return usageErrorf("-lifetime must not be zero")
	}
	if *iss == "" && keyFlags.demoKey() {
		*iss = demoClientID
	}
	if *iss == "" {
		return usageErrorf("-iss is required (the client_id)")
	}
	if !isSet(fs, "sub") {
		*sub = *iss
	}

	key, err := keyFlags.load()
	if err != nil {
		return err
	}
	if *jti == "" {
		*jti = randomString(16)
	}

	now := time.Now()
	claims := jwt.MapClaims{
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
	if errors.Is(err, sign.ErrUnsuitableKey) {
		return usageErrorf("-key or -alg: %v", err)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(std.out, tok)
	return err
}

// signAssertion signs claims (whose iss and aud must be set) with key
// through sign.Signer, under key.alg (empty: the key's default alg), with
// key.kid (if any) and typ (if any) in the header. It returns an error
// wrapping sign.ErrUnsuitableKey when the alg does not fit the key (RSA
// under 2048 bits included).
func signAssertion(key signingKey, typ string, claims jwt.MapClaims) (string, error) {
	cfg := &sign.Config{Algorithm: key.alg, KeyID: key.kid, OmitKeyID: key.kid == "", Type: typ, OmitType: typ == ""}
	iss, _ := claims["iss"].(string)
	aud, _ := claims["aud"].(string)
	if auds, ok := claims["aud"].([]string); ok && len(auds) > 0 {
		aud = auds[0]
	}
	s, err := sign.NewSigner(iss, key.signer, aud, cfg)
	if err != nil {
		return "", err
	}
	return s.Sign(context.Background(), claims)
}

// randomString returns n random bytes, base64url-encoded.
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}
