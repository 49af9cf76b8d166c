package jwksfetch

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Hooks receive the events of a [Remote] (and of the Remotes a [Registry]
// starts), for metrics and traces, in the spirit of net/http/httptrace.
// Set them in [RemoteConfig.Hooks]; package
// github.com/pkjwt/pkjwt/integrations/otel turns them into OpenTelemetry
// metrics.
//
// Every field is optional; nil Hooks cost nothing. Hooks are called
// synchronously (KeyLookup on the goroutine of Key, Fetch on the one that
// fetched), so they must be quick and safe for concurrent use. The infos
// hold no key material.
type Hooks struct {
	// KeyLookup is called after every Key call, with ctx the caller's
	// context (under a verify.Verifier with hooks, the one its
	// KeyLookupStart returned).
	KeyLookup func(ctx context.Context, info LookupInfo)
	// Fetch is called after every fetch of the jwks_uri that Close did not
	// abort.
	Fetch func(info FetchInfo)
	// Closed is called once when a Remote is closed (a Registry closes the
	// Remotes it evicts), so that state kept per jwks_uri can be dropped.
	Closed func(uri string)
}

// LookupInfo describes one Key call of a [Remote].
type LookupInfo struct {
	// URI is the Remote's jwks_uri.
	URI string
	// CacheHit reports that the keys at hand answered, without a fetch.
	CacheHit bool
	// RefreshTriggered reports that this call started a fetch (for an
	// unknown kid, or because the Remote had no usable keys).
	RefreshTriggered bool
	// RefreshSuppressed reports that this call needed a fetch and the rate
	// limit ([RemoteConfig.MinRefreshInterval]) refused it: it answered
	// from the keys at hand.
	RefreshSuppressed bool
	// Waited is how long the call waited for a fetch (its own or one in
	// flight), at most MaxWait; zero when it did not wait.
	Waited time.Duration
	// KeyAge is the age of the Remote's keys when the call returned: the
	// time since their last successful fetch, growing while fetches fail.
	// Zero when no fetch has succeeded yet.
	KeyAge time.Duration
	// Err is the error Key returned, or nil.
	Err error
}

// FetchInfo describes one fetch of a jwks_uri.
type FetchInfo struct {
	// URI is the jwks_uri.
	URI string
	// OnDemand reports that a Key call caused the fetch (an unknown kid, no
	// usable keys); otherwise it was the first fetch or a background
	// refresh.
	OnDemand bool
	// Status is the HTTP status code, or 0 when no response came.
	Status int
	// Bytes is the size of the document read (0 when none was).
	Bytes int
	// KeysUsable and KeysSkipped count the keys of the document that the
	// Remote serves and those it skipped (see [KeyError]).
	KeysUsable, KeysSkipped int
	// Start is when the fetch began; Duration how long it took.
	Start    time.Time
	Duration time.Duration
	// Err is nil when the fetch succeeded (the keys are replaced), else why
	// it failed (the Remote keeps its last good keys).
	Err error
}

// Error types of [FetchInfo.ErrorType].
const (
	FetchErrorForbiddenAddress = "forbidden_address" // wraps ErrForbiddenAddress
	FetchErrorTooLarge         = "too_large"         // wraps ErrResponseTooLarge
	FetchErrorHTTPStatus       = "http_status"       // a status other than 200
	FetchErrorNotJWKS          = "not_jwks"          // 200, but not a JWK Set
	FetchErrorTimeout          = "timeout"           // Timeout reached
	FetchErrorNetwork          = "network"           // DNS, connection, TLS, reading the body
	FetchErrorOther            = "_OTHER"
)

// ErrorType returns a short, bounded classification of Err for metrics
// (one of the FetchError constants), or "" when the fetch succeeded.
func (i FetchInfo) ErrorType() string {
	err := i.Err
	var ne net.Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrForbiddenAddress):
		return FetchErrorForbiddenAddress
	case errors.Is(err, ErrResponseTooLarge):
		return FetchErrorTooLarge
	case errors.Is(err, ErrNotJWKS) && i.Status != 0 && i.Status != http.StatusOK:
		return FetchErrorHTTPStatus
	case errors.Is(err, ErrNotJWKS):
		return FetchErrorNotJWKS
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return FetchErrorTimeout
	case ne != nil:
		return FetchErrorNetwork
	}
	return FetchErrorOther
}

// fetchStats is what fetch learns of the response, for FetchInfo.
type fetchStats struct {
	status, bytes int
}

// observeHit reports a Key call answered from the keys at hand, st.
func (r *Remote) observeHit(ctx context.Context, st *keyState, err error) {
	if h := r.cfg.Hooks.KeyLookup; h != nil {
		h(ctx, LookupInfo{URI: r.uri, CacheHit: true, KeyAge: r.cfg.Now().Sub(st.fetched), Err: err})
	}
}

// observeSlow reports a Key call that needed a fetch: c is the fetch it
// waited for (nil: none), started whether it started c, start when it
// began, and *errp its final error.
func (r *Remote) observeSlow(ctx context.Context, start time.Time, c *fetchCall, started bool, errp *error) {
	h := r.cfg.Hooks.KeyLookup
	if h == nil {
		return
	}
	info := LookupInfo{URI: r.uri, RefreshTriggered: started, Err: *errp}
	switch {
	case c == nil:
		info.RefreshSuppressed = r.ctx.Err() == nil // not closed: rate-limited
	case r.cfg.MaxWait >= 0:
		info.Waited = time.Since(start)
	}
	if st := r.state.Load(); !st.fetched.IsZero() {
		info.KeyAge = r.cfg.Now().Sub(st.fetched)
	}
	h(ctx, info)
}

// observeFetch reports fetch c, which began at start and left the state st.
func (r *Remote) observeFetch(c *fetchCall, start time.Time, fs *fetchStats, st *keyState, skipped int) {
	if r.cfg.Hooks == nil || r.cfg.Hooks.Fetch == nil {
		return
	}
	info := FetchInfo{URI: r.uri, OnDemand: c.forced, Status: fs.status, Bytes: fs.bytes, Start: start, Duration: time.Since(start), Err: st.err}
	if st.err == nil {
		info.KeysUsable, info.KeysSkipped = len(st.keys), skipped
	}
	r.cfg.Hooks.Fetch(info)
}

// observeClosed reports that r is closed.
func (r *Remote) observeClosed() {
	if r.cfg.Hooks != nil && r.cfg.Hooks.Closed != nil {
		r.cfg.Hooks.Closed(r.uri)
	}
}
