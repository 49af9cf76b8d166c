package pkjwtotel

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/pkjwt/pkjwt/internal/telemetry"
	"github.com/pkjwt/pkjwt/jwksfetch"
	"github.com/pkjwt/pkjwt/verify"
)

// ScopeName is the instrumentation scope of the meter and tracer: this
// package's import path.
const ScopeName = "github.com/pkjwt/pkjwt/integrations/otel"

// Span names.
const (
	SpanVerify      = "pkjwt.verify"
	SpanKeyLookup   = "pkjwt.key_lookup"
	SpanReplayClaim = "pkjwt.replay.claim"
)

// Config configures [New]. The zero value records every metric and span
// with the global providers and no client ids.
type Config struct {
	// MeterProvider creates the meter. Nil: otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// TracerProvider creates the tracer. Nil: otel.GetTracerProvider(). A
	// noop.TracerProvider turns the spans off (no context per step).
	TracerProvider trace.TracerProvider
	// RecordClientID adds the pkjwt.client_id attribute to the client
	// authentication metrics and to the verification span: the
	// authenticated client on success, the registered client the assertion
	// claimed on failure. A client id is unbounded (and, on failure, chosen
	// by the caller); set it only when the number of registered clients is
	// small. The attempts series then carry the client id and start on
	// first use instead of at zero. False: no client id anywhere.
	RecordClientID bool
	// Now returns the current time, for the jwks_uri gauges; it should be
	// the clock of the key sources. Nil: time.Now.
	Now func() time.Time
}

// Instrumentation turns the hooks of package verify and jwksfetch into
// OpenTelemetry metrics and spans. It is safe for concurrent use. Close
// it to unregister its gauges.
type Instrumentation struct {
	cfg    Config
	tracer trace.Tracer

	authDuration, keyLookupDuration, claimDuration, fetchDuration metric.Float64Histogram
	authAttempts, lookups, suppressed, fetchErrors                metric.Int64Counter
	registration                                                  metric.Registration

	// Options built once: passing a stored slice as opts... costs no
	// allocation per measurement.
	attempts  map[string][]metric.AddOption // reason ("" for success) -> attribute set
	durations sync.Map                      // durationKey -> []metric.RecordOption
	sources   telemetry.Sources
}

type durationKey struct{ reason, alg, method string }

