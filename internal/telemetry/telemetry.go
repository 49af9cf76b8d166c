package telemetry

import (
	"strings"
	"sync"
	"time"

	"github.com/pkjwt/pkjwt/jwksfetch"
)

// Attribute keys. Values are bounded: results and error types are fixed
// enums; alg is one of the algs a Verifier knows; jwks_uri values are
// bounded by the key sources configured (jwksfetch.RegistryConfig.MaxSources).
// Client ids are unbounded and recorded only on the operator's request.
const (
	AttrResult    = "pkjwt.result"         // success|failure|error; claimed|replayed|error
	AttrErrorType = "error.type"           // the verify reason, or the fetch error type; absent on success
	AttrAlg       = "pkjwt.alg"            // the assertion's alg, when known
	AttrMethod    = "pkjwt.method"         // private_key_jwt|client_secret_jwt, when known
	AttrClientID  = "pkjwt.client_id"      // opt-in only
	AttrJWKSURI   = "pkjwt.jwks.uri"       // the jwks_uri of a key source
	AttrTrigger   = "pkjwt.jwks.trigger"   // scheduled|demand
	AttrLookup    = "pkjwt.jwks.lookup"    // hit|refresh|joined|suppressed
	AttrKeyState  = "pkjwt.jwks.key_state" // usable|skipped
)

// Values of AttrTrigger, AttrLookup and AttrKeyState.
const (
	TriggerScheduled = "scheduled" // the first fetch or a background refresh
	TriggerDemand    = "demand"    // a key lookup needed it (unknown kid, no usable keys)

	LookupHit        = "hit"        // answered from the cached keys
	LookupRefresh    = "refresh"    // started a fetch
	LookupJoined     = "joined"     // waited for a fetch already in flight
	LookupSuppressed = "suppressed" // needed a fetch, refused by the rate limit

	KeyUsable  = "usable"
	KeySkipped = "skipped"
)

// Kind is the instrument kind of a Metric.
type Kind int

// Instrument kinds.
const (
	Counter Kind = iota
	Histogram
	Gauge
)

// Metric describes one exported metric.
type Metric struct {
	Name        string // OpenTelemetry name
	Kind        Kind
	Unit        string // UCUM: "s", or an annotation such as "{attempt}"
	Description string
	Attributes  []string  // the attribute keys it may carry
	Buckets     []float64 // explicit histogram bucket boundaries, in Unit
}

// PrometheusName returns the name an OpenTelemetry Prometheus exporter
// gives m: dots become underscores, "s" adds _seconds, counters end in
// _total, annotations such as {attempt} add nothing.
func (m Metric) PrometheusName() string {
	n := strings.ReplaceAll(m.Name, ".", "_")
	if m.Unit == "s" {
		n += "_seconds"
	}
	if m.Kind == Counter {
		n += "_total"
	}
	return n
}

// Histogram buckets, in seconds. One verification costs tens of
// microseconds of CPU (more when it waits for a key fetch, at most
// jwksfetch's MaxWait); a replay claim is a map insert in memory and a
// round trip to Redis or SQL; a JWKS fetch is an HTTPS request.
var (
	VerifyBuckets = []float64{0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}
	StoreBuckets  = []float64{0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}
	FetchBuckets  = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
)

