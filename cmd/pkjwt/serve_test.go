package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pkjwt/pkjwt/internal/redistest"
	"github.com/pkjwt/pkjwt/verify"
)

// syncBuffer is a bytes.Buffer a process writes to while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// serveProc is a running "pkjwt serve".
type serveProc struct {
	cmd    *exec.Cmd
	issuer string // also the base URL
	config string // path of the configuration file
	stderr *syncBuffer
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServe runs "pkjwt serve -config" with cfg, whose listen and issuer
// it sets to a free port, and waits until the metadata answers 200. The
// server is killed when the test ends, if still running.
func startServe(t *testing.T, cfg map[string]any) *serveProc {
	t.Helper()
	for attempt := 1; ; attempt++ {
		p, err := tryServe(t, cfg)
		if err == nil {
			return p
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
	}
}

func tryServe(t *testing.T, cfg map[string]any) (*serveProc, error) {
	t.Helper()
	port := freePort(t)
	listen := "127.0.0.1:" + strconv.Itoa(port)
	cfg["listen"] = listen
	cfg["issuer"] = "http://" + listen
	dir := t.TempDir()
	file := writeFile(t, dir, "config.json", []byte(marshalConfig(t, cfg)))
	p, err := launchServe(t, "http://"+listen, dir, "serve", "-config", file)
	if p != nil {
		p.config = file
	}
	return p, err
}

// launchServe starts the binary with args in dir (empty: the test's) and
// waits until issuer's metadata answers 200. The process is killed when
// the test ends.
func launchServe(t *testing.T, issuer, dir string, args ...string) (*serveProc, error) {
	t.Helper()
	p := &serveProc{issuer: issuer, stderr: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Dir = dir
	// A state directory of the test's own: the memory store's default
	// state file goes there, not into the user's home.
	p.cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0", "XDG_STATE_HOME="+t.TempDir())
	p.cmd.Stdout, p.cmd.Stderr = p.stderr, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("serve output:\n%s", p.stderr)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-p.exited:
			return nil, fmt.Errorf("serve exited (%v):\n%s", p.err, p.stderr)
		default:
		}
		resp, err := http.Get(p.issuer + metadataPath)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("serve not ready after 20s (%v):\n%s", err, p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends sig and returns the exit status.
func (p *serveProc) stop(t *testing.T, sig os.Signal) int {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not exit after %v:\n%s", sig, p.stderr)
	}
	var exit *exec.ExitError
	if errors.As(p.err, &exit) {
		return exit.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

// httpResult is an HTTP response with its JSON body decoded.
type httpResult struct {
	status int
	header http.Header
	json   map[string]any
	raw    string
}

func (r httpResult) String() string { return fmt.Sprintf("%d %s", r.status, r.raw) }

func doHTTP(t *testing.T, method, u string, form url.Values) httpResult {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := httpResult{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	json.Unmarshal(b, &r.json)
	return r
}

// assertionForm is a token or introspection request body carrying
// assertion, plus the pairs in extra.
func assertionForm(assertion string, extra ...string) url.Values {
	f := url.Values{"client_assertion_type": {verify.AssertionType}, "client_assertion": {assertion}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Add(extra[i], extra[i+1])
	}
	return f
}

// testClient is a client key pair made by "pkjwt keygen" in dir.
type testClient struct {
	id, key, jwksFile string
	jwks              []byte
}

func keygenClient(t *testing.T, dir, id, typ, format string) testClient {
	t.Helper()
	c := testClient{id: id, key: filepath.Join(dir, id+".key"), jwksFile: filepath.Join(dir, id+".jwks.json")}
	r := pkjwtIn(t, dir, "", "keygen", "-type", typ, "-format", format, "-out-private", c.key, "-out-jwks", c.jwksFile)
	if r.code != 0 {
		t.Fatal(r)
	}
	var err error
	if c.jwks, err = os.ReadFile(c.jwksFile); err != nil {
		t.Fatal(err)
	}
	return c
}

// mint runs "pkjwt mint" for c and returns the assertion.
func (c testClient) mint(t *testing.T, aud string, args ...string) string {
	t.Helper()
	r := mustRun(t, "", append([]string{"mint", "-key", c.key, "-iss", c.id, "-aud", aud}, args...)...)
	return strings.TrimSpace(r.stdout)
}

// jwksServer serves b at /jwks.json on 127.0.0.1.
func jwksServer(t *testing.T, b []byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/jwks.json" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/jwks.json"
}

// TestServe runs the server as a black box: keys from keygen, assertions
// from mint, one client with a jwks_uri on a local HTTP server and one with
// an inline jwks.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	c1 := keygenClient(t, dir, "c1", "p256", "pem")
	c2 := keygenClient(t, dir, "c2", "ed25519", "jwk")
	var inline any
	if err := json.Unmarshal(c2.jwks, &inline); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, map[string]any{
		"allow_insecure_jwks_uri": true,
		"jwks_refresh_seconds":    1,
		"clients": []any{
			map[string]any{"client_id": "c1", "jwks_uri": jwksServer(t, c1.jwks), "token_endpoint_auth_signing_alg": "ES256"},
			map[string]any{"client_id": "c2", "jwks": inline},
		},
	})
	iss := p.issuer
	tokenURL, introspectURL := iss+"/token", iss+"/introspect"

	t.Run("metadata", func(t *testing.T) {
		r := doHTTP(t, http.MethodGet, iss+"/.well-known/oauth-authorization-server", nil)
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Fatalf("metadata: %v", r)
		}
		algs := []any{}
		for _, a := range verify.DefaultAlgorithms() {
			algs = append(algs, a)
		}
		want := map[string]any{
			"issuer":                                                   iss,
			"token_endpoint":                                           tokenURL,
			"introspection_endpoint":                                   introspectURL,
			"grant_types_supported":                                    []any{"client_credentials"},
			"response_types_supported":                                 []any{},
			"token_endpoint_auth_methods_supported":                    []any{"private_key_jwt"},
			"token_endpoint_auth_signing_alg_values_supported":         algs,
			"introspection_endpoint_auth_methods_supported":            []any{"private_key_jwt"},
			"introspection_endpoint_auth_signing_alg_values_supported": algs,
		}
		if diff := cmp.Diff(want, r.json); diff != "" {
			t.Errorf("metadata (-want +got):\n%s", diff)
		}
	})

	var accessToken string
	t.Run("token and replay", func(t *testing.T) {
		a := c1.mint(t, iss)
		form := assertionForm(a, "grant_type", "client_credentials")
		r := doHTTP(t, http.MethodPost, tokenURL, form)
		if r.status != http.StatusOK {
			t.Fatalf("token: %v", r)
		}
		if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
			t.Errorf("token response headers %v", r.header)
		}
		accessToken, _ = r.json["access_token"].(string)
		if len(accessToken) != 43 || r.json["token_type"] != "Bearer" || r.json["expires_in"] != 3600.0 {
			t.Errorf("token response %v", r)
		}
		r = doHTTP(t, http.MethodPost, tokenURL, form)
		if r.status != http.StatusUnauthorized || r.json["error"] != "invalid_client" || !strings.Contains(r.raw, "already used") {
			t.Errorf("replay: %v", r)
		}
		// The replay store is shared with introspection.
		r = doHTTP(t, http.MethodPost, introspectURL, assertionForm(a, "token", accessToken))
		if r.status != http.StatusUnauthorized || r.json["error"] != "invalid_client" {
			t.Errorf("replay at /introspect: %v", r)
		}
	})

	t.Run("introspection", func(t *testing.T) {
		r := doHTTP(t, http.MethodPost, tokenURL, assertionForm(c2.mint(t, iss), "grant_type", "client_credentials", "scope", "read write"))
		if r.status != http.StatusOK || r.json["scope"] != "read write" {
			t.Fatalf("token for c2: %v", r)
		}
		tok := r.json["access_token"].(string)
		start := time.Now().Unix()
		r = doHTTP(t, http.MethodPost, introspectURL, assertionForm(c1.mint(t, iss), "token", tok))
		if r.status != http.StatusOK {
			t.Fatalf("introspect: %v", r)
		}
		exp, iat := r.json["exp"].(float64), r.json["iat"].(float64)
		if int64(iat) < start-5 || exp-iat != 3600 {
			t.Errorf("iat %v exp %v", iat, exp)
		}
		delete(r.json, "exp")
		delete(r.json, "iat")
		want := map[string]any{"active": true, "client_id": "c2", "scope": "read write", "token_type": "Bearer", "iss": iss}
		if diff := cmp.Diff(want, r.json); diff != "" {
			t.Errorf("introspection (-want +got):\n%s", diff)
		}
		for _, unknown := range []string{"nope", accessToken + "x"} {
			r = doHTTP(t, http.MethodPost, introspectURL, assertionForm(c2.mint(t, iss), "token", unknown))
			if r.status != http.StatusOK || !cmp.Equal(r.json, map[string]any{"active": false}) {
				t.Errorf("unknown token: %v", r)
			}
		}
		r = doHTTP(t, http.MethodPost, introspectURL, assertionForm(c2.mint(t, iss)))
		if r.status != http.StatusBadRequest || r.json["error"] != "invalid_request" {
			t.Errorf("no token parameter: %v", r)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			method string
			url    string
			form   url.Values
			status int
			code   string
		}{
			{"password grant", "POST", tokenURL, assertionForm(c1.mint(t, iss), "grant_type", "password"), 400, "unsupported_grant_type"},
			{"no grant", "POST", tokenURL, assertionForm(c1.mint(t, iss)), 400, "invalid_request"},
			{"bad scope", "POST", tokenURL, assertionForm(c1.mint(t, iss), "grant_type", "client_credentials", "scope", `a"b`), 400, "invalid_scope"},
			{"no assertion", "POST", tokenURL, url.Values{"grant_type": {"client_credentials"}}, 401, "invalid_client"},
			{"token endpoint aud", "POST", tokenURL, assertionForm(c1.mint(t, tokenURL), "grant_type", "client_credentials"), 401, "invalid_client"},
			{"expired", "POST", tokenURL, assertionForm(c1.mint(t, iss, "-lifetime", "-1m"), "grant_type", "client_credentials"), 401, "invalid_client"},
			{"registered alg only", "POST", tokenURL, assertionForm(c2.mint(t, iss, "-iss", "c1"), "grant_type", "client_credentials"), 401, "invalid_client"},
			{"other client's key", "POST", tokenURL, assertionForm(c1.mint(t, iss, "-iss", "c2"), "grant_type", "client_credentials"), 401, "invalid_client"},
			{"GET token", "GET", tokenURL, nil, 405, "invalid_request"},
			{"POST metadata", "POST", iss + metadataPath, url.Values{}, 405, ""},
			{"unknown path", "GET", iss + "/authorize", nil, 404, ""},
		} {
			r := doHTTP(t, tc.method, tc.url, tc.form)
			if r.status != tc.status || tc.code != "" && r.json["error"] != tc.code {
				t.Errorf("%s: %v, want %d %s", tc.name, r, tc.status, tc.code)
			}
		}
	})

	t.Run("verify against the server", func(t *testing.T) {
		// verify, through the configuration and through the jwks_uri,
		// explains a good assertion without using it up.
		a := c1.mint(t, iss)
		r := mustRun(t, "", "verify", "-config", p.config, a)
		if !strings.Contains(r.stdout, "Result: accepted") {
			t.Errorf("verify -config: %v", r)
		}
		r = mustRun(t, "", "verify", "-issuer", iss, "-jwks", jwksServer(t, c1.jwks), "-insecure", a)
		if !strings.Contains(r.stdout, "Result: accepted") {
			t.Errorf("verify -jwks URL: %v", r)
		}
		if r := doHTTP(t, http.MethodPost, tokenURL, assertionForm(a, "grant_type", "client_credentials")); r.status != http.StatusOK {
			t.Errorf("assertion explained by verify no longer works: %v", r)
		}
	})

	if code := p.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit status %d after SIGTERM", code)
	}
}

// TestServeAudiencePolicies checks each policy end to end.
func TestServeAudiencePolicies(t *testing.T) {
	dir := t.TempDir()
	c := keygenClient(t, dir, "c1", "p256", "pem")
	var inline any
	json.Unmarshal(c.jwks, &inline)
	for _, tc := range []struct {
		policy   string // "" for absent
		accepted []string
	}{
		{"", []string{"issuer", "issuer array"}},
		{"rfc7523bis", []string{"issuer", "issuer array"}},
		{"strict", []string{"issuer"}},
		{"legacy", []string{"issuer", "issuer array", "token endpoint", "token endpoint and other"}},
	} {
		name := tc.policy
		if name == "" {
			name = "absent"
		}
		t.Run(name, func(t *testing.T) {
			cfg := map[string]any{"clients": []any{map[string]any{"client_id": "c1", "jwks": inline}}}
			if tc.policy != "" {
				cfg["audience_policy"] = tc.policy
			}
			p := startServe(t, cfg)
			auds := []struct {
				name string
				args []string
			}{
				{"issuer", []string{"-aud", p.issuer}},
				{"issuer array", []string{"-aud", p.issuer, "-aud-array"}},
				{"token endpoint", []string{"-aud", p.issuer + "/token"}},
				{"token endpoint and other", []string{"-aud", p.issuer + "/token", "-aud", "https://other.example"}},
				{"issuer with slash", []string{"-aud", p.issuer + "/"}},
				{"other", []string{"-aud", "https://other.example"}},
			}
			var got []string
			for _, aud := range auds {
				r := mustRun(t, "", append([]string{"mint", "-key", c.key, "-iss", "c1"}, aud.args...)...)
				res := doHTTP(t, http.MethodPost, p.issuer+"/token", assertionForm(strings.TrimSpace(r.stdout), "grant_type", "client_credentials"))
				switch res.status {
				case http.StatusOK:
					got = append(got, aud.name)
				case http.StatusUnauthorized:
				default:
					t.Errorf("%s: %v", aud.name, res)
				}
			}
			if !slices.Equal(got, tc.accepted) {
				t.Errorf("accepted %q, want %q", got, tc.accepted)
			}
		})
	}
}

func TestServeSignals(t *testing.T) {
	dir := t.TempDir()
	c := keygenClient(t, dir, "c1", "p256", "pem")
	var inline any
	json.Unmarshal(c.jwks, &inline)
	for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
		p := startServe(t, map[string]any{"clients": []any{map[string]any{"client_id": "c1", "jwks": inline}}})
		if code := p.stop(t, sig); code != 0 {
			t.Errorf("%v: exit status %d\n%s", sig, code, p.stderr)
		}
		if !strings.Contains(p.stderr.String(), "shut down") {
			t.Errorf("%v: no shutdown message:\n%s", sig, p.stderr)
		}
		if _, err := http.Get(p.issuer + metadataPath); err == nil {
			t.Errorf("%v: still answering after exit", sig)
		}
	}
}