// New creates the instruments from cfg's providers and, unless
// cfg.RecordClientID, each series of pkjwt.client_auth.attempts (success,
// and every reason of verify.Refusals) at zero. It returns an error if an
// instrument cannot be created.
func New(cfg Config) (*Instrumentation, error) {
	if cfg.MeterProvider == nil {
		cfg.MeterProvider = otel.GetMeterProvider()
	}
	if cfg.TracerProvider == nil {
		cfg.TracerProvider = otel.GetTracerProvider()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := cfg.MeterProvider.Meter(ScopeName)
	in := &Instrumentation{cfg: cfg, tracer: cfg.TracerProvider.Tracer(ScopeName), attempts: map[string][]metric.AddOption{}}

	var errs []error
	histogram := func(d telemetry.Metric) metric.Float64Histogram {
		h, err := m.Float64Histogram(d.Name, metric.WithUnit(d.Unit), metric.WithDescription(d.Description),
			metric.WithExplicitBucketBoundaries(d.Buckets...))
		errs = append(errs, err)
		return h
	}
	counter := func(d telemetry.Metric) metric.Int64Counter {
		c, err := m.Int64Counter(d.Name, metric.WithUnit(d.Unit), metric.WithDescription(d.Description))
		errs = append(errs, err)
		return c
	}
	in.authDuration = histogram(telemetry.ClientAuthDuration)
	in.keyLookupDuration = histogram(telemetry.KeyLookupDuration)
	in.claimDuration = histogram(telemetry.ReplayClaimDuration)
	in.fetchDuration = histogram(telemetry.JWKSFetchDuration)
	in.authAttempts = counter(telemetry.ClientAuthAttempts)
	in.lookups = counter(telemetry.JWKSLookups)
	in.suppressed = counter(telemetry.JWKSRefreshSuppressed)
	in.fetchErrors = counter(telemetry.JWKSFetchErrors)
	keys, err := m.Int64ObservableGauge(telemetry.JWKSKeys.Name, metric.WithUnit(telemetry.JWKSKeys.Unit), metric.WithDescription(telemetry.JWKSKeys.Description))
	errs = append(errs, err)
	last, err := m.Float64ObservableGauge(telemetry.JWKSLastSuccess.Name, metric.WithUnit(telemetry.JWKSLastSuccess.Unit), metric.WithDescription(telemetry.JWKSLastSuccess.Description))
	errs = append(errs, err)
	age, err := m.Float64ObservableGauge(telemetry.JWKSKeyAge.Name, metric.WithUnit(telemetry.JWKSKeyAge.Unit), metric.WithDescription(telemetry.JWKSKeyAge.Description))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	in.registration, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		now := in.cfg.Now()
		in.sources.Each(func(uri string, s telemetry.Source) {
			u := attribute.String(telemetry.AttrJWKSURI, uri)
			o.ObserveInt64(keys, int64(s.Usable), metric.WithAttributes(u, attribute.String(telemetry.AttrKeyState, telemetry.KeyUsable)))
			o.ObserveInt64(keys, int64(s.Skipped), metric.WithAttributes(u, attribute.String(telemetry.AttrKeyState, telemetry.KeySkipped)))
			o.ObserveFloat64(last, float64(s.LastSuccess.UnixNano())/1e9, metric.WithAttributes(u))
			o.ObserveFloat64(age, now.Sub(s.LastSuccess).Seconds(), metric.WithAttributes(u))
		})
		return nil
	}, keys, last, age)
	if err != nil {
		return nil, err
	}

	// Every series of the attempts counter exists from the start.
	ctx := context.Background()
	in.attempts[""] = addAttrs(attribute.String(telemetry.AttrResult, verify.OutcomeSuccess))
	for _, e := range verify.Refusals() {
		in.attempts[e.Reason] = addAttrs(attribute.String(telemetry.AttrResult, outcome(e)), attribute.String(telemetry.AttrErrorType, e.Reason))
	}
	if !cfg.RecordClientID {
		for _, opts := range in.attempts {
			in.authAttempts.Add(ctx, 0, opts...)
		}
	}
	return in, nil
}

// outcome returns the verify outcome of a failure e.
func outcome(e *verify.Error) string {
	if e.Infrastructure() {
		return verify.OutcomeError
	}
	return verify.OutcomeFailure
}

// Close unregisters the gauges' callback. The hooks keep recording. It is
// safe to call more than once.
func (in *Instrumentation) Close() error {
	return in.registration.Unregister()
}

// VerifyHooks returns the hooks to set in verify.Config.Hooks: a
// pkjwt.verify span per verification (a child of the span in the context
// of Verify) with child spans pkjwt.key_lookup and pkjwt.replay.claim, and
// the client authentication, key lookup and replay claim metrics.
func (in *Instrumentation) VerifyHooks() *verify.Hooks {
	if _, off := in.cfg.TracerProvider.(noop.TracerProvider); off {
		return &verify.Hooks{VerifyDone: in.verifyDone, KeyLookupDone: in.keyLookupDone, ReplayClaimDone: in.replayClaimDone}
	}
	return &verify.Hooks{
		VerifyStart: func(ctx context.Context) context.Context {
			ctx, _ = in.tracer.Start(ctx, SpanVerify)
			return ctx
		},
		VerifyDone:       in.verifyDone,
		KeyLookupStart:   func(ctx context.Context) context.Context { ctx, _ = in.tracer.Start(ctx, SpanKeyLookup); return ctx },
		KeyLookupDone:    in.keyLookupDone,
		ReplayClaimStart: func(ctx context.Context) context.Context { ctx, _ = in.tracer.Start(ctx, SpanReplayClaim); return ctx },
		ReplayClaimDone:  in.replayClaimDone,
	}
}

