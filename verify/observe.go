package verify

import (
	"context"
	"errors"
	"time"
)

// Hooks receive the events of a [Verifier], for metrics, traces and access
// logs, in the spirit of net/http/httptrace. Set them in [Config.Hooks];
// package github.com/pkjwt/pkjwt/integrations/otel turns them into
// OpenTelemetry metrics and spans.
//
// Every field is optional. A nil *Hooks (or one whose fields are all nil)
// costs nothing: no clock reading, no allocation. Each hook is called
// synchronously on the goroutine of Verify, at most once per Verify call,
// so it must be quick and safe for concurrent use. The infos a hook
// receives hold no assertion, jti or key material.
type Hooks struct {
	// VerifyStart is called when Verify begins. The context it returns,
	// which must derive from ctx, replaces ctx for the rest of the
	// verification: the client registry, the key source, the replay store
	// and the other hooks receive it (a tracer puts its span in it).
	VerifyStart func(ctx context.Context) context.Context
	// VerifyDone is called once per Verify call, after the decision, with
	// the context VerifyStart returned.
	VerifyDone func(ctx context.Context, info VerifyInfo)
	// KeyLookupStart is called before the client's key is looked up. The
	// context it returns, which must derive from ctx, is passed to the
	// [KeySource] and to KeyLookupDone.
	KeyLookupStart func(ctx context.Context) context.Context
	// KeyLookupDone is called after the key lookup.
	KeyLookupDone func(ctx context.Context, info KeyLookupInfo)
	// ReplayClaimStart is called before the jti is claimed in the replay
	// store, which only happens when every other check passed. The context
	// it returns, which must derive from ctx, is passed to the store and to
	// ReplayClaimDone.
	ReplayClaimStart func(ctx context.Context) context.Context
	// ReplayClaimDone is called after the replay claim.
	ReplayClaimDone func(ctx context.Context, info ReplayClaimInfo)
}

// Outcomes of a verification ([VerifyInfo.Outcome]).
const (
	// OutcomeSuccess: the assertion was accepted.
	OutcomeSuccess = "success"
	// OutcomeFailure: the request or the assertion was refused (the
	// client's fault: [Error.Code] is invalid_request or invalid_client).
	OutcomeFailure = "failure"
	// OutcomeError: the server could not decide (a client registry, key
	// source or replay store did not answer; [Error.Infrastructure]).
	OutcomeError = "error"
)

// VerifyInfo describes one finished verification.
type VerifyInfo struct {
	// Outcome is OutcomeSuccess, OutcomeFailure or OutcomeError.
	Outcome string
	// Err is the error Verify returned, or nil on success.
	Err *Error
	// Reason and Code are Err's (see [Refusals] for every value), or empty
	// on success.
	Reason, Code string
	// Algorithm is the assertion's alg once the verification reached the
	// key lookup (it is then one of the algs the Verifier knows), or empty.
	Algorithm string
	// Method is the client's authentication method (MethodPrivateKeyJWT or
	// MethodClientSecretJWT) once the verification reached the key lookup,
	// or empty.
	Method string
	// ClientID is the authenticated client on success. On failure it is the
	// registered client the assertion claims to come from, if the
	// verification reached the key lookup (not authenticated: the assertion
	// may be forged), or empty. It is unbounded: record it in metrics only
	// when the number of clients is.
	ClientID string
	// Start is when Verify began; Duration how long it took.
	Start    time.Time
	Duration time.Duration
}

// KeyLookupInfo describes one lookup of a client's verification key.
type KeyLookupInfo struct {
	// ClientID is the registered client whose key was looked up.
	ClientID string
	// Algorithm is the assertion's alg.
	Algorithm string
	// KeyID is the ID of the key found (empty when the key has none, or on
	// failure).
	KeyID string
	// Err is nil when a usable key was found, else the *Error Verify
	// returns (reason key_not_found, kid_required, key_rejected,
	// keys_unavailable or malformed).
	Err *Error
	// Start is when the lookup began; Duration how long it took, waiting
	// for a key fetch included.
	Start    time.Time
	Duration time.Duration
}

// Outcomes of a replay claim ([ReplayClaimInfo.Outcome]).
const (
	// ClaimClaimed: the jti was unused and is now claimed.
	ClaimClaimed = "claimed"
	// ClaimReplayed: the jti was claimed before; the assertion is refused.
	ClaimReplayed = "replayed"
	// ClaimError: the store could not decide; the assertion is refused.
	ClaimError = "error"
)

