package verify_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/verify"
)

type hookKey string

// hookRecorder records the events of verify.Hooks and checks that each
// hook sees the context the Start hooks returned.
type hookRecorder struct {
	t  *testing.T
	mu sync.Mutex

	verifyStarts, keyStarts, claimStarts int
	verifies                             []verify.VerifyInfo
	keys                                 []verify.KeyLookupInfo
	claims                               []verify.ReplayClaimInfo
	ctxErrors                            []string
}

func (r *hookRecorder) hooks() *verify.Hooks {
	want := func(ctx context.Context, where string, keys ...hookKey) {
		for _, k := range keys {
			if ctx.Value(k) != string(k) {
				r.ctxErrors = append(r.ctxErrors, fmt.Sprintf("%s: context without %s", where, k))
			}
		}
	}
	return &verify.Hooks{
		VerifyStart: func(ctx context.Context) context.Context {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.verifyStarts++
			return context.WithValue(ctx, hookKey("verify"), "verify")
		},
		VerifyDone: func(ctx context.Context, info verify.VerifyInfo) {
			r.mu.Lock()
			defer r.mu.Unlock()
			want(ctx, "VerifyDone", "verify")
			r.verifies = append(r.verifies, info)
		},
		KeyLookupStart: func(ctx context.Context) context.Context {
			r.mu.Lock()
			defer r.mu.Unlock()
			want(ctx, "KeyLookupStart", "verify")
			r.keyStarts++
			return context.WithValue(ctx, hookKey("key"), "key")
		},
		KeyLookupDone: func(ctx context.Context, info verify.KeyLookupInfo) {
			r.mu.Lock()
			defer r.mu.Unlock()
			want(ctx, "KeyLookupDone", "verify", "key")
			r.keys = append(r.keys, info)
		},
		ReplayClaimStart: func(ctx context.Context) context.Context {
			r.mu.Lock()
			defer r.mu.Unlock()
			want(ctx, "ReplayClaimStart", "verify")
			r.claimStarts++
			return context.WithValue(ctx, hookKey("claim"), "claim")
		},
		ReplayClaimDone: func(ctx context.Context, info verify.ReplayClaimInfo) {
			r.mu.Lock()
			defer r.mu.Unlock()
			want(ctx, "ReplayClaimDone", "verify", "claim")
			r.claims = append(r.claims, info)
		},
	}
}

// ctxStore is a mapStore that checks it receives the replay claim's
// context.
type ctxStore struct {
	mapStore
	fail bool
	bad  []string
}

func (s *ctxStore) Claim(ctx context.Context, key string, until time.Time) (time.Time, error) {
	if ctx.Value(hookKey("claim")) != "claim" || ctx.Value(hookKey("verify")) != "verify" {
		s.bad = append(s.bad, "store: context of the claim hook missing")
	}
	if s.fail {
		return failingStore{}.Claim(ctx, key, until)
	}
	return s.mapStore.Claim(ctx, key, until)
}

// TestHooksRules runs the rule table with hooks: every event fires exactly
// once where it applies, with the fields of the decision, and every
// reason a Verifier reports is counted as often as it was sent.
func TestHooksRules(t *testing.T) {
	sent := map[string]int{}     // reason ("" for success) -> requests sent
	observed := map[string]int{} // reason -> VerifyDone events
	for _, tc := range ruleCases() {
		attempts := []error{tc.want}
		if tc.want == nil {
			attempts = append(attempts, verify.ErrReplayed) // sent twice
		}
		rec := &hookRecorder{t: t}
		var cfg verify.Config
		if tc.cfg != nil {
			cfg = *tc.cfg
		}
		cfg.Hooks = rec.hooks()
		store := &ctxStore{fail: tc.name == "14/replay store down", mapStore: mapStore{epoch: tc.epoch}}
		v := newVerifier(t, &cfg, store)
		for i, want := range attempts {
			rec.verifyStarts, rec.keyStarts, rec.claimStarts = 0, 0, 0
			rec.verifies, rec.keys, rec.claims = nil, nil, nil
			res, err := v.Verify(context.Background(), tc.req)
			name := fmt.Sprintf("%s#%d", tc.name, i+1)
			if !errors.Is(err, want) || (want == nil) != (err == nil) {
				t.Fatalf("%s: Verify: %v, want %v", name, err, want)
			}
			checkEvents(t, name, rec, res, err)
			var e *verify.Error
			errors.As(err, &e)
			reason := ""
			if e != nil {
				reason = e.Reason
			}
			sent[reason]++
			for _, info := range rec.verifies {
				observed[info.Reason]++
			}
		}
		if len(rec.ctxErrors) > 0 || len(store.bad) > 0 {
			t.Errorf("%s: %v %v", tc.name, rec.ctxErrors, store.bad)
		}
	}
	if diff := cmp.Diff(sent, observed); diff != "" {
		t.Errorf("VerifyDone events by reason differ from requests sent (-sent +observed):\n%s", diff)
	}
	// Refusals are exactly the reasons Verify fails with.
	var missing, unlisted []string
	listed := map[string]bool{}
	for _, e := range verify.Refusals() {
		listed[e.Reason] = true
		if sent[e.Reason] == 0 {
			missing = append(missing, e.Reason)
		}
	}
	for reason := range sent {
		if reason != "" && !listed[reason] {
			unlisted = append(unlisted, reason)
		}
	}
	sort.Strings(missing)
	sort.Strings(unlisted)
	if len(missing) > 0 || len(unlisted) > 0 {
		t.Errorf("reasons the rule table never sends: %v; reasons Verify failed with that Refusals lacks: %v", missing, unlisted)
	}
}

