package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
)

// Outcomes of a probe.
const (
	outRefused      = "refused"
	outAccepted     = "accepted"
	outError        = "error"
	outInconclusive = "inconclusive"
	outNA           = "n/a"
)

// probeReport is the result of a run, as printed (and as -json).
type probeReport struct {
	Issuer    string            `json:"issuer,omitempty"`
	Endpoints map[string]string `json:"endpoints"`
	ClientID  string            `json:"client_id"`
	Alg       string            `json:"alg"`
	KeyID     string            `json:"kid,omitempty"`
	Aud       string            `json:"aud"`
	Metadata  *metadataReport   `json:"metadata,omitempty"`
	Baseline  exchange          `json:"baseline"`
	Results   []probeResult     `json:"results,omitempty"`
	Control   *exchange         `json:"control,omitempty"`
	Summary   probeSummary      `json:"summary"`
	Requests  int               `json:"requests"`
	Exit      int               `json:"exit"`
}

// metadataReport is what the RFC 8414 metadata advertises.
type metadataReport struct {
	URL         string   `json:"url"`
	AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
	SigningAlgs []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	Warnings    []string `json:"warnings"`
}

// exchange is one answer, classified.
type exchange struct {
	Outcome     string `json:"outcome"`
	Status      int    `json:"status,omitempty"`
	Error       string `json:"error,omitempty"`
	Description string `json:"error_description,omitempty"`
	Note        string `json:"note,omitempty"`
}

// probeResult is one probe's outcome.
type probeResult struct {
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Severity string   `json:"severity"`
	Rule     string   `json:"rule"`
	Refs     []string `json:"refs"`
	Endpoint string   `json:"endpoint"`
	exchange
	// Fetched reports that the server fetched the jku or x5u URL of the
	// assertion from the probe's listener.
	Fetched bool `json:"fetched,omitempty"`

	sev       severity
	fetchPath string // the listener path the probe's assertion names, if any
}

// addNote appends note to the result's note.
func (r *probeResult) addNote(note string) {
	if r.Note != "" {
		note = r.Note + "; " + note
	}
	r.Note = note
}

// finding reports whether the result is something the server must fix.
func (r *probeResult) finding() bool { return r.Outcome == outAccepted || r.Fetched }

// probeSummary counts the findings (accepted probes, and refused ones
// whose jku or x5u the server fetched), by severity, and the outcomes.
type probeSummary struct {
	Findings     int `json:"findings"`
	Critical     int `json:"critical"`
	High         int `json:"high"`
	Medium       int `json:"medium"`
	Accepted     int `json:"accepted"`
	Refused      int `json:"refused"`
	Error        int `json:"error"`
	Inconclusive int `json:"inconclusive"`
	NotRun       int `json:"not_applicable"`
}

// prober runs the catalog against one server.
type prober struct {
	cfg      probeConfig
	client   *guardedClient
	listener *keyListener
	b        *builder
}

// baselineError is a baseline that got no token; the report says why.
type baselineError struct {
	report *probeReport
	text   string
}

func (e *baselineError) Error() string { return e.text }

func newProber(cfg probeConfig) (*prober, error) {
	p := &prober{cfg: cfg, client: newGuardedClient(cfg.maxRequests, cfg.rate, cfg.timeout)}
	for _, u := range []string{cfg.issuer, cfg.tokenURL, cfg.introspectionURL, cfg.revocationURL, cfg.parURL} {
		if u != "" {
			p.client.allow(u)
		}
	}
	attacker, err := newAttackerKey(cfg.key.signer.Public())
	if err != nil {
		return nil, err
	}
	p.b = &builder{
		cfg:       &p.cfg,
		now:       time.Now(),
		endpoints: map[string]string{},
		attacker:  attacker,
		jti:       func() string { return randomString(16) },
	}
	if !p.loopbackTarget() {
		return p, nil
	}
	if cfg.dryRun {
		p.b.listener = "http://127.0.0.1:LISTENER"
		return p, nil
	}
	if p.listener, err = newKeyListener(attacker, cfg.key.alg); err != nil {
		return nil, err
	}
	p.b.listener = p.listener.url
	return p, nil
}