func (in *Instrumentation) verifyDone(ctx context.Context, info verify.VerifyInfo) {
	span := trace.SpanFromContext(ctx)
	if span.IsRecording() {
		attrs := []attribute.KeyValue{attribute.String(telemetry.AttrResult, info.Outcome)}
		if info.Algorithm != "" {
			attrs = append(attrs, attribute.String(telemetry.AttrAlg, info.Algorithm), attribute.String(telemetry.AttrMethod, info.Method))
		}
		if in.cfg.RecordClientID && info.ClientID != "" {
			attrs = append(attrs, attribute.String(telemetry.AttrClientID, info.ClientID))
		}
		if info.Err != nil {
			attrs = append(attrs, attribute.String(telemetry.AttrErrorType, info.Reason))
			span.SetStatus(codes.Error, info.Reason)
		}
		span.SetAttributes(attrs...)
	}
	span.End()

	if in.cfg.RecordClientID {
		attrs := []attribute.KeyValue{attribute.String(telemetry.AttrResult, info.Outcome)}
		if info.ClientID != "" {
			attrs = append(attrs, attribute.String(telemetry.AttrClientID, info.ClientID))
		}
		if info.Reason != "" {
			attrs = append(attrs, attribute.String(telemetry.AttrErrorType, info.Reason))
		}
		in.authAttempts.Add(ctx, 1, metric.WithAttributes(attrs...))
		if info.Algorithm != "" {
			attrs = append(attrs, attribute.String(telemetry.AttrAlg, info.Algorithm), attribute.String(telemetry.AttrMethod, info.Method))
		}
		in.authDuration.Record(ctx, info.Duration.Seconds(), metric.WithAttributes(attrs...))
		return
	}
	opts, ok := in.attempts[info.Reason]
	if !ok { // a reason this version of verify did not list
		opts = addAttrs(attribute.String(telemetry.AttrResult, info.Outcome), attribute.String(telemetry.AttrErrorType, info.Reason))
	}
	in.authAttempts.Add(ctx, 1, opts...)
	in.authDuration.Record(ctx, info.Duration.Seconds(), in.durationAttrs(info)...)
}

// addAttrs and recordAttrs return the options of one attribute set.
func addAttrs(kv ...attribute.KeyValue) []metric.AddOption {
	return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
}

func recordAttrs(kv ...attribute.KeyValue) []metric.RecordOption {
	return []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
}

// durationAttrs returns the attributes of the duration histogram for info,
// built once per combination (they are bounded: reason, a known alg, a
// method).
func (in *Instrumentation) durationAttrs(info verify.VerifyInfo) []metric.RecordOption {
	k := durationKey{info.Reason, info.Algorithm, info.Method}
	if opts, ok := in.durations.Load(k); ok {
		return opts.([]metric.RecordOption)
	}
	kv := []attribute.KeyValue{attribute.String(telemetry.AttrResult, info.Outcome)}
	if info.Reason != "" {
		kv = append(kv, attribute.String(telemetry.AttrErrorType, info.Reason))
	}
	if info.Algorithm != "" {
		kv = append(kv, attribute.String(telemetry.AttrAlg, info.Algorithm), attribute.String(telemetry.AttrMethod, info.Method))
	}
	opts, _ := in.durations.LoadOrStore(k, recordAttrs(kv...))
	return opts.([]metric.RecordOption)
}

var (
	noAttrs        = recordAttrs()
	claimedAttrs   = recordAttrs(attribute.String(telemetry.AttrResult, verify.ClaimClaimed))
	replayedAttrs  = recordAttrs(attribute.String(telemetry.AttrResult, verify.ClaimReplayed))
	claimErrAttrs  = recordAttrs(attribute.String(telemetry.AttrResult, verify.ClaimError))
	claimOldAttrs  = recordAttrs(attribute.String(telemetry.AttrResult, verify.ClaimBeforeEpoch))
	lookupAttrSets = map[string][]metric.AddOption{}
)

