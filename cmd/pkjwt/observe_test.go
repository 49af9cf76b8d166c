package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/internal/redistest"
	"github.com/pkjwt/pkjwt/internal/telemetry"
	"github.com/pkjwt/pkjwt/verify"
)

// scrape is one /metrics exposition: series ("name{labels}") to values,
// and the metric families it declares.
type scrape struct {
	series   map[string]float64
	families map[string]bool
}

func scrapeMetrics(t *testing.T, u string) scrape {
	t.Helper()
	r := doHTTP(t, http.MethodGet, u, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %v", u, r)
	}
	s := scrape{series: map[string]float64{}, families: map[string]bool{}}
	sc := bufio.NewScanner(strings.NewReader(r.raw))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			s.families[strings.Fields(rest)[0]] = true
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("exposition line %q: %v", line, err)
		}
		s.series[line[:i]] = v
	}
	return s
}

// get returns the value of a series, failing if it is absent.
func (s scrape) get(t *testing.T, series string) float64 {
	t.Helper()
	v, ok := s.series[series]
	if !ok {
		t.Errorf("no series %s", series)
	}
	return v
}

func attempts(result, reason string) string {
	return `pkjwt_client_auth_attempts_total{error_type="` + reason + `",pkjwt_result="` + result + `"}`
}