// loopbackTarget reports whether every host named on the command line is
// a loopback host: only then do jku and x5u point to the listener.
func (p *prober) loopbackTarget() bool {
	for hp := range p.client.allowed {
		host, _, _ := net.SplitHostPort(hp)
		if !isLoopbackHost(host) {
			return false
		}
	}
	return len(p.client.allowed) > 0
}

// Close stops the listener and the client's connections.
func (p *prober) Close() error {
	p.client.Close()
	if p.listener != nil {
		return p.listener.Close()
	}
	return nil
}

// run discovers the endpoints, sends the baseline, the catalog and the
// control, and returns the report. A baseline that gets no token is a
// *baselineError (exit status 2).
func (p *prober) run(ctx context.Context) (*probeReport, error) {
	rep := &probeReport{Issuer: p.cfg.issuer, ClientID: p.cfg.clientID, Alg: p.cfg.key.alg, KeyID: p.cfg.key.kid}
	if p.cfg.issuer != "" {
		md, err := p.discover(ctx)
		if err != nil {
			return nil, err
		}
		rep.Metadata = md
	}
	p.setEndpoints()
	if _, ok := p.b.endpoints[epToken]; !ok {
		return nil, usageErrorf("no token endpoint: the metadata names none (on this host); give -token-url")
	}
	rep.Endpoints = p.b.endpoints
	p.b.aud = p.audience()
	rep.Aud = p.b.aud

	// Baseline.
	p.b.now = time.Now()
	tok, err := p.b.valid()
	if err != nil {
		return nil, err
	}
	p.b.baseline = tok
	a, err := p.send(ctx, p.b.tokenRequest(tok))
	if err != nil {
		return nil, err
	}
	rep.Baseline = classify(epToken, a)
	if rep.Baseline.Outcome != outAccepted {
		rep.Requests = p.client.sent
		rep.Exit = exitUsage
		return rep, &baselineError{report: rep, text: p.explainBaseline(rep)}
	}

	for _, d := range catalog {
		r := probeResult{ID: d.ID, Title: d.Title, Severity: d.Severity.String(), Rule: d.Rule, Refs: d.Refs, Endpoint: epToken, sev: d.Severity}
		p.b.now = time.Now()
		req, err := d.build(p.b)
		var na notApplicable
		switch {
		case errors.As(err, &na):
			r.Outcome, r.Note = outNA, string(na)
			rep.Results = append(rep.Results, r)
			continue
		case err != nil:
			return nil, fmt.Errorf("probe %s: %w", d.ID, err)
		}
		r.Endpoint, r.fetchPath = req.endpoint, req.fetchPath
		r.exchange, err = p.probe(ctx, req)
		if err != nil {
			return nil, err
		}
		rep.Results = append(rep.Results, r)
	}

	// Control: a correct assertion after the probes. If it is refused, so
	// may everything have been, whatever the probe.
	p.b.now = time.Now()
	if tok, err = p.b.valid(); err != nil {
		return nil, err
	}
	a, err = p.send(ctx, p.b.tokenRequest(tok))
	switch {
	case errors.Is(err, errRequestCap):
		rep.Control = &exchange{Outcome: outInconclusive, Note: "not sent: " + errRequestCap.Error()}
	case err != nil:
		return nil, err
	default:
		c := classify(epToken, a)
		rep.Control = &c
	}
	for i := range rep.Results {
		r := &rep.Results[i]
		if r.Outcome == outRefused && rep.Control.Outcome != outAccepted {
			r.Outcome = outInconclusive
			r.addNote("a correct assertion sent after the probes got no token either")
		}
		// Fetches are looked up last, so that one made after the answer
		// counts too.
		switch {
		case r.fetchPath == "" || r.Status == 0 && r.Outcome != outError:
		case p.listener.fetched(r.fetchPath):
			r.Fetched = true
			r.addNote("the server fetched the URL from the assertion (server-side request forgery)")
		default:
			r.addNote("the server did not fetch the URL")
		}
	}
	rep.Requests = p.client.sent
	summarize(rep)
	return rep, nil
}

