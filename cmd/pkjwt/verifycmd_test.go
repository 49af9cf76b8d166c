package main

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pkjwt/pkjwt/verify"
)

var stepLine = regexp.MustCompile(`(?m)^  (ok|FAIL|skip)\s+(\w+)`)

// stepStatus returns the status verify printed for each check.
func stepStatus(out string) map[string]string {
	m := map[string]string{}
	for _, s := range stepLine.FindAllStringSubmatch(out, -1) {
		m[s[2]] = s[1]
	}
	return m
}

// wantSteps is every check passing but those in failed, and the replay
// check skipped; skipped lists further skipped checks.
func wantSteps(failed, skipped []string) map[string]string {
	m := map[string]string{}
	for _, c := range []string{"request", "syntax", "header", "iss", "sub", "client_id", "client", "alg", "key", "signature", "aud", "exp", "nbf", "iat", "jti"} {
		m[c] = "ok"
	}
	m["replay"] = "skip"
	for _, c := range failed {
		m[c] = "FAIL"
	}
	for _, c := range skipped {
		m[c] = "skip"
	}
	return m
}

func TestVerifyCommand(t *testing.T) {
	dir := t.TempDir()
	c := keygenClient(t, dir, "c1", "p256", "pem")
	other := keygenClient(t, dir, "c2", "p256", "pem")
	const iss = "https://as.example"
	flags := []string{"-issuer", iss, "-jwks", c.jwksFile}
	kid := func(cl testClient) string {
		var set struct{ Keys []struct{ KID string } }
		json.Unmarshal(cl.jwks, &set)
		return set.Keys[0].KID
	}

	good := c.mint(t, iss)
	for _, tc := range []struct {
		name     string
		args     []string
		stdin    string
		failed   []string
		skipped  []string
		wantText string
	}{
		{name: "good", args: []string{good}, wantText: "Result: accepted"},
		{name: "good from stdin", args: []string{"-"}, stdin: good + "\n"},
		{name: "flags after the assertion", args: []string{good, "-leeway", "10s"}},
		{name: "form body", args: []string{"-"}, stdin: url.Values{"client_assertion_type": {verify.AssertionType}, "client_assertion": {good}, "client_id": {"c1"}}.Encode()},
		{name: "expired", args: []string{c.mint(t, iss, "-lifetime", "-2m")}, failed: []string{"exp"}, wantText: "client assertion has expired"},
		{name: "too long", args: []string{c.mint(t, iss, "-lifetime", "1h")}, failed: []string{"exp"}, wantText: "too far in the future"},
		{name: "wrong aud", args: []string{c.mint(t, "https://other.example")}, failed: []string{"aud"}, wantText: `this server is "https://as.example"`},
		{name: "token endpoint aud", args: []string{c.mint(t, iss+"/token")}, failed: []string{"aud"}},
		{name: "legacy accepts the token endpoint", args: []string{"-audience-policy", "legacy", c.mint(t, iss+"/token")}},
		{name: "strict refuses an array", args: []string{"-audience-policy", "strict", c.mint(t, iss, "-aud-array")}, failed: []string{"aud"}},
		{name: "wrong key", args: []string{other.mint(t, iss, "-iss", "c1", "-kid", kid(c))}, failed: []string{"signature"}, wantText: "prove nothing"},
		{name: "unknown kid", args: []string{other.mint(t, iss, "-iss", "c1")}, failed: []string{"key"}, skipped: []string{"signature"}},
		{name: "registered alg", args: []string{"-alg", "ES384", good}, failed: []string{"client"}, skipped: []string{"key", "signature"}},
		{name: "client_id mismatch", args: []string{"-client", "c9", good}, failed: []string{"client_id", "client"}, skipped: []string{"key", "signature"}},
		{name: "sub differs", args: []string{c.mint(t, iss, "-sub", "someone")}, failed: []string{"sub"}},
		{name: "typ", args: []string{c.mint(t, iss, "-typ", "at+jwt")}, failed: []string{"header"}},
		{name: "not a JWT", args: []string{"abc"}, failed: []string{"syntax"}, skipped: []string{"header", "iss", "sub", "client_id", "client", "alg", "key", "signature", "aud", "exp", "nbf", "iat", "jti"}},
		{name: "infrastructure", args: []string{"-jwks", "http://127.0.0.1:1/jwks.json", "-insecure", good}, failed: []string{"key"}, skipped: []string{"signature"}, wantText: "server-side problem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := pkjwt(t, tc.stdin, append(append([]string{"verify"}, flags...), tc.args...)...)
			wantCode := 0
			if len(tc.failed) > 0 {
				wantCode = 1
			}
			if r.code != wantCode {
				t.Fatalf("exit %d, want %d\n%v", r.code, wantCode, r)
			}
			if diff := cmp.Diff(wantSteps(tc.failed, tc.skipped), stepStatus(r.stdout)); diff != "" {
				t.Errorf("checks (-want +got):\n%s\n%s", diff, r.stdout)
			}
			if !strings.Contains(r.stdout, tc.wantText) {
				t.Errorf("output lacks %q:\n%s", tc.wantText, r.stdout)
			}
		})
	}

	// With a configuration: the client is looked up there.
	var inline any
	json.Unmarshal(c.jwks, &inline)
	cfg := goodConfig()
	cfg["issuer"] = iss
	cfg["clients"] = []any{map[string]any{"client_id": "c1", "jwks": inline}}
	file := writeFile(t, dir, "config.json", []byte(marshalConfig(t, cfg)))
	if r := pkjwt(t, "", "verify", "-config", file, good); r.code != 0 {
		t.Errorf("verify -config: %v", r)
	}
	r := pkjwt(t, "", "verify", "-config", file, other.mint(t, iss))
	if diff := cmp.Diff(wantSteps([]string{"client"}, []string{"key", "signature"}), stepStatus(r.stdout)); r.code != 1 || diff != "" {
		t.Errorf("unknown client: exit %d (-want +got):\n%s\n%v", r.code, diff, r)
	}
}

