package pkjwtotel_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	pkjwtotel "github.com/pkjwt/pkjwt/integrations/otel"
	"github.com/pkjwt/pkjwt/internal/telemetry"
	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/jwksfetch"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

const issuer = "https://as.example.com"

// fixture is a verifier wired to an Instrumentation that records into an
// in-memory reader and span recorder.
type fixture struct {
	in     *pkjwtotel.Instrumentation
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	now    time.Time
}

func newFixture(t *testing.T, cfg pkjwtotel.Config) *fixture {
	t.Helper()
	f := &fixture{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder(), now: time.Now()}
	f.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(f.spans))
	cfg.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(f.reader))
	cfg.TracerProvider = f.tp
	in, err := pkjwtotel.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	f.in = in
	return f
}

// verifier returns a Verifier of client "c1" (an RSA key, kid r1) claiming
// jtis in store.
func (f *fixture) verifier(t *testing.T, store replay.Store) *verify.Verifier {
	t.Helper()
	keys, err := verify.NewKeySet(verify.Key{ID: "r1", Public: testkeys.Public(testkeys.RSA2048)})
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.New(issuer, verify.ClientMap{"c1": {ID: "c1", Keys: keys}}, store,
		verify.Config{Hooks: f.in.VerifyHooks(), Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (f *fixture) assertion(mod func(map[string]any)) verify.Request {
	c := testkeys.Claims("c1", issuer, f.now)
	if mod != nil {
		mod(c)
	}
	return verify.Request{AssertionType: verify.AssertionType,
		Assertion: testkeys.Sign("RS256", testkeys.Signer(testkeys.RSA2048), map[string]any{"kid": "r1"}, c)}
}

func (f *fixture) collect(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := f.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != pkjwtotel.ScopeName {
			t.Errorf("scope %q", sm.Scope.Name)
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// attrKey renders an attribute set as "k=v,k=v" in key order.
func attrKey(s attribute.Set) string {
	var b []byte
	for i, kv := range s.ToSlice() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, string(kv.Key)+"="+kv.Value.String()...)
	}
	return string(b)
}

func sums(t *testing.T, m metricdata.Metrics) map[string]int64 {
	t.Helper()
	s, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s: %T, want an int64 sum", m.Name, m.Data)
	}
	out := map[string]int64{}
	for _, dp := range s.DataPoints {
		out[attrKey(dp.Attributes)] = dp.Value
	}
	return out
}

func histogramCounts(t *testing.T, m metricdata.Metrics, buckets []float64) map[string]uint64 {
	t.Helper()
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s: %T, want a float64 histogram", m.Name, m.Data)
	}
	out := map[string]uint64{}
	for _, dp := range h.DataPoints {
		out[attrKey(dp.Attributes)] = dp.Count
		if !slices.Equal(dp.Bounds, buckets) {
			t.Errorf("%s: buckets %v, want %v", m.Name, dp.Bounds, buckets)
		}
	}
	return out
}

// downStore is a replay store that cannot answer.
type downStore struct{}

func (downStore) Claim(context.Context, string, time.Time) (time.Time, error) {
	return time.Time{}, errors.New("connection refused")
}

// TestVerifyMetricsAndSpans sends a mix of good, replayed and bad
// assertions and checks every count, and the spans of each verification.
func TestVerifyMetricsAndSpans(t *testing.T) {
	f := newFixture(t, pkjwtotel.Config{})
	store, err := replay.NewMemory(replay.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	v := f.verifier(t, store)

	// Every series exists, at zero, before the first verification.
	attempts := sums(t, f.collect(t)[telemetry.ClientAuthAttempts.Name])
	if n := len(verify.Refusals()) + 1; len(attempts) != n {
		t.Errorf("%d series of %s before any event, want %d: %v", len(attempts), telemetry.ClientAuthAttempts.Name, n, attempts)
	}
	for k, n := range attempts {
		if n != 0 {
			t.Errorf("%s{%s} = %d before any event", telemetry.ClientAuthAttempts.Name, k, n)
		}
	}

	root := context.Background()
	tracer := f.tp.Tracer("test")
	sent := map[string]int{}
	send := func(req verify.Request, v *verify.Verifier, want error) {
		ctx, span := tracer.Start(root, "request")
		_, err := v.Verify(ctx, req)
		span.End()
		if !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Fatalf("Verify: %v, want %v", err, want)
		}
		var e *verify.Error
		reason := ""
		if errors.As(err, &e) {
			reason = e.Reason
		}
		sent[reason]++
	}
	for range 3 {
		good := f.assertion(nil)
		send(good, v, nil)
		send(good, v, verify.ErrReplayed)
	}
	send(f.assertion(func(c map[string]any) { c["exp"] = f.now.Add(-time.Hour).Unix() }), v, verify.ErrExpired)
	send(f.assertion(func(c map[string]any) { c["aud"] = issuer + "/token" }), v, verify.ErrAudience)
	send(f.assertion(func(c map[string]any) { c["aud"] = "x" }), v, verify.ErrAudience)
	send(verify.Request{AssertionType: verify.AssertionType, Assertion: "a.b"}, v, verify.ErrMalformed)
	send(f.assertion(func(c map[string]any) { c["iss"], c["sub"] = "nobody", "nobody" }), v, verify.ErrUnknownClient)
	send(f.assertion(nil), f.verifier(t, downStore{}), verify.ErrReplayUnavailable)

	metrics := f.collect(t)
	attempts = sums(t, metrics[telemetry.ClientAuthAttempts.Name])
	for _, e := range verify.Refusals() {
		result := verify.OutcomeFailure
		if e.Infrastructure() {
			result = verify.OutcomeError
		}
		k := "error.type=" + e.Reason + ",pkjwt.result=" + result
		if got, ok := attempts[k]; !ok || got != int64(sent[e.Reason]) {
			t.Errorf("%s{%s} = %d (present %v), sent %d", telemetry.ClientAuthAttempts.Name, k, got, ok, sent[e.Reason])
		}
	}
	if got := attempts["pkjwt.result=success"]; got != 3 {
		t.Errorf("successes: %d, want 3", got)
	}

	durations := histogramCounts(t, metrics[telemetry.ClientAuthDuration.Name], telemetry.VerifyBuckets)
	want := map[string]uint64{
		"pkjwt.alg=RS256,pkjwt.method=private_key_jwt,pkjwt.result=success":                             3,
		"error.type=replayed,pkjwt.alg=RS256,pkjwt.method=private_key_jwt,pkjwt.result=failure":         3,
		"error.type=expired,pkjwt.alg=RS256,pkjwt.method=private_key_jwt,pkjwt.result=failure":          1,
		"error.type=aud,pkjwt.alg=RS256,pkjwt.method=private_key_jwt,pkjwt.result=failure":              2,
		"error.type=malformed,pkjwt.result=failure":                                                     1,
		"error.type=unknown_client,pkjwt.result=failure":                                                1,
		"error.type=replay_unavailable,pkjwt.alg=RS256,pkjwt.method=private_key_jwt,pkjwt.result=error": 1,
	}
	if diff := cmp.Diff(want, durations); diff != "" {
		t.Errorf("%s counts (-want +got):\n%s", telemetry.ClientAuthDuration.Name, diff)
	}
	claims := histogramCounts(t, metrics[telemetry.ReplayClaimDuration.Name], telemetry.StoreBuckets)
	if diff := cmp.Diff(map[string]uint64{"pkjwt.result=claimed": 3, "pkjwt.result=replayed": 3, "pkjwt.result=error": 1}, claims); diff != "" {
		t.Errorf("%s counts (-want +got):\n%s", telemetry.ReplayClaimDuration.Name, diff)
	}
	lookups := histogramCounts(t, metrics[telemetry.KeyLookupDuration.Name], telemetry.StoreBuckets)
	if diff := cmp.Diff(map[string]uint64{"": 10}, lookups); diff != "" {
		t.Errorf("%s counts (-want +got):\n%s", telemetry.KeyLookupDuration.Name, diff)
	}

	checkSpans(t, f.spans.Ended(), sent)
}

// checkSpans checks that each request span has one pkjwt.verify child,
// itself parent of the key lookup and replay claim spans where those steps
// ran.
func checkSpans(t *testing.T, spans []sdktrace.ReadOnlySpan, sent map[string]int) {
	t.Helper()
	byName := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byName[s.Name()] = append(byName[s.Name()], s)
	}
	total := 0
	for _, n := range sent {
		total += n
	}
	if len(byName["request"]) != total || len(byName[pkjwtotel.SpanVerify]) != total ||
		len(byName[pkjwtotel.SpanKeyLookup]) != 10 || len(byName[pkjwtotel.SpanReplayClaim]) != 7 {
		t.Fatalf("spans: %d request, %d verify, %d key lookup, %d replay claim; want %d, %d, 10, 7",
			len(byName["request"]), len(byName[pkjwtotel.SpanVerify]), len(byName[pkjwtotel.SpanKeyLookup]), len(byName[pkjwtotel.SpanReplayClaim]), total, total)
	}
	requests := map[[8]byte]bool{}
	for _, s := range byName["request"] {
		requests[s.SpanContext().SpanID()] = true
	}
	verifies := map[[8]byte]sdktrace.ReadOnlySpan{}
	reasons := map[string]int{}
	for _, s := range byName[pkjwtotel.SpanVerify] {
		if !requests[s.Parent().SpanID()] {
			t.Errorf("verify span without the request span as parent")
		}
		verifies[s.SpanContext().SpanID()] = s
		attrs := map[string]string{}
		for _, kv := range s.Attributes() {
			attrs[string(kv.Key)] = kv.Value.String()
		}
		if _, ok := attrs[telemetry.AttrClientID]; ok {
			t.Errorf("client id recorded without RecordClientID")
		}
		reasons[attrs[telemetry.AttrErrorType]]++
		if (attrs[telemetry.AttrErrorType] != "") != (s.Status().Code == codes.Error) {
			t.Errorf("verify span status %v with error.type %q", s.Status(), attrs[telemetry.AttrErrorType])
		}
	}
	if diff := cmp.Diff(sent, reasons); diff != "" {
		t.Errorf("verify spans by error.type (-sent +spans):\n%s", diff)
	}
	for _, name := range []string{pkjwtotel.SpanKeyLookup, pkjwtotel.SpanReplayClaim} {
		for _, s := range byName[name] {
			p, ok := verifies[s.Parent().SpanID()]
			if !ok {
				t.Errorf("%s span without a verify span as parent", name)
				continue
			}
			if s.StartTime().Before(p.StartTime()) || s.EndTime().After(p.EndTime()) {
				t.Errorf("%s span outside its parent", name)
			}
		}
	}
}

