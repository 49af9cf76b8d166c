// Package oidcprovidertest starts node oidc-provider
// (https://github.com/panva/node-oidc-provider), a certified OpenID Provider,
// as a third-party authorization server for tests.
//
// The provider listens on a free loopback port, registers the given clients
// for private_key_jwt client authentication (RFC 7523, OpenID Connect Core
// §9) and the client_credentials grant, enables its token introspection
// (RFC 7662) and revocation (RFC 7009) endpoints, keeps everything in memory
// and is killed when the test that started it ends.
//
// The node package is pinned by package.json and package-lock.json in this
// directory and installed with `npm ci` (as .ci/run does). [Start] skips the
// test when node or the installed package is missing, except under CI (the
// CI environment variable set), where that fails the test.
//
// What oidc-provider checks in a client assertion: alg among the client's
// token_endpoint_auth_signing_alg (or the provider's list: RS*, PS*, ES*,
// EdDSA), exp, jti (single use), iss = client_id, and aud equal to (or, for
// an array, containing) the issuer, the token endpoint URL or the URL of the
// endpoint called.
package oidcprovidertest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// startTimeout bounds how long Start waits for the provider to answer.
const startTimeout = 30 * time.Second

// Client is a client registered with the provider. It authenticates with
// private_key_jwt and may use the client_credentials grant.
type Client struct {
	// ID is the client_id. Required.
	ID string

	// JWKS is the client's public JWK Set document, registered inline (the
	// jwks client metadata). Exactly one of JWKS and JWKSURI is required.
	JWKS json.RawMessage

	// JWKSURI is the URL the provider fetches the client's JWK Set from (the
	// jwks_uri client metadata). Loopback URLs are allowed. The provider
	// caches the set and fetches it again when an assertion names a kid it
	// does not hold.
	JWKSURI string

	// SigningAlg, when set, is the only JWS alg the provider accepts in the
	// client's assertions (token_endpoint_auth_signing_alg). Empty: any of
	// RS256/384/512, PS256/384/512, ES256/384/512 and EdDSA.
	SigningAlg string

	// Scope is the space-separated list of scopes the client may request.
	// Empty: none.
	Scope string
}

// Provider is a running oidc-provider process owned by one test.
type Provider struct {
	// Issuer is the issuer identifier, "http://127.0.0.1:PORT" (no trailing
	// slash).
	Issuer string

	// MetadataURL is the URL of the provider's discovery document,
	// Issuer + "/.well-known/openid-configuration". oidc-provider serves no
	// separate RFC 8414 document at /.well-known/oauth-authorization-server.
	MetadataURL string

	// TokenURL is the token endpoint (Issuer + "/token").
	TokenURL string

	// IntrospectionURL is the token introspection endpoint (RFC 7662).
	IntrospectionURL string

	// RevocationURL is the token revocation endpoint (RFC 7009).
	RevocationURL string

	cmd    *exec.Cmd
	stdin  io.Closer
	output *lockedBuffer
	exited chan struct{}
}

