package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const probeHelp = `
Audit a token endpoint's private_key_jwt checks from the outside: send it a
correct client assertion (the baseline, which must get a token), then one
request per probe, each a deliberately wrong assertion or request (replay,
alg none, HS256 keyed with the public key, a key from the header, a year of
lifetime, another audience, ...), and report which the server accepted.
Point it only at a server you operate, with a client registered for the
purpose: each accepted probe gets a real access token.

Given -issuer, the endpoints come from the RFC 8414 metadata
(/.well-known/oauth-authorization-server, else openid-configuration);
-token-url and the other -*-url flags override them. The baseline
assertion's aud is the issuer (-aud overrides it).

Each answer is classified:
  refused       4xx with invalid_client or invalid_request (or 401, 413)
  accepted      a token (2xx): the server has the hole
  error         5xx, timeout, connection failure: never counted as refused
  inconclusive  anything else, or every answer when a correct assertion
                sent after the probes is refused too
  n/a           the probe does not apply (no such endpoint, key type)

Safety: at most -max-requests requests (default 100), at most -rate per
second, nothing sent to any host but the one(s) named on the command line
(redirects are not followed, proxies not used), -dry-run sends nothing.
For loopback targets the probe runs a listener on 127.0.0.1 that the jku
and x5u probes point to, and reports whether the server fetched them; for
other targets those URLs point to a .invalid name that never resolves.

The exit status is 0 when no critical or high probe was accepted, 1 when
one was, and 2 on a usage error, when the baseline gets no token, or when
nothing was accepted and the control gets no token.

Examples:
  pkjwt probe -issuer https://as.example.com -client-id my-client -key client.pem
  pkjwt probe -issuer http://127.0.0.1:18080 -insecure-http -client-id demo-client -demo-key
  pkjwt probe -list
`

// Defaults of the probe's safety limits.
const (
	defaultProbeMaxRequests = 100
	defaultProbeRate        = 5.0
	defaultProbeTimeout     = 10 * time.Second
	maxProbeResponse        = 1 << 20 // bytes read of any answer
)

// probeConfig is what the flags of probe say.
type probeConfig struct {
	issuer, aud, clientID, otherClientID              string
	tokenURL, introspectionURL, revocationURL, parURL string
	key                                               signingKey
	registeredAlg                                     string // the alg the client registered, if known
	params                                            url.Values
	jsonOut, dryRun, insecureHTTP                     bool
	maxRequests                                       int
	rate                                              float64
	timeout                                           time.Duration
}

