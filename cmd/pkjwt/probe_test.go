package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/verify"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/probe")

// probeClient is the client every probe test registers: RSA 2048, RS256.
const (
	probeClientID  = "probe-client"
	probeClientKid = "probe-key"
)

// probeKeyFile writes the probe client's private key and returns its path.
func probeKeyFile(t *testing.T) string {
	t.Helper()
	return writePrivatePEM(t, t.TempDir(), "client.pem", testkeys.Signer(testkeys.RSA2048))
}

// probeArgs are the arguments of a probe of the loopback issuer with the
// probe client.
func probeArgs(issuer, keyFile string, extra ...string) []string {
	return append([]string{"probe", "-issuer", issuer, "-insecure-http", "-client-id", probeClientID,
		"-key", keyFile, "-kid", probeClientKid, "-alg", "RS256", "-rate", "0"}, extra...)
}

// runProbeJSON runs the probe with -json and decodes its report.
func runProbeJSON(t *testing.T, args ...string) (result, probeReport) {
	t.Helper()
	r := pkjwt(t, "", append(args, "-json")...)
	var rep probeReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("probe -json: %v\n%v", err, r)
	}
	return r, rep
}

// outcomes returns the IDs of the results with each outcome, and of the
// fetched ones under "fetched".
func outcomes(rep probeReport) map[string][]string {
	m := map[string][]string{}
	for _, r := range rep.Results {
		m[r.Outcome] = append(m[r.Outcome], r.ID)
		if r.Fetched {
			m["fetched"] = append(m["fetched"], r.ID)
		}
	}
	return m
}

// catalogIDs returns the IDs of the catalog, less those in except.
func catalogIDs(except ...string) []string {
	var ids []string
	for _, d := range catalog {
		if !slices.Contains(except, d.ID) {
			ids = append(ids, d.ID)
		}
	}
	return ids
}

// serveProbeConfig is a serve configuration with the probe client.
func serveProbeConfig(policy string) map[string]any {
	jwks := testkeys.JWKS(testkeys.JWK(testkeys.Signer(testkeys.RSA2048), probeClientKid, "RS256", "sig"))
	var inline any
	json.Unmarshal(jwks, &inline)
	return map[string]any{
		"audience_policy": policy,
		"clients": []any{
			map[string]any{"client_id": probeClientID, "jwks": inline, "token_endpoint_auth_signing_alg": "RS256"},
			map[string]any{"client_id": "pkjwt-probe-other-client", "jwks": inline},
		},
	}
}