// checkEvents checks the events of one Verify call that returned res, err.
func checkEvents(t *testing.T, name string, rec *hookRecorder, res *verify.Result, err error) {
	t.Helper()
	if rec.verifyStarts != 1 || len(rec.verifies) != 1 {
		t.Fatalf("%s: VerifyStart %d times, VerifyDone %d times; want once each", name, rec.verifyStarts, len(rec.verifies))
	}
	info := rec.verifies[0]
	if info.Start.IsZero() || info.Duration <= 0 {
		t.Errorf("%s: VerifyDone start %v, duration %v", name, info.Start, info.Duration)
	}
	var e *verify.Error
	errors.As(err, &e)
	switch {
	case e == nil:
		want := verify.VerifyInfo{Outcome: verify.OutcomeSuccess, Algorithm: res.Algorithm, Method: res.Method, ClientID: res.ClientID}
		got := info
		got.Start, got.Duration = time.Time{}, 0
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: VerifyDone (-want +got):\n%s", name, diff)
		}
	default:
		outcome := verify.OutcomeFailure
		if e.Infrastructure() {
			outcome = verify.OutcomeError
		}
		if info.Err != e || info.Reason != e.Reason || info.Code != e.Code || info.Outcome != outcome {
			t.Errorf("%s: VerifyDone %+v, want the returned error %v (%s, %s) and outcome %s", name, info, err, e.Reason, e.Code, outcome)
		}
	}

	// Key lookup: once, if the verification got that far.
	if rec.keyStarts != len(rec.keys) || len(rec.keys) > 1 {
		t.Fatalf("%s: KeyLookupStart %d times, KeyLookupDone %d times", name, rec.keyStarts, len(rec.keys))
	}
	if len(rec.keys) == 1 {
		k := rec.keys[0]
		if k.ClientID == "" || k.ClientID != info.ClientID || k.Algorithm != info.Algorithm || k.Duration <= 0 {
			t.Errorf("%s: KeyLookupDone %+v with VerifyDone %+v", name, k, info)
		}
		keyReasons := map[string]bool{"key_not_found": true, "kid_required": true, "key_rejected": true, "keys_unavailable": true, "malformed": true}
		switch {
		case k.Err == nil && e != nil && keyReasons[e.Reason] && e.Reason != "malformed":
			t.Errorf("%s: key lookup passed, Verify failed with %s", name, e.Reason)
		case k.Err != nil && k.Err != e:
			t.Errorf("%s: key lookup failed with %v, Verify with %v", name, k.Err, err)
		case res != nil && k.KeyID != res.KeyID:
			t.Errorf("%s: KeyLookupDone kid %q, result %q", name, k.KeyID, res.KeyID)
		}
	} else if res != nil || (e != nil && (e.Reason == "key_not_found" || e.Reason == "signature" || e.Reason == "replayed")) {
		t.Errorf("%s: no key lookup event (error %v)", name, err)
	}

	// Replay claim: once, only when every other check passed.
	claimed := res != nil || errors.Is(err, verify.ErrReplayed) || errors.Is(err, verify.ErrReplayUnavailable) || errors.Is(err, verify.ErrReplayEpoch)
	if rec.claimStarts != len(rec.claims) || len(rec.claims) > 1 || claimed != (len(rec.claims) == 1) {
		t.Fatalf("%s: ReplayClaimStart %d times, ReplayClaimDone %d times (error %v)", name, rec.claimStarts, len(rec.claims), err)
	}
	if claimed {
		c := rec.claims[0]
		want := verify.ClaimClaimed
		switch {
		case errors.Is(err, verify.ErrReplayed):
			want = verify.ClaimReplayed
		case errors.Is(err, verify.ErrReplayUnavailable):
			want = verify.ClaimError
		case errors.Is(err, verify.ErrReplayEpoch):
			want = verify.ClaimBeforeEpoch
		}
		if c.Outcome != want || (c.Err == nil) != (err == nil) || (c.Err != nil && c.Err != e) || c.Duration <= 0 {
			t.Errorf("%s: ReplayClaimDone %+v, want outcome %s and error %v", name, c, want, err)
		}
		if c.Duration > info.Duration {
			t.Errorf("%s: claim took %v, longer than the verification (%v)", name, c.Duration, info.Duration)
		}
	}
}