func TestVerifyUsage(t *testing.T) {
	dir := t.TempDir()
	jwks := writeFile(t, dir, "jwks.json", []byte(`{"keys":[]}`))
	private := writeFile(t, dir, "private.json", []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0c2VjcmV0"}]}`))
	cfg := writeFile(t, dir, "config.json", []byte(marshalConfig(t, goodConfig())))
	for _, tc := range []struct {
		args  []string
		stdin string
		want  string
	}{
		{[]string{"-issuer", "https://as.example", "-jwks", jwks}, "", "no assertion"},
		{[]string{"-issuer", "https://as.example", "x"}, "", "-jwks are required"},
		{[]string{"-config", cfg, "-issuer", "https://as.example", "x"}, "", "cannot be combined with -config"},
		{[]string{"-issuer", "https://as.example", "-jwks", jwks, "-"}, "  \n", "empty assertion"},
		{[]string{"-issuer", "https://as.example", "-jwks", jwks, "a", "b"}, "", "unexpected argument"},
		{[]string{"-issuer", "https://as.example", "-jwks", jwks, "x"}, "", "no usable key"},
		{[]string{"-issuer", "https://as.example", "-jwks", private, "x"}, "", "symmetric key"},
		{[]string{"-issuer", "https://as.example", "-jwks", dir + "/missing.json", "x"}, "", "no such file"},
		{[]string{"-issuer", "https://as.example", "-jwks", "http://127.0.0.1:1/jwks", "x"}, "", "https"},
		{[]string{"-issuer", "as.example", "-jwks", jwks, "x"}, "", "-issuer"},
		{[]string{"-issuer", "https://as.example", "-jwks", jwks, "-audience-policy", "lax", "x"}, "", "-audience-policy"},
		{[]string{"-issuer", "https://as.example", "-jwks", jwks, "-endpoint", "https://as.example/token", "x"}, "", "legacy only"},
		{[]string{"-config", dir + "/none.json", "x"}, "", "pkjwt: config: "},
		{[]string{"-issuer", "https://as.example", "-jwks", jwks, "-leeway", "-1s", "x"}, "", "-leeway must not be negative"},
	} {
		r := pkjwt(t, tc.stdin, append([]string{"verify"}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("verify %q: want exit 2 and %q\n%v", tc.args, tc.want, r)
		}
	}
}