// TestProbeServe probes the built pkjwt serve: every probe is refused,
// each for the reason it tests (the error_description of the verify
// check), and the exit status is 0.
func TestProbeServe(t *testing.T) {
	p := startServe(t, serveProbeConfig("rfc7523bis"))
	r, rep := runProbeJSON(t, probeArgs(p.issuer, probeKeyFile(t))...)
	if r.code != 0 || rep.Exit != 0 {
		t.Fatalf("exit %d (report %d), want 0:\n%v", r.code, rep.Exit, r)
	}
	got := outcomes(rep)
	want := map[string][]string{
		outRefused: catalogIDs("replay-revocation", "replay-par"),
		outNA:      {"replay-revocation", "replay-par"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	// The reason pkjwt gives for each refusal is the check the probe is
	// about: the probe sends what it says it sends.
	reasons := map[string]error{
		"replay-token": verify.ErrReplayed, "replay-introspection": verify.ErrReplayed,
		"alg-none": verify.ErrAlgorithm, "alg-none-title": verify.ErrAlgorithm, "alg-none-upper": verify.ErrAlgorithm,
		"alg-none-mixed": verify.ErrAlgorithm, "alg-hs256-public-key": verify.ErrAlgorithm, "alg-other": verify.ErrAlgorithm,
		"sig-stripped": verify.ErrSignature, "sig-truncated": verify.ErrSignature, "sig-other-key": verify.ErrSignature,
		"header-jwk": verify.ErrKeyNotFound, "header-jku": verify.ErrKeyNotFound, "header-x5u": verify.ErrKeyNotFound,
		"jti-missing": verify.ErrJTI, "jti-empty": verify.ErrJTI, "jti-long": verify.ErrJTI,
		"exp-missing": verify.ErrExpiryMissing, "exp-passed": verify.ErrExpired,
		"exp-1h": verify.ErrLifetime, "exp-1y": verify.ErrLifetime,
		"nbf-future": verify.ErrNotYetValid, "iat-future": verify.ErrIssuedAt, "iat-old": verify.ErrIssuedAt,
		"aud-other-server": verify.ErrAudience, "aud-token-endpoint": verify.ErrAudience, "aud-array-other-first": verify.ErrAudience,
		"aud-trailing-slash": verify.ErrAudience, "aud-case": verify.ErrAudience,
		"iss-sub-mismatch": verify.ErrSubject, "client-id-other": verify.ErrClientIDMismatch,
		"two-methods": verify.ErrMultipleMethods, "repeated-assertion": verify.ErrRepeatedParameter,
		"repeated-assertion-type": verify.ErrRepeatedParameter, "assertion-type-wrong": verify.ErrAssertionType,
		"crit-unknown": verify.ErrCritical, "typ-foreign": verify.ErrType, "oversized": verify.ErrMalformed,
	}
	for _, res := range rep.Results {
		if res.Outcome != outRefused {
			continue
		}
		want, ok := reasons[res.ID]
		if !ok {
			t.Errorf("%s: no expected reason", res.ID)
			continue
		}
		if d := strings.TrimPrefix(want.Error(), "verify: "); res.Description != d {
			t.Errorf("%s: refused with %d %s %q, want %q", res.ID, res.Status, res.Error, res.Description, d)
		}
	}
	if rep.Control == nil || rep.Control.Outcome != outAccepted {
		t.Errorf("control: %+v", rep.Control)
	}
	for _, id := range []string{"header-jku", "header-x5u"} {
		if !slices.ContainsFunc(rep.Results, func(r probeResult) bool { return r.ID == id && r.Note == "the server did not fetch the URL" }) {
			t.Errorf("%s: no fetch observation", id)
		}
	}

	// The table says the same.
	r = pkjwt(t, "", probeArgs(p.issuer, probeKeyFile(t))...)
	if r.code != 0 || !strings.Contains(r.stdout, "Findings: none.") || !strings.Contains(r.stdout, "Exit status 0.") {
		t.Errorf("table: %v", r)
	}
}

// TestProbeServeLegacyAudience probes pkjwt serve under the legacy
// audience policy, which accepts the token endpoint URL as aud: the probe
// reports exactly that, and exits 1.
func TestProbeServeLegacyAudience(t *testing.T) {
	p := startServe(t, serveProbeConfig("legacy"))
	r, rep := runProbeJSON(t, probeArgs(p.issuer, probeKeyFile(t))...)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1:\n%v", r.code, r)
	}
	// legacy accepts any aud array that holds the issuer, too.
	if got, want := outcomes(rep)[outAccepted], []string{"aud-token-endpoint", "aud-array-other-first"}; !cmp.Equal(got, want) {
		t.Errorf("accepted %v, want %v", got, want)
	}
}

// sloppyCases are the holes of the sloppy server and exactly what the
// probe must report for each.
var sloppyCases = []struct {
	name     string
	holes    sloppyHoles
	accepted []string
	fetched  []string
}{
	{"no replay check", sloppyHoles{noReplay: true}, []string{"replay-token", "replay-introspection"}, nil},
	{"no aud check", sloppyHoles{noAud: true}, []string{"aud-other-server", "aud-token-endpoint", "aud-array-other-first", "aud-trailing-slash", "aud-case"}, nil},
	{"no lifetime cap", sloppyHoles{noLifetimeCap: true}, []string{"exp-1h", "exp-1y"}, nil},
	{"accepts none", sloppyHoles{acceptsNone: true}, []string{"alg-none", "alg-none-title", "alg-none-upper", "alg-none-mixed"}, nil},
	{"accepts HS256 with the public key", sloppyHoles{hs256PublicKey: true}, []string{"alg-hs256-public-key"}, nil},
	{"trusts an embedded jwk", sloppyHoles{trustsJWK: true}, []string{"header-jwk"}, nil},
	{"fetches jku", sloppyHoles{fetchesJKU: true}, []string{"header-jku"}, []string{"header-jku"}},
	{"fetches jku, verifies with the registered key", sloppyHoles{fetchesJKUOnly: true}, nil, []string{"header-jku"}},
}

// TestProbeSloppy probes the sloppy server with each hole toggled on its
// own: the probe reports exactly the probes of that hole as accepted (or,
// for a fetch, fetched), refuses everything else, and exits 1. Without
// holes it exits 0.
func TestProbeSloppy(t *testing.T) {
	keyFile := probeKeyFile(t)
	pub := testkeys.Public(testkeys.RSA2048)
	t.Run("no holes", func(t *testing.T) {
		s := startSloppy(t, sloppyHoles{}, probeClientID, probeClientKid, pub, nil)
		r, rep := runProbeJSON(t, probeArgs(s.issuer, keyFile)...)
		want := map[string][]string{
			outRefused: catalogIDs("replay-revocation", "replay-par"),
			outNA:      {"replay-revocation", "replay-par"},
		}
		if diff := cmp.Diff(want, outcomes(rep)); diff != "" || r.code != 0 {
			t.Errorf("exit %d, outcomes (-want +got):\n%s\n%v", r.code, diff, r)
		}
	})
	for _, c := range sloppyCases {
		t.Run(c.name, func(t *testing.T) {
			s := startSloppy(t, c.holes, probeClientID, probeClientKid, pub, nil)
			r, rep := runProbeJSON(t, probeArgs(s.issuer, keyFile)...)
			if r.code != 1 || rep.Exit != 1 {
				t.Errorf("exit %d (report %d), want 1", r.code, rep.Exit)
			}
			want := map[string][]string{
				outRefused: catalogIDs(append([]string{"replay-revocation", "replay-par"}, c.accepted...)...),
				outNA:      {"replay-revocation", "replay-par"},
			}
			if c.accepted != nil {
				want[outAccepted] = c.accepted
			}
			if c.fetched != nil {
				want["fetched"] = c.fetched
			}
			if diff := cmp.Diff(want, outcomes(rep)); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s\n%v", diff, r)
			}
			for _, res := range rep.Results {
				if res.Outcome == outAccepted && (res.Severity == "" || len(res.Refs) == 0 || res.Rule == "") {
					t.Errorf("%s: finding without severity, rule or refs: %+v", res.ID, res)
				}
			}
		})
	}
}