// ReplayClaimInfo describes one claim of a jti in the replay store.
type ReplayClaimInfo struct {
	// Outcome is ClaimClaimed, ClaimReplayed or ClaimError.
	Outcome string
	// Err is nil when claimed, else the *Error Verify returns; with
	// ClaimError it wraps the store's error.
	Err *Error
	// Start is when the claim began; Duration how long the store took.
	Start    time.Time
	Duration time.Duration
}

// allChecks lists every check, in the order of their declaration (filled by
// newCheck).
var allChecks []*check

// Refusals returns one *Error, without a cause, per check of this package
// (those of [Verifier.Verify] and, for repeated_parameter,
// [RequestFromForm]), in a fixed order: every [Error.Reason] with its
// [Error.Code], so that metrics can create each series before the first
// failure.
func Refusals() []*Error {
	errs := make([]*Error, len(allChecks))
	for i, c := range allChecks {
		errs[i] = newError(c, nil)
	}
	return errs
}

// clone returns a copy of h, or nil when h has no hook set.
func (h *Hooks) clone() *Hooks {
	if h == nil || h.VerifyStart == nil && h.VerifyDone == nil && h.KeyLookupStart == nil &&
		h.KeyLookupDone == nil && h.ReplayClaimStart == nil && h.ReplayClaimDone == nil {
		return nil
	}
	c := *h
	return &c
}

// observation collects, during one observed Verify, what VerifyDone
// reports beyond the result. A nil *observation means no hooks.
type observation struct {
	hooks       *Hooks
	alg, method string
	clientID    string
}

// verifyObserved is Verify with hooks.
func (v *Verifier) verifyObserved(ctx context.Context, req Request) (*Result, error) {
	h := v.cfg.Hooks
	if h.VerifyStart != nil {
		ctx = h.VerifyStart(ctx)
	}
	o := observation{hooks: h}
	start := time.Now()
	res, err := v.verify(ctx, req, &o)
	if h.VerifyDone == nil {
		return res, err
	}
	info := VerifyInfo{Outcome: OutcomeSuccess, Algorithm: o.alg, Method: o.method, ClientID: o.clientID, Start: start, Duration: time.Since(start)}
	if err != nil {
		info.Err = asError(err)
		info.Reason, info.Code = info.Err.Reason, info.Err.Code
		info.Outcome = OutcomeFailure
		if info.Err.Infrastructure() {
			info.Outcome = OutcomeError
		}
	} else {
		info.Algorithm, info.Method, info.ClientID = res.Algorithm, res.Method, res.ClientID
	}
	h.VerifyDone(ctx, info)
	return res, err
}

// timedKey is v.key, reported to the key lookup hooks when o is not nil.
func (v *Verifier) timedKey(ctx context.Context, o *observation, client *Client, alg string, h *header) (string, any, error) {
	if o == nil {
		return v.key(ctx, client, alg, h)
	}
	o.alg, o.method, o.clientID = alg, client.method(), client.ID
	if o.hooks.KeyLookupStart != nil {
		ctx = o.hooks.KeyLookupStart(ctx)
	}
	start := time.Now()
	kid, key, err := v.key(ctx, client, alg, h)
	if o.hooks.KeyLookupDone != nil {
		info := KeyLookupInfo{ClientID: client.ID, Algorithm: alg, Start: start, Duration: time.Since(start)}
		if err != nil {
			info.Err = asError(err)
		} else {
			info.KeyID = kid
		}
		o.hooks.KeyLookupDone(ctx, info)
	}
	return kid, key, err
}

// timedClaim is v.claim, reported to the replay claim hooks when o is not
// nil.
func (v *Verifier) timedClaim(ctx context.Context, o *observation, c *claims) error {
	if o == nil {
		return v.claim(ctx, c)
	}
	if o.hooks.ReplayClaimStart != nil {
		ctx = o.hooks.ReplayClaimStart(ctx)
	}
	start := time.Now()
	err := v.claim(ctx, c)
	if o.hooks.ReplayClaimDone != nil {
		info := ReplayClaimInfo{Outcome: ClaimClaimed, Start: start, Duration: time.Since(start)}
		if err != nil {
			info.Err = asError(err)
			info.Outcome = ClaimReplayed
			if info.Err.Infrastructure() {
				info.Outcome = ClaimError
			}
		}
		o.hooks.ReplayClaimDone(ctx, info)
	}
	return err
}

// asError returns err, which Verify's steps always make an *Error, as one.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Reason: "internal", Code: CodeServerError, Description: "internal error", Err: err} // not reached
}