// probe sends one probe (and its control, if any) and classifies the
// answer.
func (p *prober) probe(ctx context.Context, req *probeRequest) (exchange, error) {
	// One request stays for the control after the catalog.
	need := 2
	if req.control != nil {
		need++
	}
	if p.client.max-p.client.sent < need {
		return exchange{Outcome: outInconclusive, Note: "not sent: " + errRequestCap.Error()}, nil
	}
	a, err := p.send(ctx, req)
	if err != nil {
		return exchange{}, err
	}
	ex := classify(req.endpoint, a)
	if req.control == nil {
		return ex, nil
	}
	if ex.Outcome == outError {
		return ex, nil
	}
	ca, err := p.send(ctx, req.control)
	if err != nil {
		return exchange{}, err
	}
	ctl := classify(req.control.endpoint, ca)
	return crossEndpoint(ex, ctl), nil
}

// crossEndpoint classifies a replay at an endpoint other than the token
// endpoint, given the answer to a fresh assertion there (the control).
// Such endpoints may refuse a request for reasons other than client
// authentication (PAR without a redirect_uri, say); an answer like the
// control's means authentication passed.
func crossEndpoint(ex, ctl exchange) exchange {
	authFailed := func(e exchange) bool { return e.Status == http.StatusUnauthorized || e.Error == "invalid_client" }
	switch {
	case ex.Outcome == outError:
		return ex
	case ctl.Outcome == outError || authFailed(ctl) || ctl.Status == 0:
		ex.Outcome = outInconclusive
		ex.Note = fmt.Sprintf("a fresh assertion is not accepted there either (%s)", statusText(ctl))
	case authFailed(ex):
		ex.Outcome, ex.Note = outRefused, ""
	case ex.Status >= 200 && ex.Status < 300:
		ex.Outcome, ex.Note = outAccepted, ""
	case ex.Status == ctl.Status && ex.Error == ctl.Error:
		ex.Outcome = outAccepted
		ex.Note = fmt.Sprintf("answered as to a fresh assertion (%s): client authentication passed", statusText(ctl))
	default:
		ex.Outcome = outInconclusive
		ex.Note = fmt.Sprintf("a fresh assertion got %s", statusText(ctl))
	}
	return ex
}

// statusText is "401 invalid_client", "200" or "no answer".
func statusText(e exchange) string {
	if e.Status == 0 {
		return "no answer"
	}
	return strings.TrimSpace(fmt.Sprintf("%d %s", e.Status, e.Error))
}

// send posts req's form to its endpoint.
func (p *prober) send(ctx context.Context, req *probeRequest) (answer, error) {
	u := p.b.endpoints[req.endpoint]
	hr, err := http.NewRequest(http.MethodPost, u, strings.NewReader(req.form.Encode()))
	if err != nil {
		return answer{}, err
	}
	hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hr.Header.Set("Accept", "application/json")
	if req.basic != nil {
		hr.SetBasicAuth(url.QueryEscape(req.basic[0]), url.QueryEscape(req.basic[1]))
	}
	return p.client.do(ctx, hr)
}

// classify turns an answer of endpoint into an outcome.
func classify(endpoint string, a answer) exchange {
	ex := exchange{Status: a.status}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		AccessToken string `json:"access_token"`
	}
	json.Unmarshal(a.body, &body)
	ex.Error = body.Error
	ex.Description = clip(body.Description, 200)
	switch {
	case a.err != nil:
		ex.Outcome, ex.Note = outError, "no answer: "+transportError(a.err)
	case a.status >= 500:
		ex.Outcome, ex.Note = outError, "server error"
	case a.status >= 200 && a.status < 300:
		if endpoint == epToken && body.AccessToken == "" {
			ex.Outcome, ex.Note = outInconclusive, "a success without an access_token"
		} else {
			ex.Outcome = outAccepted
		}
	case a.status == http.StatusTooManyRequests:
		ex.Outcome, ex.Note = outInconclusive, "rate limited by the server (lower -rate)"
	case a.status == http.StatusUnauthorized || a.status == http.StatusRequestEntityTooLarge ||
		(a.status >= 400 && a.status < 500 && (body.Error == "invalid_client" || body.Error == "invalid_request")):
		ex.Outcome = outRefused
	case a.status >= 300 && a.status < 400:
		ex.Outcome, ex.Note = outInconclusive, "a redirect (not followed)"
	default:
		ex.Outcome, ex.Note = outInconclusive, "neither a token nor a client authentication error"
	}
	return ex
}