func runProbe(ctx context.Context, std stdio, args []string) error {
	fs := newFlagSet(std, "probe", "-issuer URL | -token-url URL  -client-id ID  -key FILE [flags]", probeHelp)
	issuer := fs.String("issuer", "", "the authorization server's issuer `URL`: discovers the endpoints (RFC 8414) and is the baseline's aud")
	tokenURL := fs.String("token-url", "", "the token endpoint `URL` (default: from the metadata)")
	introspectionURL := fs.String("introspection-url", "", "the introspection endpoint `URL` (default: from the metadata)")
	revocationURL := fs.String("revocation-url", "", "the revocation endpoint `URL` (default: from the metadata)")
	parURL := fs.String("par-url", "", "the pushed authorization request endpoint `URL` (default: from the metadata)")
	aud := fs.String("aud", "", "the aud of correct assertions (default: the issuer, or the token endpoint without -issuer)")
	clientID := fs.String("client-id", "", "the client_id of the registered private_key_jwt client (required)")
	otherClient := fs.String("other-client-id", "pkjwt-probe-other-client", "a client_id that is not the probe's client, for the identity probes")
	keyFlags := addKeyFlags(fs, true, "the client's registered signing alg (default: the JWK's alg, or by key type); enables the other-alg probe")
	grantType := fs.String("grant-type", "client_credentials", "grant_type of token requests")
	scope := fs.String("scope", "", "scope of token requests, if any")
	resource := fs.String("resource", "", "resource indicator (RFC 8707) of token requests, if any")
	var params stringsFlag
	fs.Var(&params, "param", "a further `name=value` form parameter of token requests (repeatable)")
	jsonOut := fs.Bool("json", false, "print the report as JSON")
	maxRequests := fs.Int("max-requests", defaultProbeMaxRequests, "hard cap on the requests sent, discovery included")
	rate := fs.Float64("rate", defaultProbeRate, "requests per second at most; 0: no limit")
	timeout := fs.Duration("timeout", defaultProbeTimeout, "timeout of each request")
	dryRun := fs.Bool("dry-run", false, "print what would be sent and send nothing")
	insecureHTTP := fs.Bool("insecure-http", false, "allow http:// URLs, for loopback targets only")
	list := fs.Bool("list", false, "print the probe catalog with its spec references and exit")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *list {
		return printCatalog(std.out)
	}
	switch {
	case len(rest) > 0:
		return usageErrorf("unexpected argument %q", rest[0])
	case *issuer == "" && *tokenURL == "":
		return usageErrorf("-issuer or -token-url is required")
	case *clientID == "":
		return usageErrorf("-client-id is required")
	case *otherClient == "" || *otherClient == *clientID:
		return usageErrorf("-other-client-id must name another client")
	case *maxRequests <= 0:
		return usageErrorf("-max-requests must be positive")
	case *rate < 0:
		return usageErrorf("-rate must not be negative")
	case *timeout <= 0:
		return usageErrorf("-timeout must be positive")
	}
	if err := keyFlags.check(); err != nil {
		return err
	}
	cfg := probeConfig{
		issuer: *issuer, aud: *aud, clientID: *clientID, otherClientID: *otherClient,
		tokenURL: *tokenURL, introspectionURL: *introspectionURL, revocationURL: *revocationURL, parURL: *parURL,
		params: url.Values{"grant_type": {*grantType}}, jsonOut: *jsonOut, dryRun: *dryRun, insecureHTTP: *insecureHTTP,
		maxRequests: *maxRequests, rate: *rate, timeout: *timeout,
	}
	if *scope != "" {
		cfg.params.Set("scope", *scope)
	}
	if *resource != "" {
		cfg.params.Set("resource", *resource)
	}
	for _, p := range params {
		name, value, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return usageErrorf("-param %q: want name=value", p)
		}
		switch {
		case strings.HasPrefix(name, "client_assertion") || name == "client_id":
			return usageErrorf("-param %s: the probe sets the client authentication parameters", name)
		case name == "grant_type" || name == "scope":
			return usageErrorf("-param %s: use -%s", name, strings.ReplaceAll(name, "_", "-"))
		}
		cfg.params.Add(name, value)
	}
	for _, u := range []struct{ flag, v string }{
		{"issuer", *issuer}, {"token-url", *tokenURL}, {"introspection-url", *introspectionURL},
		{"revocation-url", *revocationURL}, {"par-url", *parURL},
	} {
		if u.v == "" {
			continue
		}
		if err := checkTargetURL(u.v, *insecureHTTP); err != nil {
			return usageErrorf("-%s: %v", u.flag, err)
		}
	}
	if cfg.key, err = probeKey(keyFlags); err != nil {
		return err
	}
	cfg.registeredAlg = *keyFlags.alg
	if cfg.registeredAlg == "" {
		cfg.registeredAlg = cfg.key.jwkAlg
	}

	p, err := newProber(cfg)
	if err != nil {
		return err
	}
	defer p.Close()
	if cfg.dryRun {
		return p.dryRun(std.out)
	}
	rep, err := p.run(ctx)
	var be *baselineError
	if errors.As(err, &be) {
		if cfg.jsonOut {
			if err := writeProbeJSON(std.out, be.report); err != nil {
				return err
			}
		}
		fmt.Fprintf(std.err, "pkjwt probe: %s\n", be.text)
		return silentUsage
	}
	if err != nil {
		return err
	}
	if cfg.jsonOut {
		err = writeProbeJSON(std.out, rep)
	} else {
		err = writeProbeTable(std.out, rep)
	}
	if err != nil {
		return err
	}
	switch rep.Exit {
	case exitFailure:
		return silentFailure
	case exitUsage:
		fmt.Fprintf(std.err, "pkjwt probe: the control failed: %s\nThe refusals above prove nothing: the server may refuse everything now (a lockout, a rate limit). Probe again later, or with a lower -rate.\n", describeExchange(*rep.Control))
		return silentUsage
	}
	return nil
}