// TestProbeGolden compares the table and the JSON of a probe of the
// sloppy server with three holes with the golden files (go test -update
// rewrites them). The server's URL is replaced by a placeholder; nothing
// else in the output varies between runs.
func TestProbeGolden(t *testing.T) {
	keyFile := probeKeyFile(t)
	s := startSloppy(t, sloppyHoles{acceptsNone: true, noLifetimeCap: true, fetchesJKU: true}, probeClientID, probeClientKid, testkeys.Public(testkeys.RSA2048), nil)
	for _, c := range []struct{ file, flag string }{{"sloppy.txt", ""}, {"sloppy.json", "-json"}} {
		args := probeArgs(s.issuer, keyFile)
		if c.flag != "" {
			args = append(args, c.flag)
		}
		r := pkjwt(t, "", args...)
		if r.code != 1 {
			t.Fatalf("exit %d, want 1:\n%v", r.code, r)
		}
		got := strings.ReplaceAll(r.stdout, s.issuer, "http://127.0.0.1:PORT")
		golden := filepath.Join("testdata", "probe", c.file)
		if *updateGolden {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", golden, diff)
		}
	}
}

// TestProbeSafety checks the limits: the request cap, -dry-run, hosts not
// named on the command line, and -insecure-http.
func TestProbeSafety(t *testing.T) {
	keyFile := probeKeyFile(t)
	pub := testkeys.Public(testkeys.RSA2048)

	t.Run("request cap", func(t *testing.T) {
		s := startSloppy(t, sloppyHoles{}, probeClientID, probeClientKid, pub, nil)
		r, rep := runProbeJSON(t, probeArgs(s.issuer, keyFile, "-max-requests", "10")...)
		if n := s.requests.Load(); n != 10 || rep.Requests != 10 {
			t.Errorf("the server received %d requests, the report says %d; want 10", n, rep.Requests)
		}
		// What was not sent is inconclusive, never refused; the last
		// request is the control.
		inconclusive := outcomes(rep)[outInconclusive]
		if len(inconclusive) == 0 || r.code != 0 || rep.Control == nil || rep.Control.Outcome != outAccepted {
			t.Errorf("exit %d, inconclusive %v\n%v", r.code, inconclusive, r)
		}
		for _, res := range rep.Results {
			if res.Outcome == outInconclusive && !strings.Contains(res.Note, "-max-requests") {
				t.Errorf("%s: note %q", res.ID, res.Note)
			}
		}
	})

	t.Run("dry run", func(t *testing.T) {
		s := startSloppy(t, sloppyHoles{}, probeClientID, probeClientKid, pub, nil)
		r := pkjwt(t, "", probeArgs(s.issuer, keyFile, "-dry-run")...)
		if r.code != 0 || s.requests.Load() != 0 {
			t.Fatalf("dry run: %d requests sent; %v", s.requests.Load(), r)
		}
		for _, d := range catalog {
			if !strings.Contains(r.stdout, "\n"+d.ID+": ") {
				t.Errorf("dry run does not show %s", d.ID)
			}
		}
	})

	t.Run("other hosts", func(t *testing.T) {
		var hits atomic.Int64
		other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			w.WriteHeader(http.StatusOK)
		}))
		defer other.Close()
		s := startSloppy(t, sloppyHoles{}, probeClientID, probeClientKid, pub, map[string]any{
			"revocation_endpoint":                   other.URL + "/revoke",
			"pushed_authorization_request_endpoint": other.URL + "/par",
		})
		r, rep := runProbeJSON(t, probeArgs(s.issuer, keyFile)...)
		if hits.Load() != 0 {
			t.Errorf("the probe sent %d requests to a host not named on the command line", hits.Load())
		}
		if r.code != 0 || len(rep.Metadata.Warnings) != 2 || !strings.Contains(rep.Metadata.Warnings[0], "another host") {
			t.Errorf("exit %d, warnings %q", r.code, rep.Metadata.Warnings)
		}
	})

	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"http without -insecure-http", []string{"probe", "-issuer", "http://127.0.0.1:1", "-client-id", "c", "-key", keyFile}, "is not https"},
		{"-insecure-http for a remote host", []string{"probe", "-issuer", "http://as.example.com", "-insecure-http", "-client-id", "c", "-key", keyFile}, "loopback hosts only"},
		{"no client", []string{"probe", "-issuer", "https://as.example.com", "-key", keyFile}, "-client-id is required"},
		{"no key", []string{"probe", "-issuer", "https://as.example.com", "-client-id", "c"}, "-key or -demo-key is required"},
		{"no target", []string{"probe", "-client-id", "c", "-key", keyFile}, "-issuer or -token-url is required"},
		{"bad param", []string{"probe", "-issuer", "https://as.example.com", "-client-id", "c", "-key", keyFile, "-param", "client_assertion=x"}, "the probe sets"},
		{"grant_type as a param", []string{"probe", "-issuer", "https://as.example.com", "-client-id", "c", "-key", keyFile, "-param", "grant_type=x"}, "use -grant-type"},
		{"param without =", []string{"probe", "-issuer", "https://as.example.com", "-client-id", "c", "-key", keyFile, "-param", "audience"}, "want name=value"},
		{"same other client", []string{"probe", "-issuer", "https://as.example.com", "-client-id", "c", "-other-client-id", "c", "-key", keyFile}, "must name another client"},
		{"missing key file", []string{"probe", "-issuer", "https://as.example.com", "-client-id", "c", "-key", "/nonexistent/key.pem"}, "-key:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := pkjwt(t, "", c.args...)
			if r.code != 2 || !strings.Contains(r.stderr, c.want) {
				t.Errorf("want exit 2 and %q: %v", c.want, r)
			}
		})
	}
}

