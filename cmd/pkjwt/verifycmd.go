package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/pkjwt/pkjwt/jwksfetch"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

const verifyHelp = `
Explain how an authorization server judges a client assertion: run every
check of the pkjwt verifier and print each as ok, FAIL or skip, with the
reason. Run it when a token endpoint answers invalid_client.

Nothing is used up: the jti is never claimed (the replay check is always
skipped), so the assertion still works afterwards.

ASSERTION is the JWT, or - to read it from standard input. A whole form
body (client_assertion=...&client_assertion_type=...) works too.

Check against an issuer and the client's JWK Set (a URL or a file):
  pkjwt verify -issuer https://as.example.com -jwks https://client.example/jwks.json ASSERTION
  pkjwt verify -issuer https://as.example.com -jwks client.jwks.json - < assertion.txt
or against a serve configuration:
  pkjwt verify -config server.json ASSERTION

The exit status is 0 when every check passes and 1 when any fails.
`

// maxInput bounds what verify reads from standard input.
const maxInput = 1 << 20

func runVerify(ctx context.Context, std stdio, args []string) error {
	fs := newFlagSet(std, "verify", "(-issuer URL -jwks URL|FILE | -config FILE) [flags] ASSERTION|-", verifyHelp)
	issuer := fs.String("issuer", "", "the authorization server's issuer identifier, the expected aud")
	jwks := fs.String("jwks", "", "the client's JWK Set: an https URL (http and loopback with -insecure) or a `file`")
	configFile := fs.String("config", "", "take issuer, policy and clients from this serve configuration `file`")
	clientID := fs.String("client", "", "the client_id parameter sent with the assertion, if any (default with -jwks: the assertion's iss)")
	policy := fs.String("audience-policy", "rfc7523bis", "aud policy: strict, rfc7523bis or legacy")
	var endpoints stringsFlag
	fs.Var(&endpoints, "endpoint", "with -audience-policy legacy, a further accepted aud (repeatable; default: the issuer + /token)")
	alg := fs.String("alg", "", "the client's registered token_endpoint_auth_signing_alg, if any")
	leeway := fs.Duration("leeway", defaultLeewaySeconds*time.Second, "clock skew tolerated on exp, nbf and iat")
	maxLifetime := fs.Duration("max-lifetime", defaultMaxLifetimeSeconds*time.Second, "longest accepted exp - now")
	insecure := fs.Bool("insecure", false, "allow an http or loopback -jwks URL (development only)")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(rest) == 0:
		return usageErrorf("no assertion given (pass it as an argument, or - for standard input)")
	case len(rest) > 1:
		return usageErrorf("unexpected argument %q", rest[1])
	case *configFile != "":
		for _, name := range []string{"issuer", "jwks", "audience-policy", "endpoint", "alg", "leeway", "max-lifetime", "insecure"} {
			if isSet(fs, name) {
				return usageErrorf("-%s cannot be combined with -config (the configuration says it)", name)
			}
		}
	case *issuer == "" || *jwks == "":
		return usageErrorf("-issuer and -jwks are required (or -config)")
	case *maxLifetime <= 0:
		return usageErrorf("-max-lifetime must be positive")
	case *leeway < 0:
		return usageErrorf("-leeway must not be negative (0 means none)")
	}

	req, err := readRequest(std.in, rest[0], *clientID)
	if err != nil {
		return usageErrorf("%v", err)
	}
	logger := slog.New(slog.NewTextHandler(std.err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := replay.NewMemory(replay.MemoryConfig{CleanupInterval: -1})
	if err != nil {
		return err
	}
	defer store.Close()

	var (
		v         *verify.Verifier
		closeKeys func() error
		against   string
	)
	if *configFile != "" {
		cfg, err := loadConfigFile(*configFile)
		if err != nil {
			return err
		}
		if v, closeKeys, err = buildVerifier(cfg, store, logger); err != nil {
			return err
		}
		against = fmt.Sprintf("the configuration %s (issuer %s, audience policy %s)", *configFile, cfg.Issuer, cfg.audience)
	} else {
		v, closeKeys, err = flagVerifier(req, store, logger, verifierFlags{
			issuer: *issuer, jwks: *jwks, clientID: *clientID, policy: *policy, endpoints: endpoints,
			alg: *alg, leeway: *leeway, maxLifetime: *maxLifetime, insecure: *insecure,
		})
		if err != nil {
			return err
		}
		against = fmt.Sprintf("issuer %s and the JWK Set %s (audience policy %s)", *issuer, *jwks, *policy)
	}
	defer closeKeys()

	printAssertion(std.out, req.Assertion, time.Now())
	fmt.Fprintf(std.out, "\nChecks against %s:\n\n", against)
	steps := v.Explain(ctx, req)
	if failed := printSteps(std.out, steps, v.Issuer()); failed > 0 {
		return silentFailure
	}
	return nil
}

// verifierFlags are the flags that describe the verifier without -config.
type verifierFlags struct {
	issuer, jwks, clientID, policy, alg string
	endpoints                           []string
	leeway, maxLifetime                 time.Duration
	insecure                            bool
}

// flagVerifier builds a verifier for one client from the flags: the
// client is the -client flag or the assertion's iss.
func flagVerifier(req verify.Request, store replay.Store, logger *slog.Logger, f verifierFlags) (*verify.Verifier, func() error, error) {
	p, err := verify.ParseAudiencePolicy(f.policy)
	if err != nil {
		return nil, nil, usageErrorf("-audience-policy %q: want strict, rfc7523bis or legacy", f.policy)
	}
	if err := validateIssuer(f.issuer); err != nil {
		return nil, nil, usageErrorf("-issuer: %v", err)
	}
	cfg := verify.Config{Audience: p, Leeway: f.leeway, MaxLifetime: f.maxLifetime}
	if f.leeway == 0 {
		cfg.Leeway = -1 // none, where 0 means the default
	}
	switch {
	case p == verify.AudienceLegacy && len(f.endpoints) == 0:
		cfg.Endpoints = []string{f.issuer + "/token"}
	case p == verify.AudienceLegacy:
		cfg.Endpoints = f.endpoints
	case len(f.endpoints) > 0:
		return nil, nil, usageErrorf("-endpoint applies to -audience-policy legacy only")
	}

	id := f.clientID
	if id == "" {
		id = unverifiedIssuer(req.Assertion)
	}
	var (
		keys      verify.KeySource
		closeKeys = func() error { return nil }
	)
	if strings.HasPrefix(f.jwks, "https://") || strings.HasPrefix(f.jwks, "http://") {
		r, err := jwksfetch.NewRemote(f.jwks, jwksfetch.RemoteConfig{
			RefreshInterval:              -1,
			MaxWait:                      jwksfetch.DefaultTimeout + time.Second,
			InsecureAllowLoopbackAndHTTP: f.insecure,
			Logger:                       logger,
		})
		if err != nil {
			return nil, nil, usageErrorf("-jwks: %v", err)
		}
		keys, closeKeys = r, r.Close
	} else {
		b, err := os.ReadFile(f.jwks)
		if err != nil {
			return nil, nil, usageErrorf("-jwks: %v", err)
		}
		set, err := jwksfetch.NewInline(b, jwksfetch.InlineConfig{})
		if err != nil && !errors.Is(err, jwksfetch.ErrPrivateKey) && !errors.Is(err, jwksfetch.ErrSymmetricKey) && !errors.Is(err, jwksfetch.ErrNotJWKS) {
			// Unusable keys are skipped at a jwks_uri; say so and go on.
			logger.Warn("skipping unusable keys, as a jwks_uri fetch would", "err", err)
			set, err = jwksfetch.NewInline(b, jwksfetch.InlineConfig{SkipUnusable: true})
		}
		if err != nil {
			return nil, nil, usageErrorf("-jwks %s: %v", f.jwks, err)
		}
		keys = set
	}
	clients := verify.ClientMap{}
	if id != "" {
		clients[id] = &verify.Client{ID: id, Keys: keys, SigningAlg: f.alg}
	}
	v, err := verify.New(f.issuer, clients, store, cfg)
	if err != nil {
		closeKeys()
		return nil, nil, usageErrorf("%v", err)
	}
	return v, closeKeys, nil
}

// readRequest returns the request to explain: arg is the assertion, or -
// for standard input; the input may also be a whole form body.
func readRequest(stdin io.Reader, arg, clientID string) (verify.Request, error) {
	in := arg
	if arg == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, maxInput+1))
		if err != nil {
			return verify.Request{}, err
		}
		if len(b) > maxInput {
			return verify.Request{}, fmt.Errorf("standard input exceeds %d bytes", maxInput)
		}
		in = string(b)
	}
	in = strings.TrimSpace(in)
	if in == "" {
		return verify.Request{}, errors.New("empty assertion")
	}
	if strings.Contains(in, "client_assertion=") {
		form, err := url.ParseQuery(in)
		if err != nil {
			return verify.Request{}, fmt.Errorf("form body: %v", err)
		}
		req, err := verify.RequestFromForm(form, nil)
		if err != nil {
			return verify.Request{}, err
		}
		if clientID != "" {
			req.ClientID = clientID
		}
		return req, nil
	}
	return verify.Request{AssertionType: verify.AssertionType, Assertion: in, ClientID: clientID}, nil
}

