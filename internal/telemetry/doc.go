// Package telemetry names the metrics pkjwt exports, with their units,
// attributes and histogram buckets, so that the OpenTelemetry module
// (integrations/otel) and the Prometheus endpoint of pkjwt serve, which
// share no metrics library (the main module never imports OpenTelemetry),
// export the same series under the same names. It also holds the little
// state both keep per jwks_uri for their gauges ([Sources]).
//
// Names follow the OpenTelemetry semantic-convention style: dot-separated,
// durations as {operation}.duration histograms in seconds, counters without
// a _total suffix, bounded attribute values. [Metric.PrometheusName] gives
// the name an OpenTelemetry Prometheus exporter derives:
//
//	telemetry.ClientAuthDuration.Name             // pkjwt.client_auth.duration
//	telemetry.ClientAuthDuration.PrometheusName() // pkjwt_client_auth_duration_seconds
package telemetry