// TestProbeBaseline checks that a baseline without a token stops the
// probe with exit status 2 and pkjwt verify's explanation.
func TestProbeBaseline(t *testing.T) {
	p := startServe(t, serveProbeConfig("rfc7523bis"))
	keyFile := probeKeyFile(t)
	for _, c := range []struct {
		name  string
		extra []string
		want  []string
	}{
		{"token endpoint as aud", []string{"-aud", p.issuer + "/token"}, []string{
			`client assertion aud is not this server`, "FAIL  aud", "drop -aud"}},
		{"unknown kid", []string{"-kid", "not-registered"}, []string{
			"no registered key of the client matches the assertion", "is the public half of -key registered"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := probeArgs(p.issuer, keyFile)
			r := pkjwt(t, "", append(args, c.extra...)...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2:\n%v", r.code, r)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if r.stdout != "" || strings.Contains(r.stderr, "Run '") {
				t.Errorf("output: %v", r)
			}
		})
	}
}

// TestProbeNotRefusals checks that answers other than refusals are never
// counted as refusals: server errors and timeouts are errors, and when a
// server locks the client out after a few failures, every refusal is
// inconclusive and the exit status is 2.
func TestProbeNotRefusals(t *testing.T) {
	keyFile := probeKeyFile(t)
	pub := testkeys.Public(testkeys.RSA2048)
	failing := []string{"alg-none"}
	for _, c := range []struct {
		name  string
		holes sloppyHoles
		extra []string
		note  string
	}{
		{"server error", sloppyHoles{failNone: "500"}, nil, "server error"},
		{"timeout", sloppyHoles{failNone: "hang"}, []string{"-timeout", "2s"}, "no answer: timeout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := startSloppy(t, c.holes, probeClientID, probeClientKid, pub, nil)
			r, rep := runProbeJSON(t, probeArgs(s.issuer, keyFile, c.extra...)...)
			want := map[string][]string{
				outError:   failing,
				outRefused: catalogIDs(append([]string{"replay-revocation", "replay-par"}, failing...)...),
				outNA:      {"replay-revocation", "replay-par"},
			}
			if diff := cmp.Diff(want, outcomes(rep)); diff != "" || r.code != 0 {
				t.Errorf("exit %d, outcomes (-want +got):\n%s\n%v", r.code, diff, r)
			}
			for _, res := range rep.Results {
				if res.Outcome == outError && res.Note != c.note {
					t.Errorf("%s: note %q, want %q", res.ID, res.Note, c.note)
				}
			}
			if rep.Summary.Error != len(failing) || rep.Summary.Refused != len(want[outRefused]) {
				t.Errorf("summary %+v", rep.Summary)
			}
		})
	}

	t.Run("lockout", func(t *testing.T) {
		s := startSloppy(t, sloppyHoles{lockoutAfter: 3}, probeClientID, probeClientKid, pub, nil)
		r, rep := runProbeJSON(t, probeArgs(s.issuer, keyFile)...)
		want := map[string][]string{
			outInconclusive: catalogIDs("replay-revocation", "replay-par"),
			outNA:           {"replay-revocation", "replay-par"},
		}
		if diff := cmp.Diff(want, outcomes(rep)); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
		if r.code != 2 || rep.Exit != 2 || rep.Control == nil || rep.Control.Outcome != outRefused ||
			!strings.Contains(r.stderr, "the control failed") {
			t.Errorf("exit %d, control %+v:\n%v", r.code, rep.Control, r)
		}
	})
}

