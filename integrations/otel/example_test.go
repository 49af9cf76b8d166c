package pkjwtotel_test

import (
	"context"
	"fmt"
	"log"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	pkjwtotel "github.com/pkjwt/pkjwt/integrations/otel"
	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

func nowish() time.Time { return time.Now() }

// Example wires the hooks into a Verifier and reads the metrics and spans
// of one accepted and one replayed assertion.
func Example() {
	reader := sdkmetric.NewManualReader()
	spans := tracetest.NewSpanRecorder()
	meterProvider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tracerProvider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	keys, _ := verify.NewKeySet(verify.Key{ID: "k1", Public: testkeys.Public(testkeys.P256)})
	clients := verify.ClientMap{"c1": {ID: "c1", Keys: keys}}
	store, _ := replay.NewMemory(replay.MemoryConfig{})
	defer store.Close()

	in, err := pkjwtotel.New(pkjwtotel.Config{MeterProvider: meterProvider, TracerProvider: tracerProvider})
	if err != nil {
		log.Fatal(err)
	}
	defer in.Close()
	verifier, err := verify.New(issuer, clients, store, verify.Config{Hooks: in.VerifyHooks()})
	if err != nil {
		log.Fatal(err)
	}

	assertion := testkeys.Sign("ES256", testkeys.Signer(testkeys.P256), map[string]any{"kid": "k1"},
		testkeys.Claims("c1", issuer, time.Now()))
	req := verify.Request{AssertionType: verify.AssertionType, Assertion: assertion}
	for range 2 {
		_, err := verifier.Verify(context.Background(), req)
		fmt.Println("error:", err)
	}

	var rm metricdata.ResourceMetrics
	reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if m.Name != "pkjwt.client_auth.attempts" {
			continue
		}
		for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
			if dp.Value > 0 {
				reason, _ := dp.Attributes.Value("error.type")
				result, _ := dp.Attributes.Value("pkjwt.result")
				fmt.Printf("%s %q: %d\n", result.AsString(), reason.AsString(), dp.Value)
			}
		}
	}
	for _, s := range spans.Ended() {
		fmt.Println("span", s.Name(), s.Status().Code)
	}
	// Unordered output:
	// error: <nil>
	// error: verify: client assertion was already used: replay: key already claimed
	// success "": 1
	// failure "replayed": 1
	// span pkjwt.key_lookup Unset
	// span pkjwt.replay.claim Unset
	// span pkjwt.verify Unset
	// span pkjwt.key_lookup Unset
	// span pkjwt.replay.claim Error
	// span pkjwt.verify Error
}