// transportError describes a transport failure without the URL.
func transportError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return err.Error()
}

// clip shortens s to n bytes at most.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// summarize counts the outcomes and sets the exit status: 1 when a
// critical or high probe was accepted, else 2 when the control got no
// token, else 0.
func summarize(rep *probeReport) {
	s := probeSummary{}
	rep.Exit = exitOK
	for _, r := range rep.Results {
		switch r.Outcome {
		case outAccepted:
			s.Accepted++
		case outRefused:
			s.Refused++
		case outError:
			s.Error++
		case outInconclusive:
			s.Inconclusive++
		case outNA:
			s.NotRun++
		}
		if !r.finding() {
			continue
		}
		s.Findings++
		switch r.sev {
		case sevCritical:
			s.Critical++
		case sevHigh:
			s.High++
		case sevMedium:
			s.Medium++
		}
		if r.sev >= sevHigh {
			rep.Exit = exitFailure
		}
	}
	rep.Summary = s
	// An accepted probe proves a hole whatever came after it; refusals
	// prove nothing when a correct assertion is refused too.
	if rep.Exit == exitOK && rep.Control != nil && rep.Control.Outcome != outAccepted {
		rep.Exit = exitUsage
	}
}

// audience returns the aud of correct assertions.
func (p *prober) audience() string {
	switch {
	case p.cfg.aud != "":
		return p.cfg.aud
	case p.cfg.issuer != "":
		return p.cfg.issuer
	}
	return p.b.endpoints[epToken]
}

// metadataDoc holds the RFC 8414 members the probe reads.
type metadataDoc struct {
	Issuer                  string   `json:"issuer"`
	TokenEndpoint           string   `json:"token_endpoint"`
	IntrospectionEndpoint   string   `json:"introspection_endpoint"`
	RevocationEndpoint      string   `json:"revocation_endpoint"`
	PAREndpoint             string   `json:"pushed_authorization_request_endpoint"`
	AuthMethods             []string `json:"token_endpoint_auth_methods_supported"`
	SigningAlgs             []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	authMethodsSet, algsSet bool
}