// The metrics.
var (
	ClientAuthDuration = Metric{"pkjwt.client_auth.duration", Histogram, "s",
		"Duration of client assertion verifications.",
		[]string{AttrResult, AttrErrorType, AttrAlg, AttrMethod, AttrClientID}, VerifyBuckets}
	ClientAuthAttempts = Metric{"pkjwt.client_auth.attempts", Counter, "{attempt}",
		"Client assertion verifications, by result and reason; every series starts at zero.",
		[]string{AttrResult, AttrErrorType, AttrClientID}, nil}
	KeyLookupDuration = Metric{"pkjwt.key_lookup.duration", Histogram, "s",
		"Duration of the lookups of a client's verification key, waits for key fetches included.",
		[]string{AttrErrorType}, StoreBuckets}
	ReplayClaimDuration = Metric{"pkjwt.replay.claim.duration", Histogram, "s",
		"Duration of jti claims in the replay store, by result (claimed, replayed, error).",
		[]string{AttrResult}, StoreBuckets}
	JWKSLookups = Metric{"pkjwt.jwks.lookups", Counter, "{lookup}",
		"Key lookups in jwks_uri key sources, by how they were answered.",
		[]string{AttrLookup}, nil}
	JWKSRefreshSuppressed = Metric{"pkjwt.jwks.refresh.suppressed", Counter, "{refresh}",
		"Fetches a key lookup needed (an unknown kid, no usable keys) that the rate limit refused.",
		[]string{AttrJWKSURI}, nil}
	JWKSFetchDuration = Metric{"pkjwt.jwks.fetch.duration", Histogram, "s",
		"Duration of jwks_uri fetches, with error.type when they failed.",
		[]string{AttrJWKSURI, AttrTrigger, AttrErrorType}, FetchBuckets}
	JWKSFetchErrors = Metric{"pkjwt.jwks.fetch.errors", Counter, "{error}",
		"Failed jwks_uri fetches, by error type.",
		[]string{AttrJWKSURI, AttrErrorType}, nil}
	JWKSKeys = Metric{"pkjwt.jwks.keys", Gauge, "{key}",
		"Keys of the last successful fetch of each jwks_uri, usable and skipped.",
		[]string{AttrJWKSURI, AttrKeyState}, nil}
	JWKSLastSuccess = Metric{"pkjwt.jwks.last_success_time", Gauge, "s",
		"Time of the last successful fetch of each jwks_uri, in seconds since the Unix epoch.",
		[]string{AttrJWKSURI}, nil}
	JWKSKeyAge = Metric{"pkjwt.jwks.key.age", Gauge, "s",
		"Age of the keys each jwks_uri key source serves: time since its last successful fetch.",
		[]string{AttrJWKSURI}, nil}
)

// All lists every metric.
var All = []Metric{
	ClientAuthDuration, ClientAuthAttempts, KeyLookupDuration, ReplayClaimDuration,
	JWKSLookups, JWKSRefreshSuppressed, JWKSFetchDuration, JWKSFetchErrors,
	JWKSKeys, JWKSLastSuccess, JWKSKeyAge,
}

// Lookup returns the AttrLookup value of a key lookup.
func Lookup(i jwksfetch.LookupInfo) string {
	switch {
	case i.CacheHit:
		return LookupHit
	case i.RefreshTriggered:
		return LookupRefresh
	case i.RefreshSuppressed:
		return LookupSuppressed
	}
	return LookupJoined
}

// Trigger returns the AttrTrigger value of a fetch.
func Trigger(i jwksfetch.FetchInfo) string {
	if i.OnDemand {
		return TriggerDemand
	}
	return TriggerScheduled
}

// Sources keeps, per jwks_uri, what the gauges report: the time of the last
// successful fetch and its key counts. Feed it every fetch and close; it
// forgets a source when it closes. It is safe for concurrent use.
type Sources struct {
	mu sync.Mutex
	m  map[string]Source
}

// Source is the state of one jwks_uri.
type Source struct {
	LastSuccess     time.Time
	Usable, Skipped int
}

// Fetched records a fetch that ended at now (by the clock the gauges use);
// only successful ones change the state.
func (s *Sources) Fetched(i jwksfetch.FetchInfo, now time.Time) {
	if i.Err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]Source{}
	}
	s.m[i.URI] = Source{LastSuccess: now, Usable: i.KeysUsable, Skipped: i.KeysSkipped}
}

// Closed forgets uri.
func (s *Sources) Closed(uri string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, uri)
}

// Each calls f for every source, in no particular order, with the lock
// held: f must not call s.
func (s *Sources) Each(f func(uri string, src Source)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for uri, src := range s.m {
		f(uri, src)
	}
}
