package verify

import (
	"context"
	"errors"
)

// Step is the outcome of one check of [Verifier.Explain].
type Step struct {
	// Check names the check: "request", "syntax", "header", "iss", "sub",
	// "client_id", "client", "alg", "key", "signature", "aud", "exp", "nbf",
	// "iat", "jti" or "replay", in that order.
	Check string
	// Err is nil when the check passed, and an *Error when it failed.
	Err error
	// Skipped reports that the check did not run, because a check it needs
	// failed (no key without a client, say; no client lookup for an unknown
	// alg, where Verify stops). The replay check is always skipped: Explain
	// never uses up a jti.
	Skipped bool
}

// explainChecks lists the checks of Explain in order.
var explainChecks = [...]string{"request", "syntax", "header", "iss", "sub", "client_id", "client", "alg", "key", "signature", "aud", "exp", "nbf", "iat", "jti", "replay"}

// Explain runs every check of [Verifier.Verify] on req that can run, rather
// than stopping at the first failure, and reports each one, in the order
// of Step.Check. The claims checks run even when the signature fails, to
// tell an integrator everything wrong at once; a passed claims check on a
// token whose signature failed proves nothing.
//
// Explain never claims the jti: it has no effect on a later Verify of the
// same request. It is for diagnosis (the pkjwt command's verify
// subcommand); authenticate requests with Verify, which accepts the
// assertion only if no step failed and its jti is unused.
func (v *Verifier) Explain(ctx context.Context, req Request) []Step {
	steps := make([]Step, len(explainChecks))
	for i, c := range explainChecks {
		steps[i] = Step{Check: c, Skipped: true}
	}
	set := func(i int, err error) bool {
		steps[i].Skipped, steps[i].Err = false, err
		return err == nil
	}
	set(0, checkRequest(req))
	if req.Assertion == "" {
		return steps
	}

	// syntax: the character set and segment count, then decoding.
	var t jws
	err := checkSyntax(req.Assertion, v.cfg.MaxAssertionLength)
	if err == nil {
		if perr := t.parse(req.Assertion); perr != nil {
			err = NewError(ErrMalformed, perr)
		}
	}
	if err != nil {
		set(1, err)
		return steps
	}
	c := t.claims
	method := t.method()
	var algErr error
	if method == nil {
		algErr = NewError(ErrAlgorithm, errors.New("unknown or missing alg"))
	}
	set(1, nil)

	set(2, v.checkHeader(&t.header))
	set(3, checkIssuer(&c))
	set(4, checkSubject(&c))
	set(5, checkClientID(req, &c))
	var client *Client
	if steps[3].Err == nil && algErr == nil {
		if client, err = v.client(ctx, c.iss.v); err != nil {
			set(6, err)
			client = nil
		} else {
			set(6, nil)
		}
	}
	switch {
	case algErr != nil:
		set(7, algErr)
	case client != nil && set(7, v.checkAlg(client, method.Alg())):
		_, key, err := v.key(ctx, client, method.Alg(), &t.header)
		if set(8, err) {
			set(9, t.checkSignature(method, key))
		}
	}
	set(10, v.checkAudience(&c))
	set(11, v.checkExpiry(&c))
	set(12, v.checkNotBefore(&c))
	set(13, v.checkIssuedAt(&c))
	set(14, v.checkJTI(&c))
	return steps
}
