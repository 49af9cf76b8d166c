// Package pkjwtotel turns the hooks of pkjwt's verify and jwksfetch
// packages into OpenTelemetry metrics and spans. Import it as
//
//	import pkjwtotel "github.com/pkjwt/pkjwt/integrations/otel"
//
// It is a module of its own, so that pkjwt itself never depends on
// OpenTelemetry; without it (nil hooks) pkjwt records nothing and pays
// nothing.
//
// # Metrics
//
// Names follow the OpenTelemetry semantic-convention style (dot-separated,
// durations in seconds as {operation}.duration histograms, bounded
// attribute values, error.type only on failures). In Prometheus (through
// the OpenTelemetry Prometheus exporter) they become the names in brackets,
// the names pkjwt serve exports too:
//
//   - pkjwt.client_auth.duration (s), histogram of verifications by
//     pkjwt.result (success, failure, error), error.type (the verify
//     reason, such as "expired" or "replayed"), pkjwt.alg and pkjwt.method
//     [pkjwt_client_auth_duration_seconds]; buckets from 10 µs to 2.5 s;
//   - pkjwt.client_auth.attempts ({attempt}), counter by pkjwt.result and
//     error.type, every series created at zero
//     [pkjwt_client_auth_attempts_total];
//   - pkjwt.key_lookup.duration (s), by error.type
//     [pkjwt_key_lookup_duration_seconds];
//   - pkjwt.replay.claim.duration (s), by pkjwt.result (claimed, replayed,
//     error) [pkjwt_replay_claim_duration_seconds]; buckets from 1 µs to 1 s;
//   - pkjwt.jwks.lookups ({lookup}), by pkjwt.jwks.lookup (hit, refresh,
//     joined, suppressed) [pkjwt_jwks_lookups_total];
//   - pkjwt.jwks.refresh.suppressed ({refresh}), fetches an unknown kid
//     needed that the rate limit refused, by pkjwt.jwks.uri
//     [pkjwt_jwks_refresh_suppressed_total];
//   - pkjwt.jwks.fetch.duration (s), by pkjwt.jwks.uri, pkjwt.jwks.trigger
//     (scheduled, demand) and error.type [pkjwt_jwks_fetch_duration_seconds];
//     buckets from 1 ms to 10 s;
//   - pkjwt.jwks.fetch.errors ({error}), by pkjwt.jwks.uri and error.type
//     (see jwksfetch.FetchInfo.ErrorType) [pkjwt_jwks_fetch_errors_total];
//   - gauges per pkjwt.jwks.uri: pkjwt.jwks.keys ({key}, by
//     pkjwt.jwks.key_state usable or skipped) [pkjwt_jwks_keys],
//     pkjwt.jwks.last_success_time (s since the epoch)
//     [pkjwt_jwks_last_success_time_seconds] and pkjwt.jwks.key.age (s)
//     [pkjwt_jwks_key_age_seconds].
//
// A client id is unbounded, and on a failure chosen by the caller: it is
// recorded (pkjwt.client_id) only with [Config.RecordClientID].
//
// # Spans
//
// Each verification is a span pkjwt.verify, a child of the span in the
// context given to Verify (the request's, under otelhttp), with children
// pkjwt.key_lookup (with the jwks_uri, how the lookup was answered, the
// key age and the wait) and pkjwt.replay.claim. A refusal sets the span
// status to Error with error.type. No assertion, jti or key material is
// recorded.
//
// The happy path:
//
//	in, err := pkjwtotel.New(pkjwtotel.Config{MeterProvider: mp, TracerProvider: tp})
//	if err != nil { ... }
//	defer in.Close()
//	reg, err := jwksfetch.NewRegistry(jwksfetch.RegistryConfig{
//		Remote: jwksfetch.RemoteConfig{Hooks: in.JWKSHooks()},
//	})
//	v, err := verify.New(issuer, clients, store, verify.Config{Hooks: in.VerifyHooks()})
package pkjwtotel