// TestRecordClientID checks that the client id appears only when asked.
func TestRecordClientID(t *testing.T) {
	f := newFixture(t, pkjwtotel.Config{RecordClientID: true})
	v := f.verifier(t, downStore{})
	good := f.assertion(nil)
	v.Verify(context.Background(), good)
	attempts := sums(t, f.collect(t)[telemetry.ClientAuthAttempts.Name])
	want := map[string]int64{"error.type=replay_unavailable,pkjwt.client_id=c1,pkjwt.result=error": 1}
	if diff := cmp.Diff(want, attempts); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
}

// clock is a settable Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestJWKSFailing makes a jwks_uri fail: the fetch error counter rises and
// the key age gauge grows while the last success stays put.
func TestJWKSFailing(t *testing.T) {
	clk := &clock{t: time.Now()}
	f := newFixture(t, pkjwtotel.Config{Now: clk.Now})
	var (
		mu     sync.Mutex
		status = http.StatusOK
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		s := status
		mu.Unlock()
		w.WriteHeader(s)
		w.Write(testkeys.JWKS(testkeys.JWK(testkeys.Public(testkeys.P256), "k1", "ES256", "sig")))
	}))
	defer srv.Close()
	r, err := jwksfetch.NewRemote(srv.URL, jwksfetch.RemoteConfig{
		InsecureAllowLoopbackAndHTTP: true, RefreshInterval: -1, MinRefreshInterval: -1,
		Now: clk.Now, Hooks: f.in.JWKSHooks(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	if _, err := r.Key(ctx, "k1", "ES256"); err != nil {
		t.Fatal(err)
	}
	gauge := func(m metricdata.Metrics) float64 {
		g := m.Data.(metricdata.Gauge[float64])
		if len(g.DataPoints) != 1 {
			t.Fatalf("%s: %d points", m.Name, len(g.DataPoints))
		}
		if v, _ := g.DataPoints[0].Attributes.Value(telemetry.AttrJWKSURI); v.AsString() != srv.URL {
			t.Errorf("%s: uri %q", m.Name, v.AsString())
		}
		return g.DataPoints[0].Value
	}
	m := f.collect(t)
	lastSuccess := gauge(m[telemetry.JWKSLastSuccess.Name])
	if age := gauge(m[telemetry.JWKSKeyAge.Name]); age < 0 || age > 1 {
		t.Errorf("key age after a fetch: %v s", age)
	}
	if _, ok := m[telemetry.JWKSFetchErrors.Name]; ok {
		t.Errorf("fetch errors before any failure")
	}

	mu.Lock()
	status = http.StatusInternalServerError
	mu.Unlock()
	key := "error.type=http_status,pkjwt.jwks.uri=" + srv.URL
	prevAge := 0.0
	for i := 1; i <= 3; i++ {
		clk.Advance(time.Minute)
		if _, err := r.Key(ctx, "unknown", "ES256"); !errors.Is(err, verify.ErrKeyNotFound) {
			t.Fatalf("unknown kid: %v", err)
		}
		m := f.collect(t)
		if got := sums(t, m[telemetry.JWKSFetchErrors.Name])[key]; got != int64(i) {
			t.Errorf("after %d failed fetches: %s{%s} = %d", i, telemetry.JWKSFetchErrors.Name, key, got)
		}
		age := gauge(m[telemetry.JWKSKeyAge.Name])
		if age < float64(i*60-5) || age <= prevAge {
			t.Errorf("after %d failed fetches: key age %v s, want at least %d and more than %v", i, age, i*60, prevAge)
		}
		prevAge = age
		if got := gauge(m[telemetry.JWKSLastSuccess.Name]); got != lastSuccess {
			t.Errorf("last success moved from %v to %v", lastSuccess, got)
		}
	}
	m = f.collect(t)
	fetches := histogramCounts(t, m[telemetry.JWKSFetchDuration.Name], telemetry.FetchBuckets)
	want := map[string]uint64{
		"pkjwt.jwks.trigger=scheduled,pkjwt.jwks.uri=" + srv.URL:                     1,
		"error.type=http_status,pkjwt.jwks.trigger=demand,pkjwt.jwks.uri=" + srv.URL: 3,
	}
	if diff := cmp.Diff(want, fetches); diff != "" {
		t.Errorf("fetch durations (-want +got):\n%s", diff)
	}
	// The first lookup joined the first fetch, or came after it.
	lookups := sums(t, m[telemetry.JWKSLookups.Name])
	lookups["pkjwt.jwks.lookup=joined"] += lookups["pkjwt.jwks.lookup=hit"]
	delete(lookups, "pkjwt.jwks.lookup=hit")
	if diff := cmp.Diff(map[string]int64{"pkjwt.jwks.lookup=joined": 1, "pkjwt.jwks.lookup=refresh": 3}, lookups); diff != "" {
		t.Errorf("lookups (-want +got):\n%s", diff)
	}

	// Closing the source drops its gauges.
	r.Close()
	m = f.collect(t)
	if g, ok := m[telemetry.JWKSKeyAge.Name]; ok && len(g.Data.(metricdata.Gauge[float64]).DataPoints) > 0 {
		t.Errorf("key age of a closed source still reported")
	}
}
