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
// so it must be quick and safe for concurrent use; [Verifier.Explain]
// calls none. The infos a hook receives hold no assertion, jti or key
// material.
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
	// ClaimBeforeEpoch: the jti was unused and is now claimed, but the
	// assertion may have been issued before the replay store's memory
	// began (its epoch), so it is refused with ErrReplayEpoch.
	ClaimBeforeEpoch = "before_epoch"
)

// ReplayClaimInfo describes one claim of a jti in the replay store.
type ReplayClaimInfo struct {
	// Outcome is ClaimClaimed, ClaimReplayed, ClaimError or
	// ClaimBeforeEpoch.
	Outcome string
	// Err is nil with ClaimClaimed, else the *Error Verify returns; with
	// ClaimError it wraps the store's error.
	Err *Error
	// Start is when the claim began; Duration how long the store took.
	Start    time.Time
	Duration time.Duration
}

// verifyChecks lists the sentinel of every check that Verify applies, in
// the order of their declaration (filled by newCheck).
var verifyChecks []*sentinel

// Refusals returns one *Error, without a cause, per reason that
// [Verifier.Verify] can fail with, and so that [VerifyInfo] can carry, in a
// fixed order: every [Error.Reason] with its [Error.Code], so that metrics
// can create each series before the first failure.
//
// The other sentinels are not reasons of a verification, and no hook sees
// them: those of the HTTP edge (ErrMethodNotAllowed, ErrContentType,
// ErrBodyTooLarge, ErrMalformedBody, ErrQueryParameter) and
// ErrRepeatedParameter, with which package middleware, the integrations and
// [RequestFromForm] refuse a request before any verification, and
// ErrInternal, a host's or an integration's own failure.
func Refusals() []*Error {
	errs := make([]*Error, len(verifyChecks))
	for i, c := range verifyChecks {
		errs[i] = NewError(c, nil)
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

// verifyObserved is Verify with hooks: VerifyStart and VerifyDone around
// the run of the steps, whose key and replay steps call the other hooks.
func (v *Verifier) verifyObserved(ctx context.Context, req Request) (*Result, error) {
	h := v.cfg.Hooks
	if h.VerifyStart != nil {
		ctx = h.VerifyStart(ctx)
	}
	s := &verification{v: v, ctx: ctx, req: req, hooks: h}
	start := time.Now()
	res, err := v.verify(s)
	if h.VerifyDone == nil {
		return res, err
	}
	info := VerifyInfo{Outcome: OutcomeSuccess, Start: start, Duration: time.Since(start)}
	if s.client != nil {
		// The verification reached the key lookup (always, on success):
		// the client step found the client and accepted its alg.
		info.Algorithm, info.Method, info.ClientID = s.alg.Name, s.client.method(), s.client.ID
	}
	if err != nil {
		info.Err = asError(err)
		info.Reason, info.Code = info.Err.Reason, info.Err.Code
		info.Outcome = OutcomeFailure
		if info.Err.Infrastructure() {
			info.Outcome = OutcomeError
		}
	}
	h.VerifyDone(ctx, info)
	return res, err
}

// lookupKey is the key step: findKey, reported to the key lookup hooks of
// an observed Verify.
func (s *verification) lookupKey() error {
	h := s.hooks
	if h == nil {
		return s.findKey(s.ctx)
	}
	ctx := s.ctx
	if h.KeyLookupStart != nil {
		ctx = h.KeyLookupStart(ctx)
	}
	start := time.Now()
	err := s.findKey(ctx)
	if h.KeyLookupDone != nil {
		info := KeyLookupInfo{ClientID: s.client.ID, Algorithm: s.alg.Name, Start: start, Duration: time.Since(start)}
		if err != nil {
			info.Err = asError(err)
		} else {
			info.KeyID = s.kid
		}
		h.KeyLookupDone(ctx, info)
	}
	return err
}

// claim is the replay step: the jti's claim in the replay store, reported
// to the replay claim hooks of an observed Verify.
func (s *verification) claim() error {
	h := s.hooks
	if h == nil {
		return s.v.claim(s.ctx, &s.t.claims)
	}
	ctx := s.ctx
	if h.ReplayClaimStart != nil {
		ctx = h.ReplayClaimStart(ctx)
	}
	start := time.Now()
	err := s.v.claim(ctx, &s.t.claims)
	if h.ReplayClaimDone != nil {
		info := ReplayClaimInfo{Outcome: ClaimClaimed, Start: start, Duration: time.Since(start)}
		if err != nil {
			info.Err = asError(err)
			switch {
			case info.Err.Infrastructure():
				info.Outcome = ClaimError
			case errors.Is(err, ErrReplayEpoch):
				info.Outcome = ClaimBeforeEpoch
			default:
				info.Outcome = ClaimReplayed
			}
		}
		h.ReplayClaimDone(ctx, info)
	}
	return err
}

// asError returns err, which Verify's steps always make an *Error, as one.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return NewError(ErrInternal, err) // not reached
}
