package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/pkjwt/pkjwt/internal/oidcprovidertest"
)

// TestToken gets tokens from the built "pkjwt serve" with "pkjwt token":
// by discovery, with -token-url and -aud, with -v; and checks refusals and
// usage errors.
func TestToken(t *testing.T) {
	dir := t.TempDir()
	c1 := keygenClient(t, dir, "c1", "p256", "pem")
	c2 := keygenClient(t, dir, "c2", "rsa", "jwk")
	// The RSA key registered for PS256 (keygen's JWK says RS256).
	c2.jwks = []byte(strings.Replace(string(c2.jwks), `"RS256"`, `"PS256"`, 1))
	var inline1, inline2 any
	json.Unmarshal(c1.jwks, &inline1)
	json.Unmarshal(c2.jwks, &inline2)
	p := startServe(t, map[string]any{
		"clients": []any{
			map[string]any{"client_id": "c1", "jwks": inline1},
			map[string]any{"client_id": "c2", "jwks": inline2, "token_endpoint_auth_signing_alg": "PS256"},
		},
	})
	tokenURL := p.issuer + "/token"

	introspect := func(t *testing.T, stdout string) {
		t.Helper()
		var resp map[string]any
		if err := json.Unmarshal([]byte(stdout), &resp); err != nil {
			t.Fatalf("stdout is not the token response: %v\n%s", err, stdout)
		}
		tok, _ := resp["access_token"].(string)
		if tok == "" || resp["token_type"] == nil {
			t.Fatalf("token response %v", resp)
		}
		// The token is live: the server's introspection says so.
		form := assertionForm(c1.mint(t, p.issuer), "token", tok)
		if r := doHTTP(t, http.MethodPost, p.issuer+"/introspect", form); r.json["active"] != true {
			t.Errorf("introspection of the printed token: %v", r)
		}
	}

	t.Run("discovery", func(t *testing.T) {
		r := mustRun(t, "", "token", "-issuer", p.issuer, "-client-id", "c1", "-key", c1.key)
		introspect(t, r.stdout)
		if r.stderr != "" {
			t.Errorf("stderr without -v: %q", r.stderr)
		}
	})
	t.Run("token-url and aud, verbose", func(t *testing.T) {
		r := mustRun(t, "", "token", "-token-url", tokenURL, "-aud", p.issuer, "-client-id", "c2", "-key", c2.key, "-alg", "PS256", "-v", "-scope", "a b")
		introspect(t, r.stdout)
		for _, want := range []string{"assertion header", `"alg": "PS256"`, "assertion claims", `"aud": "` + p.issuer + `"`, `"iss": "c2"`} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("-v output lacks %q:\n%s", want, r.stderr)
			}
		}
	})
	t.Run("refused", func(t *testing.T) {
		// c2 is held to PS256.
		r := pkjwt(t, "", "token", "-issuer", p.issuer, "-client-id", "c2", "-key", c2.key)
		if r.code != 1 || !strings.Contains(r.stderr, "401 Unauthorized: invalid_client") || r.stdout != "" {
			t.Errorf("RS256 for a PS256 client: %v", r)
		}
		// The token endpoint URL as aud: refused under the default policy.
		r = pkjwt(t, "", "token", "-issuer", p.issuer, "-aud", tokenURL, "-client-id", "c1", "-key", c1.key)
		if r.code != 1 || !strings.Contains(r.stderr, "invalid_client") {
			t.Errorf("aud = token URL: %v", r)
		}
		// No server there.
		r = pkjwt(t, "", "token", "-issuer", "http://127.0.0.1:1", "-client-id", "c1", "-key", c1.key)
		if r.code != 1 || !strings.Contains(r.stderr, "discovery failed") {
			t.Errorf("no server: %v", r)
		}
	})
	t.Run("usage", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"-issuer", p.issuer, "-key", c1.key}, "-client-id is required"},
			{[]string{"-issuer", p.issuer, "-client-id", "c1"}, "-key is required"},
			{[]string{"-client-id", "c1", "-key", c1.key}, "-issuer or -token-url is required"},
			{[]string{"-token-url", tokenURL, "-client-id", "c1", "-key", c1.key}, "-aud is required"},
			{[]string{"-issuer", p.issuer, "-client-id", "c1", "-key", c1.key, "-lifetime", "1h"}, "lifetime"},
			{[]string{"-issuer", p.issuer, "-client-id", "c1", "-key", c1.key, "-alg", "RS256"}, "key unsuitable"},
			{[]string{"-issuer", p.issuer, "-client-id", "c1", "-key", c1.key, "-resource", "api"}, "resource"},
			{[]string{"-issuer", p.issuer, "-client-id", "c1", "-key", dir}, "-key"},
		} {
			r := pkjwt(t, "", append([]string{"token"}, tc.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Errorf("token %q: want exit 2 and %q: %v", tc.args, tc.want, r)
			}
		}
	})
}

// TestTokenOIDCProvider gets a token from node oidc-provider, discovered
// from its OpenID Connect metadata.
func TestTokenOIDCProvider(t *testing.T) {
	dir := t.TempDir()
	c := keygenClient(t, dir, "c1", "ed25519", "pem")
	op := oidcprovidertest.Start(t, oidcprovidertest.Client{ID: "c1", JWKS: c.jwks, Scope: "read"})
	r := mustRun(t, "", "token", "-issuer", op.Issuer, "-client-id", "c1", "-key", c.key, "-scope", "read")
	var resp map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &resp); err != nil || resp["access_token"] == nil || resp["scope"] != "read" {
		t.Errorf("token response %v (%v)", r.stdout, err)
	}
}
