package sign_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/sign"
	"github.com/pkjwt/pkjwt/verify"
)

// interopShape is what the client assertions of one common client library
// look like, after its source: the README's interop table is rendered from
// these.
type interopShape struct {
	client   string
	audDesc  string
	aud      func(issuer, tokenURL string) any
	lifetime time.Duration
	nbf      *time.Duration // nbf - iat, if set
	jti      string         // description; "" for none
	typ      string         // "" for none
	alg      string
	kid      bool
	// Expected verdicts: the checks of verify.Verifier.Explain that fail,
	// under rfc7523bis, strict and legacy (with the token URL among
	// Endpoints).
	bis, strict, legacy []string
}

func dur(d time.Duration) *time.Duration { return &d }

var interopShapes = []interopShape{
	{
		client: "pkjwt `sign` (default)", audDesc: "issuer (string)",
		aud:      func(iss, _ string) any { return iss },
		lifetime: time.Minute, jti: "128 random bits", typ: "JWT", alg: "ES256", kid: true,
	},
	{
		client: "hashicorp/cap `clientassertion`", audDesc: "caller's list; one value as a string (here the issuer)",
		aud:      func(iss, _ string) any { return iss },
		lifetime: 5 * time.Minute, nbf: dur(-time.Second), jti: "UUID", typ: "JWT", alg: "RS256",
	},
	{
		client: "auth0/go-auth0 (`WithClientAssertion`)", audDesc: "tenant URL + `/` = the issuer (string)",
		aud:      func(iss, _ string) any { return iss },
		lifetime: 2 * time.Minute, nbf: dur(0), jti: "UUID", typ: "JWT", alg: "RS256",
	},
	{
		client: "zitadel/oidc RP (`WithJWTProfile`)", audDesc: "[issuer, token endpoint]",
		aud:      func(iss, tok string) any { return []string{iss, tok} },
		lifetime: time.Hour, jti: "", typ: "", alg: "RS256", kid: true,
		bis: []string{"aud", "exp", "jti"}, strict: []string{"aud", "exp", "jti"}, legacy: []string{"exp", "jti"},
	},
	{
		client: "Python Authlib (`PrivateKeyJWT`)", audDesc: "token endpoint (string)",
		aud:      func(_, tok string) any { return tok },
		lifetime: time.Hour, jti: "36 random characters", typ: "JWT", alg: "RS256", kid: true,
		bis: []string{"aud", "exp"}, strict: []string{"aud", "exp"}, legacy: []string{"exp"},
	},
	{
		client: "node openid-client 5.x", audDesc: "[issuer, token endpoint]",
		aud:      func(iss, tok string) any { return []string{iss, tok} },
		lifetime: time.Minute, jti: "random", typ: "", alg: "ES256", kid: true,
		bis: []string{"aud"}, strict: []string{"aud"},
	},
	{
		client: "node openid-client 6.x (oauth4webapi)", audDesc: "issuer (string)",
		aud:      func(iss, _ string) any { return iss },
		lifetime: time.Minute, nbf: dur(0), jti: "random", typ: "", alg: "ES256", kid: true,
	},
	{
		client: "Spring Security (`NimbusJwtClientAuthenticationParametersConverter`)", audDesc: "token endpoint (one-element list, sent as a string)",
		aud:      func(_, tok string) any { return tok },
		lifetime: time.Minute, jti: "UUID", typ: "", alg: "RS256", kid: true,
		bis: []string{"aud"}, strict: []string{"aud"},
	},
}

