package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pkjwt/pkjwt/internal/telemetry"
	"github.com/pkjwt/pkjwt/jwksfetch"
	"github.com/pkjwt/pkjwt/middleware"
	"github.com/pkjwt/pkjwt/verify"
)

// This file holds what serve offers operators: Prometheus metrics on a
// listener of their own (metrics_listen), access logs (access_log), and
// /healthz and /readyz.
//
// The metrics come from the hooks of verify and jwksfetch, through
// github.com/prometheus/client_golang rather than OpenTelemetry's
// Prometheus exporter, because the main module must not depend on
// OpenTelemetry (integrations/otel is the module that does). Names,
// units, labels and buckets come from internal/telemetry, which the
// OpenTelemetry module uses too, so a dashboard works with either.

// readyTimeout bounds each readiness check.
const readyTimeout = 2 * time.Second

// validateObservability checks metrics_listen.
func (c *serverConfig) validateObservability() error {
	if c.MetricsListen == "" {
		return nil
	}
	if _, port, err := net.SplitHostPort(c.MetricsListen); err != nil {
		return configErrorf("metrics_listen", "want host:port: %v", err)
	} else if port == "" {
		return configErrorf("metrics_listen", "port missing")
	}
	return nil
}

// observer turns the hooks into Prometheus metrics (when metrics_listen is
// set) and access log records (when access_log is). Its methods are safe
// on a nil *observer, which does nothing.
type observer struct {
	reg       *prometheus.Registry // nil: no metrics
	accessLog *slog.Logger         // nil: no access log

	attempts      map[string]prometheus.Counter // reason ("" for success)
	attemptsVec   *prometheus.CounterVec
	authDuration  *prometheus.HistogramVec
	durations     sync.Map // durationKey -> prometheus.Observer
	keyLookup     *prometheus.HistogramVec
	keyFound      prometheus.Observer // keyLookup without error
	claim         *prometheus.HistogramVec
	claims        map[string]prometheus.Observer // outcome -> claim's series
	lookups       *prometheus.CounterVec
	suppressed    *prometheus.CounterVec
	fetchDuration *prometheus.HistogramVec
	fetchErrors   *prometheus.CounterVec
	sources       telemetry.Sources
}

type durationKey struct{ reason, alg, method string }

// newObserver returns the observer cfg asks for, or nil.
func newObserver(cfg *serverConfig, logger *slog.Logger) *observer {
	if cfg.MetricsListen == "" && !cfg.AccessLog {
		return nil
	}
	o := &observer{}
	if cfg.AccessLog {
		o.accessLog = logger
	}
	if cfg.MetricsListen != "" {
		o.registerMetrics(cfg)
	}
	return o
}

// labels returns the Prometheus label names of m's attributes (without the
// client id, which serve never records).
func labels(m telemetry.Metric) []string {
	var ls []string
	for _, a := range m.Attributes {
		if a != telemetry.AttrClientID {
			ls = append(ls, strings.ReplaceAll(a, ".", "_"))
		}
	}
	return ls
}

func (o *observer) registerMetrics(cfg *serverConfig) {
	o.reg = prometheus.NewRegistry()
	o.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	histogram := func(m telemetry.Metric) *prometheus.HistogramVec {
		h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: m.PrometheusName(), Help: m.Description, Buckets: m.Buckets}, labels(m))
		o.reg.MustRegister(h)
		return h
	}
	counter := func(m telemetry.Metric) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: m.PrometheusName(), Help: m.Description}, labels(m))
		o.reg.MustRegister(c)
		return c
	}
	o.authDuration = histogram(telemetry.ClientAuthDuration)
	o.keyLookup = histogram(telemetry.KeyLookupDuration)
	o.claim = histogram(telemetry.ReplayClaimDuration)
	o.fetchDuration = histogram(telemetry.JWKSFetchDuration)
	attempts := counter(telemetry.ClientAuthAttempts)
	o.attemptsVec = attempts
	o.lookups = counter(telemetry.JWKSLookups)
	o.suppressed = counter(telemetry.JWKSRefreshSuppressed)
	o.fetchErrors = counter(telemetry.JWKSFetchErrors)
	o.reg.MustRegister(&sourceCollector{o: o, clients: clientSources(cfg)})

	// Every series of the attempts counter exists from the start.
	o.attempts = map[string]prometheus.Counter{"": attempts.WithLabelValues(verify.OutcomeSuccess, "")}
	for _, e := range verify.Refusals() {
		result := verify.OutcomeFailure
		if e.Infrastructure() {
			result = verify.OutcomeError
		}
		o.attempts[e.Reason] = attempts.WithLabelValues(result, e.Reason)
	}
	for _, v := range []string{telemetry.LookupHit, telemetry.LookupRefresh, telemetry.LookupJoined, telemetry.LookupSuppressed} {
		o.lookups.WithLabelValues(v)
	}
	o.claims = map[string]prometheus.Observer{}
	for _, r := range []string{verify.ClaimClaimed, verify.ClaimReplayed, verify.ClaimError, verify.ClaimBeforeEpoch} {
		o.claims[r] = o.claim.WithLabelValues(r)
	}
	o.keyFound = o.keyLookup.WithLabelValues("")
}