// metadataURLs returns where the metadata of issuer may be: the RFC 8414
// location, then the OpenID Connect Discovery one.
func metadataURLs(issuer string) []string {
	u, err := url.Parse(issuer)
	if err != nil {
		return nil
	}
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	oauth := *u
	oauth.RawPath, oauth.Path = "", "/.well-known/oauth-authorization-server"+path
	if path != "" {
		oauth.RawPath = "/.well-known/oauth-authorization-server" + path
		oauth.Path, _ = url.PathUnescape(oauth.RawPath)
	}
	return []string{oauth.String(), strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"}
}

// discover reads the metadata, reports what it advertises and sets the
// endpoints it names.
func (p *prober) discover(ctx context.Context) (*metadataReport, error) {
	var (
		md    metadataDoc
		found string
		tried []string
	)
	for _, mu := range metadataURLs(p.cfg.issuer) {
		req, err := http.NewRequest(http.MethodGet, mu, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		a, err := p.client.do(ctx, req)
		if err != nil {
			return nil, err
		}
		if a.err != nil || a.status != http.StatusOK {
			tried = append(tried, fmt.Sprintf("%s: %s", mu, statusText(exchange{Status: a.status})))
			continue
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(a.body, &raw); err != nil {
			tried = append(tried, fmt.Sprintf("%s: not JSON", mu))
			continue
		}
		if err := json.Unmarshal(a.body, &md); err != nil {
			return nil, usageErrorf("metadata at %s: %v", mu, err)
		}
		_, md.authMethodsSet = raw["token_endpoint_auth_methods_supported"]
		_, md.algsSet = raw["token_endpoint_auth_signing_alg_values_supported"]
		found = mu
		break
	}
	if found == "" {
		if p.cfg.tokenURL != "" {
			return &metadataReport{Warnings: []string{"no metadata found (" + strings.Join(tried, "; ") + ")"}}, nil
		}
		return nil, usageErrorf("no authorization server metadata (RFC 8414) for issuer %s: %s; give -token-url", p.cfg.issuer, strings.Join(tried, "; "))
	}
	if md.Issuer != p.cfg.issuer {
		return nil, usageErrorf("the metadata at %s names issuer %q, not %q (RFC 8414 §3.3: they must be identical); check -issuer", found, md.Issuer, p.cfg.issuer)
	}
	rep := &metadataReport{URL: found, AuthMethods: md.AuthMethods, SigningAlgs: md.SigningAlgs, Warnings: []string{}}
	warn := func(format string, args ...any) { rep.Warnings = append(rep.Warnings, fmt.Sprintf(format, args...)) }
	pkjwt := slices.Contains(md.AuthMethods, "private_key_jwt")
	switch {
	case !md.authMethodsSet:
		warn("token_endpoint_auth_methods_supported is absent: RFC 8414 §2 then means client_secret_basic only")
	case !pkjwt:
		warn("token_endpoint_auth_methods_supported does not list private_key_jwt")
	}
	if (pkjwt || slices.Contains(md.AuthMethods, "client_secret_jwt")) && !md.algsSet {
		warn("token_endpoint_auth_signing_alg_values_supported is absent, though RFC 8414 §2 requires it with private_key_jwt or client_secret_jwt")
	}
	for _, a := range md.SigningAlgs {
		if strings.EqualFold(a, "none") {
			warn("token_endpoint_auth_signing_alg_values_supported lists %q, which RFC 8414 §2 forbids", a)
		}
	}
	if md.algsSet && !slices.Contains(md.SigningAlgs, p.cfg.key.alg) {
		warn("token_endpoint_auth_signing_alg_values_supported does not list %s, the alg the probe signs with", p.cfg.key.alg)
	}
	for _, e := range []struct{ name, url, flag string }{
		{epToken, md.TokenEndpoint, p.cfg.tokenURL},
		{epIntrospection, md.IntrospectionEndpoint, p.cfg.introspectionURL},
		{epRevocation, md.RevocationEndpoint, p.cfg.revocationURL},
		{epPAR, md.PAREndpoint, p.cfg.parURL},
	} {
		switch {
		case e.flag != "" || e.url == "":
		case !p.client.allows(e.url):
			warn("the %s endpoint %s is on another host than the one(s) named on the command line: not probed (give its -*-url to include it)", e.name, e.url)
		default:
			p.b.endpoints[e.name] = e.url
		}
	}
	return rep, nil
}

// setEndpoints applies the endpoint flags over the discovered ones.
func (p *prober) setEndpoints() {
	for name, u := range map[string]string{epToken: p.cfg.tokenURL, epIntrospection: p.cfg.introspectionURL, epRevocation: p.cfg.revocationURL, epPAR: p.cfg.parURL} {
		if u != "" {
			p.b.endpoints[name] = u
		}
	}
}

// keyListener is the probe's loopback HTTP server that the jku and x5u
// probes point to: it serves the attacker's key and records which paths
// were fetched.
type keyListener struct {
	url  string
	srv  *http.Server
	done chan struct{}

	mu   sync.Mutex
	hits map[string]int
}

func newKeyListener(attacker crypto.Signer, alg string) (*keyListener, error) {
	jwk, err := jwkOf(attacker.Public(), "pkjwt-probe-attacker", alg, string(jwkset.UseSig), false)
	if err != nil {
		return nil, err
	}
	jwks, err := json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{jwk}})
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "pkjwt probe attacker"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, attacker.Public(), attacker)
	if err != nil {
		return nil, err
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l := &keyListener{url: "http://" + ln.Addr().String(), done: make(chan struct{}), hits: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.hits[r.URL.Path]++
		l.mu.Unlock()
		switch r.URL.Path {
		case "/jku":
			w.Header().Set("Content-Type", "application/json")
			w.Write(jwks)
		case "/x5u":
			w.Header().Set("Content-Type", "application/pem-certificate-chain")
			w.Write(cert)
		default:
			http.NotFound(w, r)
		}
	})
	l.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(l.done)
		l.srv.Serve(ln)
	}()
	return l, nil
}

