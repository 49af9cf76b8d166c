package pkjwtotel_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/trace/noop"

	pkjwtotel "github.com/pkjwt/pkjwt/integrations/otel"
	"github.com/pkjwt/pkjwt/internal/telemetry"
	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/jwksfetch"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

// TestPrometheusNames exports through the OpenTelemetry Prometheus
// exporter and checks that every metric appears under the name (and with
// the labels) that pkjwt serve's own Prometheus endpoint uses.
func TestPrometheusNames(t *testing.T) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	defer mp.Shutdown(context.Background())
	in, err := pkjwtotel.New(pkjwtotel.Config{MeterProvider: mp, TracerProvider: noop.NewTracerProvider()})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()

	// One event of each kind.
	ctx := context.Background()
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write(testkeys.JWKS(testkeys.JWK(testkeys.Public(testkeys.RSA2048), "r1", "RS256", "sig")))
	}))
	defer good.Close()
	bad := httptest.NewServer(http.NotFoundHandler())
	defer bad.Close()
	remote := func(uri string) *jwksfetch.Remote {
		r, err := jwksfetch.NewRemote(uri, jwksfetch.RemoteConfig{InsecureAllowLoopbackAndHTTP: true, Hooks: in.JWKSHooks()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	keys := remote(good.URL)
	remote(bad.URL).Key(ctx, "r1", "RS256")
	keys.Key(ctx, "r1", "RS256")    // after the first fetch
	keys.Key(ctx, "other", "RS256") // a refresh
	keys.Key(ctx, "other", "RS256") // suppressed
	store, err := replay.NewMemory(replay.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	v, err := verify.New(issuer, verify.ClientMap{"c1": {ID: "c1", Keys: keys}}, store, verify.Config{Hooks: in.VerifyHooks()})
	if err != nil {
		t.Fatal(err)
	}
	a := testkeys.Sign("RS256", testkeys.Signer(testkeys.RSA2048), map[string]any{"kid": "r1"}, testkeys.Claims("c1", issuer, nowish()))
	if _, err := v.Verify(ctx, verify.Request{AssertionType: verify.AssertionType, Assertion: a}); err != nil {
		t.Fatal(err)
	}

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]map[string]bool{}
	for _, f := range families {
		ls := map[string]bool{}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				ls[l.GetName()] = true
			}
		}
		labels[f.GetName()] = ls
	}
	for _, m := range telemetry.All {
		ls, ok := labels[m.PrometheusName()]
		if !ok {
			t.Errorf("no %s (for %s) among %v", m.PrometheusName(), m.Name, keysOf(labels))
			continue
		}
		allowed := map[string]bool{"otel_scope_name": true, "otel_scope_version": true, "otel_scope_schema_url": true}
		for _, a := range m.Attributes {
			allowed[strings.ReplaceAll(a, ".", "_")] = true
		}
		for l := range ls {
			if !allowed[l] {
				t.Errorf("%s: label %q not among the attributes %v", m.PrometheusName(), l, m.Attributes)
			}
		}
	}
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		if strings.HasPrefix(k, "pkjwt") {
			out = append(out, k)
		}
	}
	return out
}