// TestServeBadConfig runs every bad configuration of badConfigs through
// the binary: exit status 2 and a message naming the field.
func TestServeBadConfig(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range badConfigs {
		doc := tc.raw
		if tc.edit != nil {
			m := goodConfig()
			tc.edit(m)
			doc = marshalConfig(t, m)
		}
		file := writeFile(t, dir, "config.json", []byte(doc))
		r := pkjwt(t, "", "serve", "-config", file)
		prefix := "pkjwt: config: "
		if tc.field != "" {
			prefix += tc.field + ": "
		}
		if r.code != 2 || !strings.HasPrefix(r.stderr, prefix) || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: want exit 2 and %q...%q\n%v", tc.name, prefix, tc.want, r)
		}
	}
	r := pkjwt(t, "", "serve", "-config", filepath.Join(dir, "missing.json"))
	if r.code != 2 || !strings.Contains(r.stderr, "pkjwt: config: ") {
		t.Errorf("missing file: %v", r)
	}
	good := writeFile(t, dir, "good.json", []byte(marshalConfig(t, goodConfig())))
	if r := pkjwt(t, "", "serve", "-config", good, "-check"); r.code != 0 || !strings.Contains(r.stderr, "configuration OK") {
		t.Errorf("-check of a good configuration: %v", r)
	}
}

