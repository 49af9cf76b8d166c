package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pkjwt/pkjwt/verify"
)

const demoHelp = `
Show private_key_jwt client authentication (RFC 7523, OpenID Connect Core
§9) from start to finish, in one process: start the reference server on a
free loopback port, generate a client key pair in memory, register the
public key, sign a client assertion, exchange it for an access token,
replay it (refused), introspect the token with a fresh assertion, and
explain a rejected assertion. Every HTTP request and response is printed.

Nothing leaves the machine and nothing is written to disk.
`

func runDemo(ctx context.Context, std stdio, args []string) error {
	fs := newFlagSet(std, "demo", "", demoHelp)
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErrorf("unexpected argument %q", rest[0])
	}
	return demo(ctx, std.out)
}

// demoRun is one run of the demo.
type demoRun struct {
	w      io.Writer
	base   string // http://127.0.0.1:port
	client *http.Client
	key    signingKey
	issuer string
}

// demo runs the walkthrough, printing to w. It returns an error if the
// server does not answer as it should.
func demo(ctx context.Context, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	signer, err := generateKey("p256", 0)
	if err != nil {
		return err
	}
	d := &demoRun{w: w, client: &http.Client{Timeout: 5 * time.Second}, key: signingKey{signer: signer, alg: "ES256"}}
	if d.key.kid, err = thumbprint(signer.Public()); err != nil {
		return err
	}
	jwks, err := publicJWKS(d.key)
	if err != nil {
		return err
	}

	// Listen first: the issuer identifier contains the port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	d.base = "http://" + ln.Addr().String()
	d.issuer = d.base
	doc, err := json.Marshal(map[string]any{
		"listen": ln.Addr().String(),
		"issuer": d.issuer,
		"clients": []any{map[string]any{
			"client_id":                       demoClientID,
			"token_endpoint_auth_signing_alg": d.key.alg,
			"jwks":                            json.RawMessage(jwks),
		}},
	})
	if err != nil {
		return err
	}
	cfg, err := parseConfig(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	s, err := newServer(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	serveCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- s.serve(serveCtx, ln, nil) }()
	defer func() {
		stop()
		<-served
	}()

	d.printf("pkjwt demo: a client authenticates to an OAuth 2.0 authorization server with a\n")
	d.printf("signed JWT instead of a shared secret (private_key_jwt, RFC 7523 and OpenID Connect §9).\n")

	d.step(1, "The authorization server runs at %s. Clients discover it from\n   its metadata (RFC 8414): it accepts private_key_jwt, signed with these algorithms.", d.base)
	meta, err := d.get(ctx, metadataPath)
	if err := d.expect(meta, err, http.StatusOK, ""); err != nil {
		return err
	}

	d.step(2, "The client %q made a key pair. It keeps the private key and\n   registered only the public key with the server, as its \"jwks\" (a \"jwks_uri\"\n   URL works the same way):", demoClientID)
	d.printf("%s\n", indent(prettyJSON(jwks)))

	assertion, err := d.mint()
	if err != nil {
		return err
	}
	d.step(3, "For each request the client signs a fresh, short-lived client assertion, a\n   JWT that names the client (iss, sub) and this server (aud, its issuer\n   identifier), with a unique jti:")
	d.printJWT(assertion)

	d.step(4, "The client sends the assertion, instead of a client secret, to the token\n   endpoint, and gets an access token:")
	form := [][2]string{
		{"grant_type", "client_credentials"},
		{"scope", "demo"},
		{"client_assertion_type", verify.AssertionType},
		{"client_assertion", assertion},
	}
	body, err := d.post(ctx, "/token", form)
	if err := d.expect(body, err, http.StatusOK, ""); err != nil {
		return err
	}
	var tok tokenResponse
	if err := json.Unmarshal(body.body, &tok); err != nil || tok.AccessToken == "" {
		return fmt.Errorf("demo: no access token in %s", body.body)
	}

	d.step(5, "Someone who captured that request sends it again. It is refused: an\n   assertion is good for one request, as the server remembers its jti until it\n   expires.")
	body, err = d.post(ctx, "/token", form)
	if err := d.expect(body, err, http.StatusUnauthorized, "invalid_client"); err != nil {
		return err
	}

	d.step(6, "The token can be checked at the introspection endpoint (RFC 7662), where\n   clients authenticate the same way, with a new assertion:")
	fresh, err := d.mint()
	if err != nil {
		return err
	}
	body, err = d.post(ctx, "/introspect", [][2]string{
		{"token", tok.AccessToken},
		{"client_assertion_type", verify.AssertionType},
		{"client_assertion", fresh},
	})
	if err := d.expect(body, err, http.StatusOK, ""); err != nil {
		return err
	}
	if !bytes.Contains(body.body, []byte(`"active":true`)) {
		return fmt.Errorf("demo: token not active: %s", body.body)
	}

	d.step(7, "When a token endpoint answers invalid_client, 'pkjwt verify' tells why. Here\n   is what it says of an assertion made for another server\n   (aud https://other.example):")
	wrong, err := d.mintFor("https://other.example")
	if err != nil {
		return err
	}
	steps := s.verifier.Explain(ctx, verify.Request{AssertionType: verify.AssertionType, Assertion: wrong})
	var sb strings.Builder
	printSteps(&sb, steps, d.issuer)
	d.printf("%s\n", indent(sb.String()))

	me := self()
	d.printf("\nDone. Next steps:\n\n")
	d.printf("   %s keygen -out-private client.pem -out-jwks client.jwks.json\n", me)
	d.printf("        make a client key pair; register client.jwks.json with the server\n")
	d.printf("   %s serve\n        run the reference server, with instructions to try it with curl\n", me)
	d.printf("   %s mint -h      %[1]s verify -h\n        sign assertions, and explain why one is refused\n", me)
	d.printf("   go test ./...\n        the tests\n")
	return nil
}

func (d *demoRun) printf(format string, args ...any) { fmt.Fprintf(d.w, format, args...) }

func (d *demoRun) step(n int, format string, args ...any) {
	d.printf("\n%d. %s\n\n", n, fmt.Sprintf(format, args...))
}

// mint returns a fresh assertion of the demo client for this server.
func (d *demoRun) mint() (string, error) { return d.mintFor(d.issuer) }

func (d *demoRun) mintFor(aud string) (string, error) {
	now := time.Now()
	return signAssertion(d.key, "JWT", map[string]any{
		"iss": demoClientID,
		"sub": demoClientID,
		"aud": aud,
		"iat": now.Unix(),
		"exp": now.Add(time.Minute).Unix(),
		"jti": randomString(16),
	})
}

// printJWT prints a compact JWT and its decoded header and claims.
func (d *demoRun) printJWT(tok string) {
	d.printf("   header  %s\n   claims  %s\n   signed  %s\n", segment(tok, 0), segment(tok, 1), abbreviate(tok))
}

// response is what the demo prints of an HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (d *demoRun) get(ctx context.Context, path string) (response, error) {
	d.printf("   GET %s\n   Host: %s\n", path, strings.TrimPrefix(d.base, "http://"))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.base+path, nil)
	if err != nil {
		return response{}, err
	}
	return d.do(req)
}