// assertion builds the shape's assertion with pkjwt's own keys.
func (s interopShape) assertion(t *testing.T, iss, tokenURL string, now time.Time) string {
	t.Helper()
	key := testkeys.Signer(testkeys.P256)
	if strings.HasPrefix(s.alg, "RS") {
		key = testkeys.Signer(testkeys.RSA2048)
	}
	cfg := &sign.Config{Algorithm: s.alg, OmitKeyID: !s.kid, Type: s.typ, OmitType: s.typ == ""}
	signer, err := sign.NewSigner(clientID, key, iss, cfg)
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{
		"iss": clientID, "sub": clientID,
		"aud": s.aud(iss, tokenURL),
		"iat": now.Unix(), "exp": now.Add(s.lifetime).Unix(),
	}
	if s.nbf != nil {
		claims["nbf"] = now.Add(*s.nbf).Unix()
	}
	if s.jti != "" {
		claims["jti"] = testkeys.NewJTI()
	}
	a, err := signer.Sign(context.Background(), claims)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func verdict(failed []string) string {
	if len(failed) == 0 {
		return "accepted"
	}
	return "rejected: " + strings.Join(failed, ", ")
}

// TestInterop builds assertions of each common client's shape and checks
// verify's verdict under each audience policy, check by check.
func TestInterop(t *testing.T) {
	const iss = "https://as.example.com"
	tokenURL := iss + "/oauth/token"
	now := time.Unix(1_900_000_000, 0)
	var keys []verify.Key
	for _, name := range []string{testkeys.P256, testkeys.RSA2048} {
		kid, _ := sign.Thumbprint(testkeys.Public(name))
		keys = append(keys, verify.Key{ID: kid, Public: testkeys.Public(name)})
	}
	policies := []struct {
		name string
		cfg  verify.Config
		want func(interopShape) []string
	}{
		{"rfc7523bis", verify.Config{Audience: verify.AudienceRFC7523bis}, func(s interopShape) []string { return s.bis }},
		{"strict", verify.Config{Audience: verify.AudienceStrict}, func(s interopShape) []string { return s.strict }},
		{"legacy", verify.Config{Audience: verify.AudienceLegacy, Endpoints: []string{tokenURL}}, func(s interopShape) []string { return s.legacy }},
	}
	for _, s := range interopShapes {
		for _, p := range policies {
			t.Run(s.client+"/"+p.name, func(t *testing.T) {
				cfg := p.cfg
				cfg.Now = func() time.Time { return now }
				v := newVerifier(t, iss, clientID, cfg, keys...)
				req := verify.Request{AssertionType: verify.AssertionType, Assertion: s.assertion(t, iss, tokenURL, now)}
				var failed []string
				for _, step := range v.Explain(context.Background(), req) {
					if step.Err != nil {
						failed = append(failed, step.Check)
					}
				}
				if got, want := verdict(failed), verdict(p.want(s)); got != want {
					t.Errorf("%s, want %s", got, want)
				}
				// Verify agrees with Explain.
				if _, err := v.Verify(context.Background(), req); (err == nil) != (len(failed) == 0) {
					t.Errorf("Verify = %v, Explain failed %v", err, failed)
				}
			})
		}
	}
}

// interopTable renders the README's interop table.
func interopTable() string {
	var b strings.Builder
	b.WriteString("| client | `aud` | lifetime | `jti` | `typ` | rfc7523bis (default) | strict | legacy (+ token URL) |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	orNone := func(s string) string {
		if s == "" {
			return "none"
		}
		return s
	}
	for _, s := range interopShapes {
		typ := orNone(s.typ)
		if s.typ != "" {
			typ = "`" + s.typ + "`"
		}
		fmt.Fprintf(&b, "| %s | %s | %v | %s | %s | %s | %s | %s |\n",
			s.client, s.audDesc, strings.TrimSuffix(strings.TrimSuffix(s.lifetime.String(), "0s"), "0m"), orNone(s.jti), typ,
			verdict(s.bis), verdict(s.strict), verdict(s.legacy))
	}
	return b.String()
}

// TestREADMEInterop checks that the README's table is the one the test
// above backs.
func TestREADMEInterop(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if table := interopTable(); !strings.Contains(string(readme), table) {
		t.Errorf("README.md lacks the interop table; it should read:\n%s", table)
	}
}