// clientSources maps each jwks_uri of cfg to its clients.
func clientSources(cfg *serverConfig) map[string][]string {
	m := map[string][]string{}
	for _, c := range cfg.Clients {
		if c.JWKSURI != "" {
			m[c.JWKSURI] = append(m[c.JWKSURI], c.ClientID)
		}
	}
	return m
}

// clientJWKSInfo is serve's own metric: which client uses which jwks_uri,
// to join with the per-jwks_uri gauges (see the README).
var clientJWKSInfo = prometheus.NewDesc("pkjwt_client_jwks_info",
	"Configured clients and their jwks_uri (always 1), to join with the jwks_uri gauges.",
	[]string{"client_id", labels(telemetry.JWKSKeyAge)[0]}, nil)

// sourceCollector exports the jwks_uri gauges at scrape time.
type sourceCollector struct {
	o       *observer
	clients map[string][]string // jwks_uri -> client ids
}

var (
	keysDesc        = gaugeDesc(telemetry.JWKSKeys)
	lastSuccessDesc = gaugeDesc(telemetry.JWKSLastSuccess)
	keyAgeDesc      = gaugeDesc(telemetry.JWKSKeyAge)
)

func gaugeDesc(m telemetry.Metric) *prometheus.Desc {
	return prometheus.NewDesc(m.PrometheusName(), m.Description, labels(m), nil)
}

// Describe implements prometheus.Collector.
func (c *sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- keysDesc
	ch <- lastSuccessDesc
	ch <- keyAgeDesc
	ch <- clientJWKSInfo
}

// Collect implements prometheus.Collector.
func (c *sourceCollector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	c.o.sources.Each(func(uri string, s telemetry.Source) {
		ch <- prometheus.MustNewConstMetric(keysDesc, prometheus.GaugeValue, float64(s.Usable), uri, telemetry.KeyUsable)
		ch <- prometheus.MustNewConstMetric(keysDesc, prometheus.GaugeValue, float64(s.Skipped), uri, telemetry.KeySkipped)
		ch <- prometheus.MustNewConstMetric(lastSuccessDesc, prometheus.GaugeValue, float64(s.LastSuccess.UnixNano())/1e9, uri)
		ch <- prometheus.MustNewConstMetric(keyAgeDesc, prometheus.GaugeValue, now.Sub(s.LastSuccess).Seconds(), uri)
	})
	for uri, ids := range c.clients {
		for _, id := range ids {
			ch <- prometheus.MustNewConstMetric(clientJWKSInfo, prometheus.GaugeValue, 1, id, uri)
		}
	}
}

// verifyHooks returns the hooks of the verifier, or nil.
func (o *observer) verifyHooks() *verify.Hooks {
	if o == nil {
		return nil
	}
	h := &verify.Hooks{VerifyDone: o.verifyDone}
	if o.reg != nil {
		h.KeyLookupDone = func(_ context.Context, info verify.KeyLookupInfo) {
			if info.Err == nil {
				o.keyFound.Observe(info.Duration.Seconds())
			} else {
				o.keyLookup.WithLabelValues(info.Err.Reason).Observe(info.Duration.Seconds())
			}
		}
		h.ReplayClaimDone = func(_ context.Context, info verify.ReplayClaimInfo) {
			o.claims[info.Outcome].Observe(info.Duration.Seconds())
		}
	}
	return h
}

func (o *observer) verifyDone(ctx context.Context, info verify.VerifyInfo) {
	if rec, ok := ctx.Value(accessKey{}).(*accessRecord); ok && info.ClientID != "" {
		rec.clientID = info.ClientID
	}
	if o.reg == nil {
		return
	}
	c, ok := o.attempts[info.Reason]
	if !ok { // not reached: Refusals lists every reason
		c = o.attemptsVec.WithLabelValues(info.Outcome, info.Reason)
	}
	c.Inc()
	k := durationKey{info.Reason, info.Algorithm, info.Method}
	h, ok := o.durations.Load(k)
	if !ok {
		h, _ = o.durations.LoadOrStore(k, o.authDuration.WithLabelValues(info.Outcome, info.Reason, info.Algorithm, info.Method))
	}
	h.(prometheus.Observer).Observe(info.Duration.Seconds())
}