// silentUsage exits with exitUsage after the command has already said
// why.
var silentUsage = &exitError{code: exitUsage, err: errors.New("")}

// probeKey reads the client's key the way mint does, and checks its alg
// (with no floor on RSA key sizes: the probe may test a server with one).
func probeKey(flags *keyFlags) (signingKey, error) {
	key, err := flags.load()
	if err != nil {
		return signingKey{}, err
	}
	if err := checkAlg(key.signer.Public(), key.alg, 0); err != nil {
		return signingKey{}, err
	}
	return key, nil
}

// checkTargetURL accepts https URLs, and http URLs of loopback hosts when
// insecureHTTP is set.
func checkTargetURL(s string, insecureHTTP bool) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("%q is not an absolute URL without user or fragment", s)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if !insecureHTTP {
			return fmt.Errorf("%q is not https (-insecure-http allows http for loopback targets)", s)
		}
		if !isLoopbackHost(u.Hostname()) {
			return fmt.Errorf("-insecure-http applies to loopback hosts only, not %q", u.Hostname())
		}
		return nil
	}
	return fmt.Errorf("%q: want an https URL", s)
}

// isLoopbackHost reports whether host is localhost or a loopback IP.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hostPort returns u's host with its port made explicit.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// guardedClient is an HTTP client that connects only to the allowed
// hosts, follows no redirect, uses no proxy and counts and paces its
// requests.
type guardedClient struct {
	hc       *http.Client
	allowed  map[string]bool // host:port
	max      int
	sent     int
	interval time.Duration
	next     time.Time
}

var errRequestCap = errors.New("the -max-requests cap was reached")

func newGuardedClient(maxRequests int, rate float64, timeout time.Duration) *guardedClient {
	g := &guardedClient{allowed: map[string]bool{}, max: maxRequests}
	if rate > 0 {
		g.interval = time.Duration(float64(time.Second) / rate)
	}
	dialer := &net.Dialer{Timeout: timeout}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if !g.allowed[strings.ToLower(addr)] {
				return nil, fmt.Errorf("probe: refusing to connect to %s: not a host named on the command line", addr)
			}
			return dialer.DialContext(ctx, network, addr)
		},
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   2,
		DisableCompression:    true,
	}
	g.hc = &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return g
}

// allow adds the host of rawURL to the allowed hosts.
func (g *guardedClient) allow(rawURL string) {
	if u, err := url.Parse(rawURL); err == nil && u.Host != "" {
		g.allowed[hostPort(u)] = true
	}
}

// allows reports whether rawURL's host is allowed.
func (g *guardedClient) allows(rawURL string) bool {
	u, err := url.Parse(rawURL)
	return err == nil && u.Host != "" && (u.Scheme == "https" || u.Scheme == "http") && g.allowed[hostPort(u)]
}

// answer is an HTTP response, read.
type answer struct {
	status int
	body   []byte
	err    error // transport failure or timeout; status is 0
}

// do sends req, waiting its turn under the rate limit; it fails with
// errRequestCap when the cap is reached, without sending.
func (g *guardedClient) do(ctx context.Context, req *http.Request) (answer, error) {
	if g.sent >= g.max {
		return answer{}, errRequestCap
	}
	if d := time.Until(g.next); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return answer{}, ctx.Err()
		case <-t.C:
		}
	}
	g.sent++
	g.next = time.Now().Add(g.interval)
	resp, err := g.hc.Do(req.WithContext(ctx))
	if err != nil {
		if ctx.Err() != nil {
			return answer{}, ctx.Err()
		}
		return answer{err: err}, nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxProbeResponse))
	if err != nil {
		return answer{status: resp.StatusCode, err: err}, nil
	}
	return answer{status: resp.StatusCode, body: b}, nil
}

// Close releases idle connections.
func (g *guardedClient) Close() { g.hc.CloseIdleConnections() }