// post sends form, in order, and prints the request with long values
// shortened, one parameter per line.
func (d *demoRun) post(ctx context.Context, path string, form [][2]string) (response, error) {
	d.printf("   POST %s\n   Host: %s\n   Content-Type: application/x-www-form-urlencoded\n\n", path, strings.TrimPrefix(d.base, "http://"))
	var enc []string
	for i, p := range form {
		sep := "   "
		if i > 0 {
			sep = "   &"
		}
		d.printf("%s%s=%s\n", sep, p[0], abbreviate(p[1]))
		enc = append(enc, url.QueryEscape(p[0])+"="+url.QueryEscape(p[1]))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.base+path, strings.NewReader(strings.Join(enc, "&")))
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return d.do(req)
}

func (d *demoRun) do(req *http.Request) (response, error) {
	resp, err := d.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return response{}, err
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// expect prints the response and checks its status and, if code is set,
// its error code.
func (d *demoRun) expect(r response, err error, status int, code string) error {
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	d.printf("\n   → %d %s\n", r.status, http.StatusText(r.status))
	for _, h := range []string{"Cache-Control", "WWW-Authenticate"} {
		if v := r.header.Get(h); v != "" {
			d.printf("   %s: %s\n", h, v)
		}
	}
	d.printf("%s\n", indent(prettyJSON(r.body)))
	if r.status != status {
		return fmt.Errorf("demo: status %d, want %d", r.status, status)
	}
	if code != "" {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(r.body, &e) != nil || e.Error != code {
			return fmt.Errorf("demo: error %q, want %q", e.Error, code)
		}
	}
	return nil
}

// abbreviate shortens long values (assertions) for display.
func abbreviate(s string) string {
	const keep = 40
	if len(s) <= keep+20 {
		return s
	}
	return s[:keep] + "…(" + fmt.Sprint(len(s)) + " characters)"
}

// indent prefixes every non-empty line of s with three spaces.
func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "   " + l
		}
	}
	return strings.Join(lines, "\n")
}

// prettyJSON lays out a JSON object one member per line, and the elements
// of arrays of objects one per line, keeping the member order; anything
// else it returns as it is.
func prettyJSON(b []byte) string {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return string(bytes.TrimSpace(b))
	}
	var out strings.Builder
	out.WriteString("{\n")
	first := true
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return string(bytes.TrimSpace(b))
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return string(bytes.TrimSpace(b))
		}
		if !first {
			out.WriteString(",\n")
		}
		first = false
		k, _ := json.Marshal(key)
		fmt.Fprintf(&out, "  %s: %s", k, compactElements(raw))
	}
	out.WriteString("\n}")
	return out.String()
}

// compactElements returns raw compacted, but an array of objects with one
// element per line.
func compactElements(raw json.RawMessage) string {
	var elems []json.RawMessage
	if json.Unmarshal(raw, &elems) != nil || len(elems) == 0 || bytes.TrimSpace(elems[0])[0] != '{' {
		var c bytes.Buffer
		if json.Compact(&c, raw) != nil {
			return string(raw)
		}
		return c.String()
	}
	parts := make([]string, len(elems))
	for i, e := range elems {
		var c bytes.Buffer
		json.Compact(&c, e)
		parts[i] = "    " + c.String()
	}
	return "[\n" + strings.Join(parts, ",\n") + "\n  ]"
}