// TestProbeTokenURL probes with -token-url and no -issuer: no discovery,
// and the aud of correct assertions is -aud.
func TestProbeTokenURL(t *testing.T) {
	s := startSloppy(t, sloppyHoles{noReplay: true}, probeClientID, probeClientKid, testkeys.Public(testkeys.RSA2048), nil)
	args := []string{"probe", "-token-url", s.issuer + "/token", "-aud", s.issuer, "-insecure-http", "-client-id", probeClientID,
		"-key", probeKeyFile(t), "-kid", probeClientKid, "-alg", "RS256", "-rate", "0"}
	r, rep := runProbeJSON(t, args...)
	if r.code != 1 || rep.Metadata != nil || rep.Aud != s.issuer {
		t.Fatalf("exit %d, metadata %+v, aud %q:\n%v", r.code, rep.Metadata, rep.Aud, r)
	}
	// Without discovery the introspection endpoint is unknown.
	if got := outcomes(rep)[outAccepted]; !cmp.Equal(got, []string{"replay-token"}) {
		t.Errorf("accepted %v, want [replay-token]", got)
	}
	if n := s.requests.Load(); int(n) != rep.Requests {
		t.Errorf("the server received %d requests, the report says %d", n, rep.Requests)
	}
}

func TestProbeMetadataURLs(t *testing.T) {
	for issuer, want := range map[string][]string{
		"https://as.example.com": {
			"https://as.example.com/.well-known/oauth-authorization-server",
			"https://as.example.com/.well-known/openid-configuration",
		},
		"https://as.example.com/tenant/a": {
			"https://as.example.com/.well-known/oauth-authorization-server/tenant/a",
			"https://as.example.com/tenant/a/.well-known/openid-configuration",
		},
		"https://as.example.com/realms/x%2Fy/": {
			"https://as.example.com/.well-known/oauth-authorization-server/realms/x%2Fy",
			"https://as.example.com/realms/x%2Fy/.well-known/openid-configuration",
		},
	} {
		if got := metadataURLs(issuer); !cmp.Equal(got, want) {
			t.Errorf("metadataURLs(%q) = %q, want %q", issuer, got, want)
		}
	}
}