// TestServeMetrics runs serve with metrics and access logs, sends a mix of
// good, replayed and bad assertions, and scrapes /metrics over HTTP; then
// makes the client's jwks_uri fail.
func TestServeMetrics(t *testing.T) {
	dir := t.TempDir()
	c1 := keygenClient(t, dir, "c1", "p256", "pem")
	other := keygenClient(t, dir, "other", "p256", "pem")
	var (
		mu     sync.Mutex
		status = http.StatusOK
	)
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(c1.jwks)
	}))
	defer jwks.Close()
	metricsAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	p := startServe(t, map[string]any{
		"allow_insecure_jwks_uri": true,
		"jwks_refresh_seconds":    1,
		"metrics_listen":          metricsAddr,
		"access_log":              true,
		"clients":                 []any{map[string]any{"client_id": "c1", "jwks_uri": jwks.URL}},
	})
	metricsURL := "http://" + metricsAddr + "/metrics"
	if !strings.Contains(p.stderr.String(), "metrics on "+metricsURL) {
		t.Errorf("serve does not say where the metrics are:\n%s", p.stderr)
	}

	// Before any request, every attempts series is there, at zero.
	before := scrapeMetrics(t, metricsURL)
	for _, e := range verify.Refusals() {
		result := verify.OutcomeFailure
		if e.Infrastructure() {
			result = verify.OutcomeError
		}
		if v := before.get(t, attempts(result, e.Reason)); v != 0 {
			t.Errorf("%s = %v before any request", attempts(result, e.Reason), v)
		}
	}

	token := func(form map[string][]string, want int) {
		t.Helper()
		if r := doHTTP(t, http.MethodPost, p.issuer+"/token", form); r.status != want {
			t.Fatalf("token: %v, want %d", r, want)
		}
	}
	grant := []string{"grant_type", "client_credentials"}
	var sent []string
	for range 3 {
		a := c1.mint(t, p.issuer)
		sent = append(sent, a)
		token(assertionForm(a, grant...), http.StatusOK)
	}
	for _, a := range sent[:2] {
		token(assertionForm(a, grant...), http.StatusUnauthorized)
	}
	for range 2 {
		token(assertionForm(c1.mint(t, p.issuer+"/token"), grant...), http.StatusUnauthorized)
	}
	token(assertionForm(c1.mint(t, p.issuer, "-lifetime", "-1h"), grant...), http.StatusUnauthorized)
	token(assertionForm(other.mint(t, p.issuer, "-iss", "c1", "-kid", c1kid(t, c1)), grant...), http.StatusUnauthorized)
	token(assertionForm("not.a.jwt", grant...), http.StatusUnauthorized)
	token(assertionForm(c1.mint(t, p.issuer, "-iss", "nobody"), grant...), http.StatusUnauthorized)
	if r := doHTTP(t, http.MethodGet, p.issuer+"/token", nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET /token: %v", r)
	}

	m := scrapeMetrics(t, metricsURL)
	want := map[string]float64{
		attempts("success", ""):                 3,
		attempts("failure", "replayed"):         2,
		attempts("failure", "aud"):              2,
		attempts("failure", "expired"):          1,
		attempts("failure", "signature"):        1,
		attempts("failure", "malformed"):        1,
		attempts("failure", "unknown_client"):   1,
		attempts("failure", "nbf"):              0,
		attempts("error", "replay_unavailable"): 0,
		`pkjwt_client_auth_duration_seconds_count{error_type="",pkjwt_alg="ES256",pkjwt_method="private_key_jwt",pkjwt_result="success"}`:         3,
		`pkjwt_client_auth_duration_seconds_count{error_type="replayed",pkjwt_alg="ES256",pkjwt_method="private_key_jwt",pkjwt_result="failure"}`: 2,
		`pkjwt_client_auth_duration_seconds_count{error_type="malformed",pkjwt_alg="",pkjwt_method="",pkjwt_result="failure"}`:                    1,
		`pkjwt_replay_claim_duration_seconds_count{pkjwt_result="claimed"}`:                                                                       3,
		`pkjwt_replay_claim_duration_seconds_count{pkjwt_result="replayed"}`:                                                                      2,
		`pkjwt_replay_claim_duration_seconds_count{pkjwt_result="error"}`:                                                                         0,
		`pkjwt_key_lookup_duration_seconds_count{error_type=""}`:                                                                                  9,
		`pkjwt_client_jwks_info{client_id="c1",pkjwt_jwks_uri="` + jwks.URL + `"}`:                                                                1,
		`pkjwt_jwks_keys{pkjwt_jwks_key_state="usable",pkjwt_jwks_uri="` + jwks.URL + `"}`:                                                        1,
	}
	for series, v := range want {
		if got := m.get(t, series); got != v {
			t.Errorf("%s = %v, want %v", series, got, v)
		}
	}
	// The middleware's own refusal (GET) is in the access log, below, not
	// in the verification metrics: no hook sees it.
	for series := range m.series {
		if strings.Contains(series, "method_not_allowed") {
			t.Errorf("series %s: the middleware's refusals are not verifications", series)
		}
	}
	for _, md := range telemetry.All {
		if md.Name == telemetry.JWKSRefreshSuppressed.Name || md.Name == telemetry.JWKSFetchErrors.Name {
			continue // no series yet; checked below
		}
		if !m.families[md.PrometheusName()] {
			t.Errorf("no metric %s (%s)", md.PrometheusName(), md.Name)
		}
	}

	// The access log names the client and each refusal's reason, and never
	// an assertion.
	logs := p.stderr.String()
	for _, s := range []string{"status=200", "client_id=c1", "reason=replayed code=invalid_client", "reason=aud", "reason=expired", "reason=method_not_allowed code=invalid_request", "status=405", "path=/token"} {
		if !strings.Contains(logs, "pkjwt serve: access") || !strings.Contains(logs, s) {
			t.Errorf("access log lacks %q:\n%s", s, logs)
		}
	}
	for _, a := range sent {
		if strings.Contains(logs, a[strings.LastIndexByte(a, '.'):]) {
			t.Errorf("an assertion is in the log")
		}
	}

	// Health, on both listeners.
	for _, base := range []string{p.issuer, "http://" + metricsAddr} {
		for _, path := range []string{"/healthz", "/readyz"} {
			if r := doHTTP(t, http.MethodGet, base+path, nil); r.status != http.StatusOK {
				t.Errorf("GET %s%s: %v", base, path, r)
			}
		}
	}

	// The jwks_uri fails: a kid it does not know makes serve fetch on
	// demand, then the background refresh (every second) keeps failing;
	// the error counter rises and the key age grows.
	mu.Lock()
	status = http.StatusInternalServerError
	mu.Unlock()
	for range 3 {
		token(assertionForm(c1.mint(t, p.issuer, "-kid", "unknown"), grant...), http.StatusUnauthorized)
	}
	errSeries := `pkjwt_jwks_fetch_errors_total{error_type="http_status",pkjwt_jwks_uri="` + jwks.URL + `"}`
	ageSeries := `pkjwt_jwks_key_age_seconds{pkjwt_jwks_uri="` + jwks.URL + `"}`
	lastSeries := `pkjwt_jwks_last_success_time_seconds{pkjwt_jwks_uri="` + jwks.URL + `"}`
	m1 := scrapeMetrics(t, metricsURL)
	// The first unknown kid fetches (or joins a background fetch), a later
	// one within 30 s is refused a fetch.
	if v := m1.get(t, `pkjwt_jwks_refresh_suppressed_total{pkjwt_jwks_uri="`+jwks.URL+`"}`); v < 1 {
		t.Errorf("suppressed refreshes: %v, want at least 1", v)
	}
	time.Sleep(2500 * time.Millisecond)
	m2 := scrapeMetrics(t, metricsURL)
	if e1, e2 := m1.get(t, errSeries), m2.get(t, errSeries); e1 < 1 || e2 <= e1 {
		t.Errorf("fetch errors %v then %v: want at least 1, rising", e1, e2)
	}
	if a1, a2 := m1.get(t, ageSeries), m2.get(t, ageSeries); a2 < a1+2 {
		t.Errorf("key age %v then %v s: want it to grow with time", a1, a2)
	}
	if l1, l2 := m1.get(t, lastSeries), m2.get(t, lastSeries); l1 != l2 || l1 < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("last success %v then %v", l1, l2)
	}
}