// segment decodes the i-th base64url segment of a compact JWT, or returns
// nil.
func segment(tok string, i int) []byte {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		return nil
	}
	return b
}

// unverifiedIssuer returns the assertion's iss, read without verifying
// anything, or "".
func unverifiedIssuer(tok string) string {
	var c struct {
		Iss string `json:"iss"`
	}
	json.Unmarshal(segment(tok, 1), &c)
	return c.Iss
}

// printAssertion prints the decoded (unverified) header and claims, with
// the times spelled out.
func printAssertion(w io.Writer, tok string, now time.Time) {
	fmt.Fprintf(w, "Assertion (decoded, not verified):\n\n")
	h, c := segment(tok, 0), segment(tok, 1)
	if h == nil || c == nil || !json.Valid(h) || !json.Valid(c) {
		fmt.Fprintf(w, "  (not a decodable compact JWT)\n")
		return
	}
	fmt.Fprintf(w, "  header  %s\n  claims  %s\n", h, c)
	var claims map[string]any
	if json.Unmarshal(c, &claims) != nil {
		return
	}
	var names []string
	for _, name := range []string{"iat", "nbf", "exp"} {
		if _, ok := claims[name].(float64); ok {
			names = append(names, name)
		}
	}
	for _, name := range names {
		t := time.Unix(int64(claims[name].(float64)), 0)
		fmt.Fprintf(w, "  %-6s  %s (%s)\n", name, t.UTC().Format(time.RFC3339), relative(t, now))
	}
}