// TestProbeCrossEndpoint covers the judgement of a replay at another
// endpoint by the answer to a fresh assertion there.
func TestProbeCrossEndpoint(t *testing.T) {
	ok := exchange{Outcome: outAccepted, Status: 200}
	authFail := exchange{Outcome: outRefused, Status: 401, Error: "invalid_client"}
	noRedirect := exchange{Outcome: outInconclusive, Status: 400, Error: "invalid_request"}
	for _, c := range []struct {
		name         string
		replay, ctl  exchange
		want         string
		noteContains string
	}{
		{"refused, control accepted", authFail, ok, outRefused, ""},
		{"accepted", ok, ok, outAccepted, ""},
		{"control refused too", authFail, authFail, outInconclusive, "not accepted there either"},
		{"PAR: same non-auth error as the control", noRedirect, noRedirect, outAccepted, "client authentication passed"},
		{"PAR: refused where the control passed", authFail, noRedirect, outRefused, ""},
		{"different non-auth errors", exchange{Outcome: outInconclusive, Status: 400, Error: "invalid_scope"}, noRedirect, outInconclusive, "a fresh assertion got"},
		{"server error", exchange{Outcome: outError, Status: 500}, ok, outError, ""},
	} {
		got := crossEndpoint(c.replay, c.ctl)
		if got.Outcome != c.want || !strings.Contains(got.Note, c.noteContains) {
			t.Errorf("%s: %+v, want %s with a note containing %q", c.name, got, c.want, c.noteContains)
		}
	}
}