// Start starts oidc-provider with clients registered, waits until it serves
// its discovery document and registers a cleanup that kills it when tb
// ends (logging its output if tb failed). Any failure is fatal to tb.
//
// Start skips tb, saying so, when node is not on the PATH or the node
// package is not installed (run `npm ci` in this package's directory),
// except under CI, where that fails tb.
func Start(tb testing.TB, clients ...Client) *Provider {
	tb.Helper()
	dir, err := packageDir()
	if err == nil {
		_, err = exec.LookPath("node")
	}
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "oidc-provider", "package.json"))
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			// .ci/run installs node and the package: in CI their absence is
			// a broken setup, never a reason to skip.
			tb.Fatalf("oidcprovidertest: node oidc-provider unavailable in CI: %v", err)
		}
		tb.Skipf("oidcprovidertest: node oidc-provider unavailable (%v); install node 20+ and run `npm ci` in internal/oidcprovidertest to run this test", err)
	}
	config, err := configJSON(clients)
	if err != nil {
		tb.Fatalf("oidcprovidertest: %v", err)
	}

	cmd := exec.Command("node", filepath.Join(dir, "provider.mjs"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PKJWT_OIDC_CONFIG="+config, "NODE_ENV=test")
	cmd.SysProcAttr = sysProcAttr()
	out := &lockedBuffer{}
	ready := make(chan string, 1)
	cmd.Stderr = out
	cmd.Stdout = &firstLineWriter{w: out, line: ready}
	// The script exits when its stdin closes: a second guard, beside the
	// parent-death signal, against a provider outliving the test.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatalf("oidcprovidertest: %v", err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("oidcprovidertest: start node: %v", err)
	}
	p := &Provider{cmd: cmd, stdin: stdin, output: out, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	tb.Cleanup(func() {
		p.stop()
		if tb.Failed() {
			tb.Logf("oidcprovidertest: oidc-provider output:\n%s", out.tail(8<<10))
		}
	})

	var line string
	select {
	case line = <-ready:
	case <-p.exited:
		tb.Fatalf("oidcprovidertest: oidc-provider exited before it served; output:\n%s", out.tail(8<<10))
	case <-time.After(startTimeout):
		tb.Fatalf("oidcprovidertest: oidc-provider did not start within %v; output:\n%s", startTimeout, out.tail(8<<10))
	}
	var hello struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal([]byte(line), &hello); err != nil || hello.Issuer == "" {
		tb.Fatalf("oidcprovidertest: oidc-provider did not start (%q); output:\n%s", line, out.tail(8<<10))
	}
	p.Issuer = hello.Issuer
	p.MetadataURL = p.Issuer + "/.well-known/openid-configuration"
	if err := p.readMetadata(); err != nil {
		tb.Fatalf("oidcprovidertest: %v; output:\n%s", err, out.tail(8<<10))
	}
	return p
}

// stop kills the provider and waits for it to exit. It is idempotent.
func (p *Provider) stop() {
	_ = p.stdin.Close()
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// readMetadata fills in the endpoint URLs from the discovery document.
func (p *Provider) readMetadata() error {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(p.MetadataURL)
	if err != nil {
		return fmt.Errorf("read metadata: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read metadata: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("read metadata: %s: %s", resp.Status, body)
	}
	var md struct {
		Issuer        string `json:"issuer"`
		Token         string `json:"token_endpoint"`
		Introspection string `json:"introspection_endpoint"`
		Revocation    string `json:"revocation_endpoint"`
	}
	if err := json.Unmarshal(body, &md); err != nil {
		return fmt.Errorf("read metadata: %w", err)
	}
	if md.Issuer != p.Issuer || md.Token == "" || md.Introspection == "" || md.Revocation == "" {
		return fmt.Errorf("read metadata: unexpected document %s", body)
	}
	p.TokenURL, p.IntrospectionURL, p.RevocationURL = md.Token, md.Introspection, md.Revocation
	return nil
}

// configJSON validates clients and encodes them for provider.mjs.
func configJSON(clients []Client) (string, error) {
	type client struct {
		ID         string          `json:"client_id"`
		JWKS       json.RawMessage `json:"jwks,omitempty"`
		JWKSURI    string          `json:"jwks_uri,omitempty"`
		SigningAlg string          `json:"signing_alg,omitempty"`
		Scope      string          `json:"scope,omitempty"`
	}
	var cfg struct {
		Clients []client `json:"clients"`
	}
	seen := map[string]bool{}
	for i, c := range clients {
		switch {
		case c.ID == "":
			return "", fmt.Errorf("client %d: empty ID", i)
		case seen[c.ID]:
			return "", fmt.Errorf("client %q registered twice", c.ID)
		case (len(c.JWKS) == 0) == (c.JWKSURI == ""):
			return "", fmt.Errorf("client %q: exactly one of JWKS and JWKSURI is required", c.ID)
		case len(c.JWKS) > 0 && !json.Valid(c.JWKS):
			return "", fmt.Errorf("client %q: JWKS is not valid JSON", c.ID)
		}
		seen[c.ID] = true
		cfg.Clients = append(cfg.Clients, client(c))
	}
	b, err := json.Marshal(cfg)
	return string(b), err
}

// packageDir returns the directory of this package's source, where
// provider.mjs and node_modules are.
func packageDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the package's source directory")
	}
	dir := filepath.Dir(file)
	if _, err := os.Stat(filepath.Join(dir, "provider.mjs")); err != nil {
		return "", err
	}
	return dir, nil
}

// lockedBuffer collects the process's output for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// tail returns at most the last n bytes written.
func (b *lockedBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return strings.TrimSpace(s)
}

// firstLineWriter passes everything to w and sends the first line written
// (without its newline) on line.
type firstLineWriter struct {
	w    io.Writer
	line chan<- string
	buf  []byte
	sent bool
}

func (f *firstLineWriter) Write(p []byte) (int, error) {
	if !f.sent {
		f.buf = append(f.buf, p...)
		if i := bytes.IndexByte(f.buf, '\n'); i >= 0 {
			f.line <- string(f.buf[:i])
			f.sent, f.buf = true, nil
		}
	}
	return f.w.Write(p)
}