// TestServeRedis runs two servers on one real redis-server: an assertion
// used at one is refused by the other, as in a cluster.
func TestServeRedis(t *testing.T) {
	redis := redistest.Start(t) // skips, saying so, without redis-server
	dir := t.TempDir()
	c := keygenClient(t, dir, "c1", "p384", "pem")
	var inline any
	json.Unmarshal(c.jwks, &inline)
	cfg := func() map[string]any {
		return map[string]any{
			"replay":         map[string]any{"redis_url": "redis://" + redis.Addr() + "/0"},
			"leeway_seconds": 1,
			"clients":        []any{map[string]any{"client_id": "c1", "jwks": inline}},
		}
	}
	a, b := startServe(t, cfg()), startServe(t, cfg())
	if !strings.Contains(a.stderr.String(), "replay store: redis "+redis.Addr()) {
		t.Errorf("serve does not report the redis store:\n%s", a.stderr)
	}
	// An empty Redis cannot be told from one that lost its claims: its
	// first use starts the store's epoch, and assertions issued before
	// that (plus the leeway) are refused.
	if r := doHTTP(t, http.MethodPost, a.issuer+"/token", assertionForm(c.mint(t, a.issuer), "grant_type", "client_credentials")); r.status != http.StatusUnauthorized || !strings.Contains(r.raw, epochRefusal) {
		t.Fatalf("first use of an empty Redis: %v, want 401 %q", r, epochRefusal)
	}
	time.Sleep(time.Until(time.Now().Add(time.Second).Truncate(time.Second).Add(time.Second)))
	assertion := c.mint(t, a.issuer)
	if r := doHTTP(t, http.MethodPost, a.issuer+"/token", assertionForm(assertion, "grant_type", "client_credentials")); r.status != http.StatusOK {
		t.Fatalf("first use: %v", r)
	}
	if r := doHTTP(t, http.MethodPost, a.issuer+"/token", assertionForm(assertion, "grant_type", "client_credentials")); r.status != http.StatusUnauthorized {
		t.Errorf("replay at the same server: %v", r)
	}
	// Same jti, minted for server b: the claim is per client and jti, so
	// b refuses it because a has seen it.
	again := c.mint(t, b.issuer, "-jti", jtiOf(t, assertion))
	if r := doHTTP(t, http.MethodPost, b.issuer+"/token", assertionForm(again, "grant_type", "client_credentials")); r.status != http.StatusUnauthorized || !strings.Contains(r.raw, "already used") {
		t.Errorf("jti reused at the other server: %v", r)
	}

	// Redis going away fails closed, with a server error.
	redis.Stop()
	r := doHTTP(t, http.MethodPost, a.issuer+"/token", assertionForm(c.mint(t, a.issuer), "grant_type", "client_credentials"))
	if r.status != http.StatusServiceUnavailable || r.json["error"] != "server_error" {
		t.Errorf("redis down: %v", r)
	}

	// A redis that does not answer at start-up is an error (exit 1).
	file := writeFile(t, dir, "dead.json", []byte(marshalConfig(t, func() map[string]any {
		m := cfg()
		m["listen"], m["issuer"] = "127.0.0.1:0", "http://127.0.0.1:1"
		m["replay"] = map[string]any{"redis_url": fmt.Sprintf("redis://127.0.0.1:%d/0", freePort(t))}
		return m
	}())))
	if r := pkjwt(t, "", "serve", "-config", file); r.code != 1 || !strings.Contains(r.stderr, "does not answer") {
		t.Errorf("dead redis at start-up: %v", r)
	}
}