// TestRefusals checks that Refusals lists every reason of a verification,
// each once, and none of the reasons found before any verification.
func TestRefusals(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range verify.Refusals() {
		if seen[e.Reason] || e.Reason == "" || e.Description == "" || e.Err != nil {
			t.Errorf("bad or repeated refusal %+v", e)
		}
		seen[e.Reason] = true
		switch e.Code {
		case verify.CodeInvalidClient, verify.CodeInvalidRequest, verify.CodeServerError:
		default:
			t.Errorf("%s: code %q", e.Reason, e.Code)
		}
	}
	for _, s := range []error{verify.ErrNoCredentials, verify.ErrReplayed, verify.ErrReplayUnavailable, verify.ErrAudience} {
		var e *verify.Error
		found := false
		for _, r := range verify.Refusals() {
			if errors.Is(r, s) {
				found, e = true, r
			}
		}
		if !found || e.Error() != s.Error() {
			t.Errorf("Refusals lacks %v", s)
		}
	}
	// The HTTP edge, RequestFromForm and a host refuse these; Verify never
	// returns them, so no hook sees them.
	for _, s := range []error{verify.ErrMethodNotAllowed, verify.ErrContentType, verify.ErrBodyTooLarge,
		verify.ErrMalformedBody, verify.ErrQueryParameter, verify.ErrRepeatedParameter, verify.ErrInternal} {
		for _, r := range verify.Refusals() {
			if errors.Is(r, s) {
				t.Errorf("Refusals lists %s, which Verify never returns", r.Reason)
			}
		}
	}
}

// TestExplainCallsNoHook checks that Explain, which shares Verify's steps,
// reports nothing to the hooks: they describe verifications.
func TestExplainCallsNoHook(t *testing.T) {
	rec := &hookRecorder{t: t}
	v := newVerifier(t, &verify.Config{Hooks: rec.hooks()}, nil)
	for _, a := range []string{
		mint(testkeys.RSA2048, "RS256", r1, "rsa", nil),
		mint(testkeys.RSA2048, "RS256", map[string]any{"kid": "nope"}, "rsa", nil),
	} {
		steps := v.Explain(context.Background(), req(a))
		if steps[len(steps)-2].Check != "jti" || steps[len(steps)-2].Skipped {
			t.Fatalf("Explain did not reach the jti step: %+v", steps)
		}
	}
	if rec.verifyStarts+rec.keyStarts+rec.claimStarts+len(rec.verifies)+len(rec.keys)+len(rec.claims) != 0 {
		t.Errorf("Explain called hooks: %d/%d verify, %d/%d key lookup, %d/%d claim starts/dones",
			rec.verifyStarts, len(rec.verifies), rec.keyStarts, len(rec.keys), rec.claimStarts, len(rec.claims))
	}
	// The same Verifier's Verify does report.
	if _, err := v.Verify(context.Background(), req(mint(testkeys.RSA2048, "RS256", r1, "rsa", nil))); err != nil || len(rec.verifies) != 1 || len(rec.keys) != 1 || len(rec.claims) != 1 {
		t.Errorf("Verify: %v, with %d VerifyDone, %d KeyLookupDone, %d ReplayClaimDone; want one each", err, len(rec.verifies), len(rec.keys), len(rec.claims))
	}
}

// TestHooksCopied checks that a Hooks with no field set is no hooks, and
// that the Verifier keeps its own copy of the hooks.
func TestHooksCopied(t *testing.T) {
	var calls int
	h := &verify.Hooks{VerifyDone: func(context.Context, verify.VerifyInfo) { calls++ }}
	v := newVerifier(t, &verify.Config{Hooks: h}, nil)
	h.VerifyDone = nil
	v.Verify(context.Background(), req(mint(testkeys.RSA2048, "RS256", r1, "rsa", nil)))
	if calls != 1 {
		t.Errorf("VerifyDone called %d times after the caller changed its Hooks, want 1", calls)
	}
	if _, err := newVerifier(t, &verify.Config{Hooks: &verify.Hooks{}}, nil).Verify(context.Background(), verify.Request{}); !errors.Is(err, verify.ErrNoCredentials) {
		t.Errorf("empty Hooks: %v", err)
	}
}
