package verify

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/pkjwt/pkjwt/internal/jose"
)

// Step is the outcome of one check of [Verifier.Explain].
type Step struct {
	// Check names the step: "request", "syntax", "header", "iss", "sub",
	// "client_id", "alg", "client", "key", "signature", "aud", "exp",
	// "nbf", "iat", "jti" or "replay". This is the order in which Verify
	// runs them, and the order of Explain's steps.
	Check string
	// Err is nil when the check passed, and an *Error when it failed.
	Err error
	// Skipped reports that the check did not run, because a step it needs
	// failed or was skipped (no client lookup for an alg the verifier
	// refuses, no key without a client, no signature check without a key;
	// nothing but "request" without an assertion). The replay step is
	// always skipped: Explain never uses up a jti.
	Skipped bool
}

// verification is the state one Verify or Explain call shares between its
// steps.
type verification struct {
	v      *Verifier
	ctx    context.Context
	req    Request
	t      jws
	alg    *jose.Alg
	client *Client
	kid    string // of the key that verifies the signature
	key    any    // the public key, or the client's secret
	at     time.Time
}

// now returns the time of the verification: Config.Now, called once.
func (s *verification) now() time.Time {
	if s.at.IsZero() {
		s.at = s.v.cfg.Now()
	}
	return s.at
}

type stepID int

const (
	stepRequest stepID = iota
	stepSyntax
	stepHeader
	stepIssuer
	stepSubject
	stepClientID
	stepAlg
	stepClient
	stepKey
	stepSignature
	stepAudience
	stepExpiry
	stepNotBefore
	stepIssuedAt
	stepJTI
	stepReplay
	numSteps
)

// steps is the one ordered table of the checks: Verify runs them in this
// order and stops at the first failure; Explain runs every step whose
// needs passed. The comments give the numbers of the checks (in the
// package documentation) each step applies.
var steps = [numSteps]struct {
	name string
	// needs are the steps that must have passed for this one to run under
	// Explain. Every step but request needs an assertion.
	needs []stepID
	run   func(*verification) error
}{
	stepRequest:   {"request", nil, func(s *verification) error { return checkRequest(s.req) }},                                   // 1, 3
	stepSyntax:    {"syntax", nil, (*verification).parse},                                                                         // 4
	stepHeader:    {"header", []stepID{stepSyntax}, func(s *verification) error { return s.v.checkHeader(&s.t.header) }},          // 4, 9
	stepIssuer:    {"iss", []stepID{stepSyntax}, func(s *verification) error { return checkIssuer(&s.t.claims) }},                 // 10
	stepSubject:   {"sub", []stepID{stepSyntax}, func(s *verification) error { return checkSubject(&s.t.claims) }},                // 10
	stepClientID:  {"client_id", []stepID{stepSyntax}, func(s *verification) error { return checkClientID(s.req, &s.t.claims) }},  // 2
	stepAlg:       {"alg", []stepID{stepSyntax}, (*verification).checkAlg},                                                        // 6
	stepClient:    {"client", []stepID{stepIssuer, stepAlg}, (*verification).lookupClient},                                        // 10, 6, 16
	stepKey:       {"key", []stepID{stepClient}, (*verification).findKey},                                                         // 7, 8, 16
	stepSignature: {"signature", []stepID{stepKey}, func(s *verification) error { return s.t.checkSignature(s.alg, s.key) }},      // 5, 16
	stepAudience:  {"aud", []stepID{stepSyntax}, func(s *verification) error { return s.v.checkAudience(&s.t.claims) }},           // 11
	stepExpiry:    {"exp", []stepID{stepSyntax}, func(s *verification) error { return s.v.checkExpiry(&s.t.claims, s.now()) }},    // 12
	stepNotBefore: {"nbf", []stepID{stepSyntax}, func(s *verification) error { return s.v.checkNotBefore(&s.t.claims, s.now()) }}, // 13
	stepIssuedAt:  {"iat", []stepID{stepSyntax}, func(s *verification) error { return s.v.checkIssuedAt(&s.t.claims, s.now()) }},  // 13
	stepJTI:       {"jti", []stepID{stepSyntax}, func(s *verification) error { return s.v.checkJTI(&s.t.claims) }},                // 14
	stepReplay:    {"replay", nil, func(s *verification) error { return s.v.claim(s.ctx, &s.t.claims) }},                          // 14
}

// parse runs check 4 and decodes the assertion.
func (s *verification) parse() error {
	if err := checkSyntax(s.req.Assertion, s.v.cfg.MaxAssertionLength); err != nil {
		return err
	}
	if err := s.t.parse(s.req.Assertion); err != nil {
		return NewError(ErrMalformed, err)
	}
	return nil
}

// checkAlg applies check 6 as far as the Verifier's policy goes: the alg is
// one of the package's table (never "none"), and an asymmetric one is in
// the allow-list. Whether the client may use it is the client step's.
func (s *verification) checkAlg() error {
	s.alg = s.t.alg()
	switch {
	case s.alg == nil:
		// Unknown (every casing of "none" included), absent or not a string.
		return NewError(ErrAlgorithm, errors.New("unknown or missing alg"))
	case !s.alg.Symmetric() && !slices.Contains(s.v.cfg.Algorithms, s.alg.Name):
		return NewError(ErrAlgorithm, nil)
	}
	return nil
}

// Explain runs every check of [Verifier.Verify] on req that can run, rather
// than stopping at the first failure, and reports each one, in the order
// of [Step.Check]. The claims checks run even when the signature fails, to
// tell an integrator everything wrong at once; a passed claims check on a
// token whose signature failed proves nothing.
//
// Explain never claims the jti: it has no effect on a later Verify of the
// same request. It is for diagnosis (the pkjwt command's verify
// subcommand); authenticate requests with Verify, which accepts the
// assertion only if no step failed and its jti is unused.
func (v *Verifier) Explain(ctx context.Context, req Request) []Step {
	s := &verification{v: v, ctx: ctx, req: req}
	out := make([]Step, numSteps)
	var passed [numSteps]bool
	for i, st := range steps {
		out[i] = Step{Check: st.name, Skipped: true}
		if stepID(i) == stepReplay || (stepID(i) != stepRequest && req.Assertion == "") {
			continue
		}
		ready := true
		for _, n := range st.needs {
			ready = ready && passed[n]
		}
		if !ready {
			continue
		}
		err := st.run(s)
		out[i].Skipped, out[i].Err, passed[i] = false, err, err == nil
	}
	return out
}