// c1kid returns the kid of c's only key.
func c1kid(t *testing.T, c testClient) string {
	t.Helper()
	keys := readJWKS(t, c.jwks)
	return keys[0].KID
}

// TestServeReadyz stops and restarts the Redis replay store under serve:
// /readyz follows it, /healthz does not.
func TestServeReadyz(t *testing.T) {
	redis := redistest.Start(t)
	dir := t.TempDir()
	c := keygenClient(t, dir, "c1", "p256", "pem")
	metricsAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	p := startServe(t, map[string]any{
		"metrics_listen": metricsAddr,
		"replay":         map[string]any{"redis_url": "redis://" + redis.Addr() + "/0"},
		"clients":        []any{map[string]any{"client_id": "c1", "jwks": jsonValue(t, c.jwks)}},
	})
	check := func(base, path string, want int, body string) {
		t.Helper()
		r := doHTTP(t, http.MethodGet, base+path, nil)
		if r.status != want || !strings.Contains(r.raw, body) {
			t.Errorf("GET %s: %v, want %d %q", path, r, want, body)
		}
	}
	for _, base := range []string{p.issuer, "http://" + metricsAddr} {
		check(base, "/healthz", http.StatusOK, "ok")
		check(base, "/readyz", http.StatusOK, "ready")
	}
	redis.Stop()
	for _, base := range []string{p.issuer, "http://" + metricsAddr} {
		check(base, "/healthz", http.StatusOK, "ok")
		check(base, "/readyz", http.StatusServiceUnavailable, "replay store: unreachable")
	}
	if r := doHTTP(t, http.MethodPost, p.issuer+"/token", assertionForm(c.mint(t, p.issuer), "grant_type", "client_credentials")); r.status != http.StatusServiceUnavailable {
		t.Errorf("token with Redis down: %v", r)
	}
	m := scrapeMetrics(t, "http://"+metricsAddr+"/metrics")
	if v := m.get(t, attempts("error", "replay_unavailable")); v != 1 {
		t.Errorf("replay_unavailable: %v, want 1", v)
	}
	if v := m.get(t, `pkjwt_replay_claim_duration_seconds_count{pkjwt_result="error"}`); v != 1 {
		t.Errorf("replay claim errors: %v, want 1", v)
	}
	redis.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for doHTTP(t, http.MethodGet, p.issuer+"/readyz", nil).status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("/readyz not ready 10 s after Redis restarted")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func jsonValue(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestServeMetricsConfig checks metrics_listen's validation, and that
// metrics are off without it.
func TestServeMetricsConfig(t *testing.T) {
	for _, bad := range []string{"9090", "localhost"} {
		cfg := goodConfig()
		cfg["metrics_listen"] = bad
		if _, err := parseConfig(strings.NewReader(marshalConfig(t, cfg))); err == nil || !strings.Contains(err.Error(), "metrics_listen") {
			t.Errorf("metrics_listen %q: %v", bad, err)
		}
	}
	cfg, err := parseConfig(strings.NewReader(marshalConfig(t, goodConfig())))
	if err != nil {
		t.Fatal(err)
	}
	if o := newObserver(cfg, nil); o != nil || o.verifyHooks() != nil || o.jwksHooks() != nil {
		t.Errorf("observer without metrics_listen and access_log: %+v", o)
	}
}