func jtiOf(t *testing.T, assertion string) string {
	t.Helper()
	_, c := decodeJWT(t, assertion)
	return c["jti"].(string)
}

// TestServeJWKSRefresh checks that jwks_refresh_seconds is honoured: a key
// removed from the client's jwks_uri stops verifying after the next
// background refresh.
func TestServeJWKSRefresh(t *testing.T) {
	dir := t.TempDir()
	oldKey := keygenClient(t, dir, "old", "p256", "pem")
	newKey := keygenClient(t, dir, "new", "p256", "pem")
	var (
		mu   sync.Mutex
		jwks = oldKey.jwks
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(jwks)
	}))
	defer srv.Close()
	p := startServe(t, map[string]any{
		"allow_insecure_jwks_uri": true,
		"jwks_refresh_seconds":    1,
		"clients":                 []any{map[string]any{"client_id": "c1", "jwks_uri": srv.URL}},
	})
	tokenWith := func(c testClient) int {
		return doHTTP(t, http.MethodPost, p.issuer+"/token", assertionForm(c.mint(t, p.issuer, "-iss", "c1"), "grant_type", "client_credentials")).status
	}
	if s := tokenWith(oldKey); s != http.StatusOK {
		t.Fatalf("old key before rotation: %d", s)
	}
	mu.Lock()
	jwks = newKey.jwks
	mu.Unlock()
	rotated := time.Now()
	for tokenWith(oldKey) == http.StatusOK {
		if time.Since(rotated) > 10*time.Second {
			t.Fatal("old key still accepted 10s after rotation with a 1s refresh")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d := time.Since(rotated); d > 3*time.Second {
		t.Errorf("old key refused only after %v", d)
	}
	if s := tokenWith(newKey); s != http.StatusOK {
		t.Errorf("new key after rotation: %d", s)
	}
}

// TestServeDemoConfiguration runs serve without -config, as its
// instructions say: mint -demo-key, then the token endpoint. It needs the
// demo's fixed port, 18080, and skips when that is taken.
func TestServeDemoConfiguration(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:18080")
	if err != nil {
		t.Skipf("port 18080 of the demo configuration is taken: %v", err)
	}
	l.Close()
	p, err := launchServe(t, "http://127.0.0.1:18080", "", "serve")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Try it", "mint -demo-key -aud http://127.0.0.1:18080", "curl -s http://127.0.0.1:18080/token"} {
		if !strings.Contains(p.stderr.String(), want) {
			t.Errorf("instructions lack %q:\n%s", want, p.stderr)
		}
	}
	a := strings.TrimSpace(mustRun(t, "", "mint", "-demo-key", "-aud", p.issuer).stdout)
	form := assertionForm(a, "grant_type", "client_credentials")
	if r := doHTTP(t, http.MethodPost, p.issuer+"/token", form); r.status != http.StatusOK {
		t.Errorf("demo client: %v", r)
	}
	if r := doHTTP(t, http.MethodPost, p.issuer+"/token", form); r.status != http.StatusUnauthorized {
		t.Errorf("demo client replay: %v", r)
	}
	if code := p.stop(t, os.Interrupt); code != 0 {
		t.Errorf("exit status %d", code)
	}
}
