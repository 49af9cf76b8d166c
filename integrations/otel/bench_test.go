package pkjwtotel_test

import (
	"context"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"

	pkjwtotel "github.com/pkjwt/pkjwt/integrations/otel"
	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

// BenchmarkVerify measures one verification (as verify's BenchmarkVerify:
// a KeySet and replay's memory store) without hooks, with the metrics of
// this package (OpenTelemetry SDK meter provider, no-op tracer), and with
// metrics and spans (SDK tracer provider sampling every span, no
// exporter). Compare the three in the same run.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []struct{ alg, key string }{{"RS256", testkeys.RSA2048}, {"ES256", testkeys.P256}} {
		for _, mode := range []string{"none", "metrics", "metrics-traces"} {
			b.Run(alg.alg+"/"+mode, func(b *testing.B) {
				var hooks *verify.Hooks
				if mode != "none" {
					cfg := pkjwtotel.Config{
						MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader())),
						TracerProvider: noop.NewTracerProvider(),
					}
					if mode == "metrics-traces" {
						cfg.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
					}
					in, err := pkjwtotel.New(cfg)
					if err != nil {
						b.Fatal(err)
					}
					defer in.Close()
					hooks = in.VerifyHooks()
				}
				keys, _ := verify.NewKeySet(verify.Key{ID: "k1", Public: testkeys.Public(alg.key)})
				now := time.Now()
				const pool = 256
				reqs := make([]verify.Request, pool)
				for i := range reqs {
					reqs[i] = verify.Request{AssertionType: verify.AssertionType,
						Assertion: testkeys.Sign(alg.alg, testkeys.Signer(alg.key), map[string]any{"kid": "k1"}, testkeys.Claims("c1", issuer, now))}
				}
				newV := func() (*verify.Verifier, *replay.Memory) {
					store, err := replay.NewMemory(replay.MemoryConfig{CleanupInterval: -1})
					if err != nil {
						b.Fatal(err)
					}
					v, err := verify.New(issuer, verify.ClientMap{"c1": {ID: "c1", Keys: keys}}, store,
						verify.Config{Hooks: hooks, Now: func() time.Time { return now }})
					if err != nil {
						b.Fatal(err)
					}
					return v, store
				}
				v, store := newV()
				ctx := context.Background()
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if i%pool == 0 && i > 0 {
						b.StopTimer()
						store.Close()
						v, store = newV()
						b.StartTimer()
					}
					if _, err := v.Verify(ctx, reqs[i%pool]); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				store.Close()
			})
		}
	}
}
