package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestDemo(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	r := pkjwtIn(t, dir, "", "demo")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("demo: %v", r)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("demo took %v", d)
	}
	// The walkthrough shows each exchange in order.
	out := r.stdout
	pos := 0
	for _, want := range []string{
		"GET /.well-known/oauth-authorization-server",
		"→ 200 OK",
		`"token_endpoint_auth_methods_supported": ["private_key_jwt"]`,
		`"kty":"EC"`,
		`"iss":"demo-client"`,
		"POST /token",
		"&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
		"→ 200 OK",
		`"token_type": "Bearer"`,
		"POST /token",
		"→ 401 Unauthorized",
		`"error": "invalid_client"`,
		"client assertion was already used",
		"POST /introspect",
		"→ 200 OK",
		`"active": true`,
		"FAIL  aud",
		"Result: rejected",
	} {
		i := strings.Index(out[pos:], want)
		if i < 0 {
			t.Fatalf("demo output lacks %q after byte %d:\n%s", want, pos, out)
		}
		pos += i + len(want)
	}
	if strings.Contains(out, `"d":`) {
		t.Error("demo prints private key material")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("demo left %d files behind", len(entries))
	}
}