// jwksHooks returns the hooks of the key sources, or nil.
func (o *observer) jwksHooks() *jwksfetch.Hooks {
	if o == nil || o.reg == nil {
		return nil
	}
	return &jwksfetch.Hooks{
		KeyLookup: func(_ context.Context, info jwksfetch.LookupInfo) {
			o.lookups.WithLabelValues(telemetry.Lookup(info)).Inc()
			if info.RefreshSuppressed {
				o.suppressed.WithLabelValues(info.URI).Inc()
			}
		},
		Fetch: func(info jwksfetch.FetchInfo) {
			o.sources.Fetched(info, time.Now())
			et := info.ErrorType()
			o.fetchDuration.WithLabelValues(info.URI, telemetry.Trigger(info), et).Observe(info.Duration.Seconds())
			if et != "" {
				o.fetchErrors.WithLabelValues(info.URI, et).Inc()
			}
		},
		Closed: o.sources.Closed,
	}
}

// accessKey is the context key of the *accessRecord of a request.
type accessKey struct{}

// accessRecord collects, while a request is served, what its access log
// line reports beyond the HTTP exchange.
type accessRecord struct {
	status       int
	reason, code string
	clientID     string
}

// statusWriter notes the status a handler writes.
type statusWriter struct {
	http.ResponseWriter
	rec *accessRecord
}

func (w *statusWriter) WriteHeader(status int) {
	if w.rec.status == 0 {
		w.rec.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.rec.status == 0 {
		w.rec.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// middlewareConfig returns the configuration of the authentication
// middleware: logger, and an error writer that notes the refusal for the
// access log.
func (o *observer) middlewareConfig(logger *slog.Logger) middleware.Config {
	cfg := middleware.Config{Logger: logger}
	if o != nil && o.accessLog != nil {
		cfg.ErrorWriter = func(w http.ResponseWriter, r *http.Request, err *verify.Error) {
			if rec, ok := r.Context().Value(accessKey{}).(*accessRecord); ok {
				rec.reason, rec.code = err.Reason, err.Code
			}
			middleware.WriteError(w, r, err)
		}
	}
	return cfg
}

// wrap returns h with access logging, if configured: one record per
// request (but passing health probes) with method, path, status, duration,
// the authenticated (or, on a refusal, claimed and registered) client and
// the refusal's reason and code. Never the body, the assertion or a token.
func (o *observer) wrap(h http.Handler) http.Handler {
	if o == nil || o.accessLog == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &accessRecord{}
		h.ServeHTTP(&statusWriter{ResponseWriter: w, rec: rec}, r.WithContext(context.WithValue(r.Context(), accessKey{}, rec)))
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		if rec.status == http.StatusOK && (r.URL.Path == "/healthz" || r.URL.Path == "/readyz") {
			return // probes that pass, every few seconds: not worth a record
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Duration("duration", time.Since(start)),
			slog.String("remote", r.RemoteAddr),
		}
		if rec.clientID != "" {
			attrs = append(attrs, slog.String("client_id", rec.clientID))
		}
		if rec.reason != "" {
			attrs = append(attrs, slog.String("reason", rec.reason), slog.String("code", rec.code))
		}
		o.accessLog.LogAttrs(r.Context(), slog.LevelInfo, "pkjwt serve: access", attrs...)
	})
}

// healthz answers 200 while the process serves HTTP.
func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintln(w, "ok")
}

// readyz answers 200 when the configuration is loaded (it is, once the
// server runs) and every readiness check (the replay store answers)
// passes, 503 otherwise, naming the failed checks.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	var failed []string
	for _, c := range s.readyChecks {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		err := c.check(ctx)
		cancel()
		if err != nil {
			failed = append(failed, c.name+": "+errorClass(err))
		}
	}
	if len(failed) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "not ready")
		for _, f := range failed {
			fmt.Fprintln(w, f)
		}
		return
	}
	fmt.Fprintln(w, "ready")
}

// readyCheck is one readiness check.
type readyCheck struct {
	name  string
	check func(context.Context) error
}

// errorClass describes err without addresses or credentials.
func errorClass(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case ne != nil:
		return "unreachable"
	}
	return "error"
}

// operatorMux returns the handler of the metrics listener: /metrics,
// /healthz and /readyz.
func (s *server) operatorMux() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.obs.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	return mux
}

// startMetrics listens on metrics_listen, if set, and serves operatorMux
// there until ctx is done or stop is called; stop waits for that server
// to shut down.
func (s *server) startMetrics(ctx context.Context, std stdio, logger *slog.Logger) (stop func(), err error) {
	if s.cfg.MetricsListen == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", s.cfg.MetricsListen)
	if err != nil {
		return nil, fmt.Errorf("metrics_listen: %w", err)
	}
	fmt.Fprintf(std.err, "pkjwt serve: metrics on http://%s/metrics (and /healthz, /readyz)\n", ln.Addr())
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ms := &server{handler: s.operatorMux()}
		if err := ms.serve(ctx, ln, logger); err != nil {
			logger.Error("pkjwt serve: metrics listener failed", "err", err)
		}
	}()
	return func() { cancel(); <-done }, nil
}