// fetched reports whether path was requested.
func (l *keyListener) fetched(path string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hits[path] > 0
}

// Close stops the listener and waits for its goroutine.
func (l *keyListener) Close() error {
	err := l.srv.Close()
	<-l.done
	return err
}

// dryRun prints the requests the probe would send, without sending any.
func (p *prober) dryRun(w io.Writer) error {
	endpoint := func(name string) string {
		if u, ok := p.b.endpoints[name]; ok {
			return u
		}
		return "(the " + name + "_endpoint of the metadata, if any)"
	}
	p.setEndpoints()
	if p.cfg.issuer != "" {
		fmt.Fprintf(w, "GET %s\n  (then %s if absent)\n\n", metadataURLs(p.cfg.issuer)[0], metadataURLs(p.cfg.issuer)[1])
	}
	for _, name := range []string{epToken, epIntrospection, epRevocation, epPAR} {
		if _, ok := p.b.endpoints[name]; !ok {
			p.b.endpoints[name] = endpoint(name)
		}
	}
	p.b.aud = p.audience()
	p.b.now = time.Now()
	tok, err := p.b.valid()
	if err != nil {
		return err
	}
	p.b.baseline = tok
	printRequest(w, "baseline", p.b.endpoints, p.b.tokenRequest(tok))
	n := 1
	for _, d := range catalog {
		req, err := d.build(p.b)
		var na notApplicable
		if errors.As(err, &na) {
			fmt.Fprintf(w, "%s: not sent (%s)\n\n", d.ID, na)
			continue
		}
		if err != nil {
			return err
		}
		printRequest(w, d.ID, p.b.endpoints, req)
		n++
		if req.control != nil {
			printRequest(w, d.ID+" (control)", p.b.endpoints, req.control)
			n++
		}
	}
	tok, err = p.b.valid()
	if err != nil {
		return err
	}
	printRequest(w, "control", p.b.endpoints, p.b.tokenRequest(tok))
	n++
	_, err = fmt.Fprintf(w, "Dry run: %d requests (plus metadata discovery) would be sent, at most %d, at most %g per second. Nothing was sent.\n", n, p.cfg.maxRequests, p.cfg.rate)
	return err
}

// printRequest prints one request of a dry run: its form parameters
// (the assertion decoded) and headers.
func printRequest(w io.Writer, name string, endpoints map[string]string, r *probeRequest) {
	fmt.Fprintf(w, "%s: POST %s\n", name, endpoints[r.endpoint])
	if r.basic != nil {
		fmt.Fprintf(w, "  Authorization: Basic (%s:%s)\n", r.basic[0], r.basic[1])
	}
	keys := make([]string, 0, len(r.form))
	for k := range r.form {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range r.form[k] {
			if k != "client_assertion" {
				fmt.Fprintf(w, "  %s=%s\n", k, v)
				continue
			}
			h, c := segment0(v, 0), segment0(v, 1)
			parts := strings.Split(v, ".")
			sig := "no signature"
			if len(parts) == 3 && parts[2] != "" {
				sig = fmt.Sprintf("signature of %d characters", len(parts[2]))
			}
			fmt.Fprintf(w, "  client_assertion: header %s\n                    claims %s\n                    %s\n", clip(h, 300), clip(c, 300), sig)
		}
	}
	fmt.Fprintln(w)
}

// segment0 is segment as a string, or "(not decodable)".
func segment0(tok string, i int) string {
	b := segment(tok, i)
	if b == nil {
		return "(not decodable)"
	}
	return string(b)
}