// FuzzProbeClassify: whatever a server answers, the classification never
// calls a refusal what is not a 4xx, nor a success what is not a 2xx.
func FuzzProbeClassify(f *testing.F) {
	f.Add(200, []byte(`{"access_token":"x"}`), false)
	f.Add(401, []byte(`{"error":"invalid_client"}`), false)
	f.Add(400, []byte(`{"error":"invalid_request","error_description":"x"}`), false)
	f.Add(500, []byte(`{"access_token":"x"}`), false)
	f.Add(0, []byte(nil), true)
	f.Add(302, []byte(`{"access_token":"x"}`), false)
	f.Fuzz(func(t *testing.T, status int, body []byte, transportErr bool) {
		a := answer{status: status, body: body}
		if transportErr {
			a = answer{err: errRequestCap}
		}
		for _, ep := range []string{epToken, epIntrospection} {
			ex := classify(ep, a)
			switch ex.Outcome {
			case outAccepted:
				if transportErr || status < 200 || status > 299 {
					t.Errorf("%s: %d accepted", ep, status)
				}
			case outRefused:
				if transportErr || status < 400 || status > 499 {
					t.Errorf("%s: %d refused", ep, status)
				}
			case outError:
				if !transportErr && status < 500 {
					t.Errorf("%s: %d an error", ep, status)
				}
			case outInconclusive:
			default:
				t.Errorf("%s: outcome %q", ep, ex.Outcome)
			}
			if len(ex.Description) > 203 {
				t.Errorf("description of %d bytes", len(ex.Description))
			}
		}
	})
}

// TestProbeREADMECatalog keeps the README's catalog table equal to the
// catalog, and its sloppy-server excerpt equal to the golden output.
func TestProbeREADMECatalog(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(string(b), "\n") {
		for _, sev := range []string{"critical", "high", "medium"} {
			if strings.HasPrefix(line, "| "+sev+" | `") {
				got = append(got, line)
			}
		}
	}
	var want []string
	for _, sev := range []severity{sevCritical, sevHigh, sevMedium} {
		for _, d := range catalog {
			if d.Severity == sev {
				want = append(want, fmt.Sprintf("| %s | `%s` | %s | %s | %s |",
					sev, d.ID, strings.ReplaceAll(d.Title, "|", `\|`), d.Rule, strings.Join(d.Refs, "; ")))
			}
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("README catalog (-want +got):\n%s", diff)
	}
	// The README quotes the findings of the golden sloppy run.
	golden, err := os.ReadFile(filepath.Join("testdata", "probe", "sloppy.txt"))
	if err != nil {
		t.Fatal(err)
	}
	_, findings, _ := strings.Cut(string(golden), "\nFindings:")
	if findings == "" || !strings.Contains(string(b), "Findings:"+findings) {
		t.Errorf("README does not quote the findings of testdata/probe/sloppy.txt")
	}
}

// TestProbeServeKeyTypes probes pkjwt serve with clients whose keys
// pkjwt keygen made: P-256 (PEM) and Ed25519 (a JWK, whose kid and alg the
// probe takes from the file). Every probe is refused; alg-other does not
// apply to keys that sign with one alg only.
func TestProbeServeKeyTypes(t *testing.T) {
	for _, c := range []struct{ typ, format string }{{"p256", "pem"}, {"ed25519", "jwk"}} {
		t.Run(c.typ, func(t *testing.T) {
			client := keygenClient(t, t.TempDir(), "c-"+c.typ, c.typ, c.format)
			var inline any
			if err := json.Unmarshal(client.jwks, &inline); err != nil {
				t.Fatal(err)
			}
			p := startServe(t, map[string]any{"clients": []any{map[string]any{"client_id": client.id, "jwks": inline}}})
			r, rep := runProbeJSON(t, "probe", "-issuer", p.issuer, "-insecure-http", "-client-id", client.id, "-key", client.key, "-rate", "0")
			want := map[string][]string{
				outRefused: catalogIDs("replay-revocation", "replay-par", "alg-other"),
				outNA:      {"replay-revocation", "replay-par", "alg-other"},
			}
			if diff := cmp.Diff(want, outcomes(rep)); diff != "" || r.code != 0 {
				t.Errorf("exit %d, outcomes (-want +got):\n%s\n%v", r.code, diff, r)
			}
		})
	}
}