// relative describes t as seen from now: "in 45s", "3m0s ago".
func relative(t, now time.Time) string {
	d := t.Sub(now).Round(time.Second)
	switch {
	case d > 0:
		return "in " + d.String()
	case d < 0:
		return (-d).String() + " ago"
	}
	return "now"
}

// printSteps prints one line per check and a verdict, and returns the
// number of failed checks.
func printSteps(w io.Writer, steps []verify.Step, issuer string) int {
	width := 0
	for _, s := range steps {
		width = max(width, len(s.Check))
	}
	var (
		failed    []verify.Step
		sigFailed bool
	)
	for _, s := range steps {
		status, detail := "ok", ""
		switch {
		case s.Skipped && s.Check == "replay":
			status, detail = "skip", "not checked: explaining never uses up the jti"
		case s.Skipped:
			status, detail = "skip", "not run: a check it needs failed"
		case s.Err != nil:
			status, detail = "FAIL", failureText(s.Err)
			if s.Check == "aud" {
				detail += fmt.Sprintf(" (this server is %q)", issuer)
			}
			failed = append(failed, s)
			sigFailed = sigFailed || s.Check == "signature"
		}
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("  %-4s  %-*s  %s", status, width, s.Check, detail), " "))
	}
	fmt.Fprintln(w)
	if len(failed) == 0 {
		fmt.Fprintf(w, "Result: accepted. Every check passed; a token endpoint would accept this assertion once.\n")
		return 0
	}
	var e *verify.Error
	if errors.As(failed[0].Err, &e) {
		fmt.Fprintf(w, "Result: rejected (%d of %d checks failed). A token endpoint answers %s: %q\n", len(failed), len(steps), e.Code, e.Description)
		if e.Infrastructure() {
			fmt.Fprintf(w, "The server could not decide (%s): that is a server-side problem, not the client's.\n", e.Reason)
		}
	}
	if sigFailed {
		fmt.Fprintf(w, "The signature failed, so the passed claim checks above prove nothing.\n")
	}
	return len(failed)
}

// failureText is a failed check's description and cause, without the
// package prefix.
func failureText(err error) string {
	return strings.TrimPrefix(err.Error(), "verify: ")
}
