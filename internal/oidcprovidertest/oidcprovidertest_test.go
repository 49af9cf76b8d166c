package oidcprovidertest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/internal/oidcprovidertest"
	"github.com/pkjwt/pkjwt/internal/testkeys"
)

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// post sends form to endpoint and decodes the JSON answer.
func post(t *testing.T, endpoint string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(endpoint, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("POST %s: %s: %v", endpoint, resp.Status, err)
	}
	return resp.StatusCode, body
}

// assertion signs a client assertion of clientID for aud with the named key.
func assertion(clientID, aud, key, alg, kid string) string {
	return testkeys.Sign(alg, testkeys.Signer(key), map[string]any{"kid": kid},
		testkeys.Claims(clientID, aud, time.Now()))
}

func authForm(clientID, assertion string) url.Values {
	return url.Values{
		"client_id":             {clientID},
		"client_assertion_type": {assertionType},
		"client_assertion":      {assertion},
	}
}

func TestProvider(t *testing.T) {
	// The rsa client's keys come from a jwks_uri on loopback.
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(testkeys.JWKS(testkeys.JWK(testkeys.Signer(testkeys.RSA2048), "r1", "", "sig")))
	}))
	defer jwks.Close()

	p := oidcprovidertest.Start(t,
		oidcprovidertest.Client{
			ID:    "ec-client",
			JWKS:  testkeys.JWKS(testkeys.JWK(testkeys.Signer(testkeys.P256), "e1", "", "sig")),
			Scope: "read write",
		},
		oidcprovidertest.Client{ID: "rsa-client", JWKSURI: jwks.URL, SigningAlg: "PS256"},
	)
	for name, got := range map[string]string{
		"TokenURL":         p.TokenURL,
		"IntrospectionURL": p.IntrospectionURL,
		"RevocationURL":    p.RevocationURL,
		"MetadataURL":      p.MetadataURL,
	} {
		if !strings.HasPrefix(got, p.Issuer+"/") {
			t.Errorf("%s = %q, not under the issuer %q", name, got, p.Issuer)
		}
	}

	// A client_credentials token for the inline-JWKS client, with aud = the
	// issuer.
	form := authForm("ec-client", assertion("ec-client", p.Issuer, testkeys.P256, "ES256", "e1"))
	form.Set("grant_type", "client_credentials")
	form.Set("scope", "read")
	status, tok := post(t, p.TokenURL, form)
	if status != http.StatusOK || tok["access_token"] == nil || tok["scope"] != "read" {
		t.Fatalf("token: %d %v", status, tok)
	}
	accessToken := tok["access_token"].(string)

	// The same assertion again is a replay.
	status, body := post(t, p.TokenURL, form)
	if status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("replayed assertion: %d %v, want 401 invalid_client", status, body)
	}

	// An audience that is none of the provider's URLs.
	form = authForm("ec-client", assertion("ec-client", "https://elsewhere.example", testkeys.P256, "ES256", "e1"))
	form.Set("grant_type", "client_credentials")
	if status, body := post(t, p.TokenURL, form); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("foreign aud: %d %v, want 401 invalid_client", status, body)
	}

	// Introspection and revocation authenticate the same way; aud may be
	// the endpoint's own URL.
	introspect := func() map[string]any {
		form := authForm("ec-client", assertion("ec-client", p.IntrospectionURL, testkeys.P256, "ES256", "e1"))
		form.Set("token", accessToken)
		status, body := post(t, p.IntrospectionURL, form)
		if status != http.StatusOK {
			t.Fatalf("introspect: %d %v", status, body)
		}
		return body
	}
	if got := introspect(); got["active"] != true || got["client_id"] != "ec-client" {
		t.Errorf("introspection of a fresh token: %v", got)
	}
	form = authForm("ec-client", assertion("ec-client", p.Issuer, testkeys.P256, "ES256", "e1"))
	form.Set("token", accessToken)
	resp, err := http.PostForm(p.RevocationURL, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %s", resp.Status)
	}
	if got := introspect(); got["active"] != false {
		t.Errorf("introspection of a revoked token: %v", got)
	}

	// The jwks_uri client is held to PS256.
	form = authForm("rsa-client", assertion("rsa-client", p.TokenURL, testkeys.RSA2048, "PS256", "r1"))
	form.Set("grant_type", "client_credentials")
	if status, body := post(t, p.TokenURL, form); status != http.StatusOK || body["access_token"] == nil {
		t.Errorf("PS256 via jwks_uri: %d %v", status, body)
	}
	form = authForm("rsa-client", assertion("rsa-client", p.TokenURL, testkeys.RSA2048, "RS256", "r1"))
	form.Set("grant_type", "client_credentials")
	if status, body := post(t, p.TokenURL, form); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("RS256 for a PS256 client: %d %v, want 401 invalid_client", status, body)
	}
}