func init() {
	for _, v := range []string{telemetry.LookupHit, telemetry.LookupRefresh, telemetry.LookupJoined, telemetry.LookupSuppressed} {
		lookupAttrSets[v] = addAttrs(attribute.String(telemetry.AttrLookup, v))
	}
}

func (in *Instrumentation) keyLookupDone(ctx context.Context, info verify.KeyLookupInfo) {
	span := trace.SpanFromContext(ctx)
	opts := noAttrs
	if info.Err != nil {
		opts = recordAttrs(attribute.String(telemetry.AttrErrorType, info.Err.Reason))
		span.SetAttributes(attribute.String(telemetry.AttrErrorType, info.Err.Reason))
		span.SetStatus(codes.Error, info.Err.Reason)
	}
	span.End()
	in.keyLookupDuration.Record(ctx, info.Duration.Seconds(), opts...)
}

func (in *Instrumentation) replayClaimDone(ctx context.Context, info verify.ReplayClaimInfo) {
	span := trace.SpanFromContext(ctx)
	opts := claimedAttrs
	switch info.Outcome {
	case verify.ClaimReplayed:
		opts = replayedAttrs
	case verify.ClaimError:
		opts = claimErrAttrs
	case verify.ClaimBeforeEpoch:
		opts = claimOldAttrs
	}
	if span.IsRecording() {
		span.SetAttributes(attribute.String(telemetry.AttrResult, info.Outcome))
		if info.Err != nil {
			span.SetAttributes(attribute.String(telemetry.AttrErrorType, info.Err.Reason))
			span.SetStatus(codes.Error, info.Err.Reason)
		}
	}
	span.End()
	in.claimDuration.Record(ctx, info.Duration.Seconds(), opts...)
}

// JWKSHooks returns the hooks to set in jwksfetch.RemoteConfig.Hooks (or
// RegistryConfig.Remote.Hooks): the jwks_uri metrics and gauges, and the
// attributes of each lookup on the pkjwt.key_lookup span.
func (in *Instrumentation) JWKSHooks() *jwksfetch.Hooks {
	return &jwksfetch.Hooks{
		KeyLookup: in.jwksLookup,
		Fetch:     in.jwksFetch,
		Closed:    in.sources.Closed,
	}
}

func (in *Instrumentation) jwksLookup(ctx context.Context, info jwksfetch.LookupInfo) {
	result := telemetry.Lookup(info)
	in.lookups.Add(ctx, 1, lookupAttrSets[result]...)
	if info.RefreshSuppressed {
		in.suppressed.Add(ctx, 1, metric.WithAttributes(attribute.String(telemetry.AttrJWKSURI, info.URI)))
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(
			attribute.String(telemetry.AttrJWKSURI, info.URI),
			attribute.String(telemetry.AttrLookup, result),
			attribute.Float64("pkjwt.jwks.key.age", info.KeyAge.Seconds()),
			attribute.Float64("pkjwt.jwks.waited", info.Waited.Seconds()),
		)
	}
}

func (in *Instrumentation) jwksFetch(info jwksfetch.FetchInfo) {
	in.sources.Fetched(info, in.cfg.Now())
	ctx := context.Background()
	u := attribute.String(telemetry.AttrJWKSURI, info.URI)
	trigger := attribute.String(telemetry.AttrTrigger, telemetry.Trigger(info))
	if et := info.ErrorType(); et != "" {
		e := attribute.String(telemetry.AttrErrorType, et)
		in.fetchErrors.Add(ctx, 1, metric.WithAttributes(u, e))
		in.fetchDuration.Record(ctx, info.Duration.Seconds(), metric.WithAttributes(u, trigger, e))
		return
	}
	in.fetchDuration.Record(ctx, info.Duration.Seconds(), metric.WithAttributes(u, trigger))
}
