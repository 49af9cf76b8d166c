package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

// writeProbeJSON writes the report as indented JSON.
func writeProbeJSON(w io.Writer, rep *probeReport) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// writeProbeTable writes the report as text: the target, what the
// metadata advertises, the baseline, the probes grouped by severity, the
// findings and a summary.
func writeProbeTable(w io.Writer, rep *probeReport) error {
	target := rep.Issuer
	if target == "" {
		target = rep.Endpoints[epToken]
	}
	fmt.Fprintf(w, "pkjwt probe of %s\n\n", target)
	for _, name := range []string{epToken, epIntrospection, epRevocation, epPAR} {
		if u, ok := rep.Endpoints[name]; ok {
			fmt.Fprintf(w, "  %-14s %s\n", name, u)
		}
	}
	fmt.Fprintf(w, "  %-14s %s (%s, %s)\n  %-14s %s\n\n", "client", rep.ClientID, rep.Alg, kidText(rep.KeyID), "aud", rep.Aud)

	if md := rep.Metadata; md != nil {
		if md.URL != "" {
			fmt.Fprintf(w, "Metadata (RFC 8414): %s\n", md.URL)
			fmt.Fprintf(w, "  token_endpoint_auth_methods_supported             %s\n", listOrAbsent(md.AuthMethods))
			fmt.Fprintf(w, "  token_endpoint_auth_signing_alg_values_supported  %s\n", listOrAbsent(md.SigningAlgs))
		} else {
			fmt.Fprintf(w, "Metadata (RFC 8414):\n")
		}
		for _, warn := range md.Warnings {
			fmt.Fprintf(w, "  WARN %s\n", warn)
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintf(w, "Baseline: %s\n\n", describeExchange(rep.Baseline))
	if rep.Baseline.Outcome != outAccepted {
		return nil
	}

	idWidth, titleWidth := 0, 0
	for _, r := range rep.Results {
		idWidth = max(idWidth, len(r.ID))
		titleWidth = max(titleWidth, len(r.Title))
	}
	for _, sev := range []severity{sevCritical, sevHigh, sevMedium} {
		fmt.Fprintf(w, "%s (%s)\n", strings.ToUpper(sev.String()), severityTopics[sev])
		for _, r := range rep.Results {
			if r.sev != sev {
				continue
			}
			outcome := r.Outcome
			if r.finding() {
				outcome = strings.ToUpper(outcome)
			}
			line := fmt.Sprintf("  %-12s  %-*s  %-*s  %s", outcome, idWidth, r.ID, titleWidth, r.Title, resultDetail(r))
			fmt.Fprintln(w, strings.TrimRight(line, " "))
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintf(w, "Findings:")
	n := 0
	for _, sev := range []severity{sevCritical, sevHigh, sevMedium} {
		for _, r := range rep.Results {
			if r.sev != sev || !r.finding() {
				continue
			}
			n++
			what := "accepted"
			if r.Fetched && r.Outcome != outAccepted {
				what = "refused, but the server fetched the URL from the assertion"
			} else if r.Fetched {
				what = "accepted, and the server fetched the URL from the assertion"
			}
			fmt.Fprintf(w, "\n  %-8s  %s: %s: %s.\n            rule: %s\n            refs: %s\n",
				strings.ToUpper(r.Severity), r.ID, r.Title, what, r.Rule, strings.Join(r.Refs, "; "))
		}
	}
	if n == 0 {
		fmt.Fprintf(w, " none.\n")
	}
	fmt.Fprintln(w)
	if rep.Control != nil {
		fmt.Fprintf(w, "Control: %s\n", describeExchange(*rep.Control))
	}
	s := rep.Summary
	_, err := fmt.Fprintf(w, "Result: %d findings (%d critical, %d high, %d medium); %d accepted, %d refused, %d error, %d inconclusive, %d n/a; %d requests. Exit status %d.\n",
		s.Findings, s.Critical, s.High, s.Medium, s.Accepted, s.Refused, s.Error, s.Inconclusive, s.NotRun, rep.Requests, rep.Exit)
	return err
}

// resultDetail is the last column of a result's row.
func resultDetail(r probeResult) string {
	var parts []string
	if r.Outcome != outNA && (r.Status != 0 || r.Note == "") {
		parts = append(parts, statusText(r.exchange))
	}
	if r.Note != "" {
		parts = append(parts, r.Note)
	}
	return strings.Join(parts, ": ")
}

// describeExchange describes the answer to a correct assertion.
func describeExchange(e exchange) string {
	switch e.Outcome {
	case outAccepted:
		return fmt.Sprintf("a correct assertion got a token (%d).", e.Status)
	case outError:
		return fmt.Sprintf("a correct assertion got no answer or a server error (%s: %s).", statusText(e), e.Note)
	}
	s := fmt.Sprintf("a correct assertion got no token (%s", statusText(e))
	if e.Description != "" {
		s += fmt.Sprintf(" %q", e.Description)
	}
	if e.Note != "" {
		s += ": " + e.Note
	}
	return s + ")."
}

func listOrAbsent(l []string) string {
	if l == nil {
		return "(absent)"
	}
	return strings.Join(l, ", ")
}

// baselineHint is advice for a refused baseline, chosen by the check the
// server's error_description names: pkjwt's own descriptions first, then
// words other servers use.
type baselineHint struct {
	check    error    // a verify sentinel whose description the server may have sent
	keywords []string // lower-case words of other servers' descriptions
	hint     func(p *prober) string
}

var baselineHints = []baselineHint{
	{verify.ErrAudience, []string{"aud"}, func(p *prober) string {
		if p.cfg.issuer != "" && p.b.aud != p.cfg.issuer {
			return fmt.Sprintf("aud: the probe sent aud %q, not the issuer %q, which servers that follow draft-ietf-oauth-rfc7523bis want: drop -aud.", p.b.aud, p.cfg.issuer)
		}
		return fmt.Sprintf("aud: the probe sent aud %q. A server that follows RFC 7523 (2015) may want its token endpoint URL instead: retry with -aud %s.", p.b.aud, p.b.endpoints[epToken])
	}},
	{verify.ErrUnknownClient, []string{"client not found", "unknown client", "no client"}, func(p *prober) string {
		return fmt.Sprintf("client: the server does not know client_id %q; check -client-id.", p.cfg.clientID)
	}},
	{verify.ErrMethod, []string{"authentication method", "auth method", "token_endpoint_auth_method"}, func(p *prober) string {
		return fmt.Sprintf("method: client %q may not be registered for private_key_jwt.", p.cfg.clientID)
	}},
	{verify.ErrKeyNotFound, []string{"kid", "key"}, func(p *prober) string {
		return fmt.Sprintf("key: is the public half of -key registered for client %q, with %s? (-kid sets the kid; -kid= omits it)", p.cfg.clientID, kidText(p.cfg.key.kid))
	}},
	{verify.ErrSignature, []string{"signature"}, func(p *prober) string {
		return fmt.Sprintf("key: the signature did not verify: is the public half of -key the key registered for client %q with %s?", p.cfg.clientID, kidText(p.cfg.key.kid))
	}},
	{verify.ErrAlgorithm, []string{"alg"}, func(p *prober) string {
		return fmt.Sprintf("alg: the probe signs with %s; the client may be registered for another alg (-alg).", p.cfg.key.alg)
	}},
	{verify.ErrExpired, []string{"expired", "exp", "iat", "nbf", "clock", "not yet valid"}, func(*prober) string {
		return fmt.Sprintf("clock: this machine's clock reads %s; a clock off by more than the server's leeway on either side makes a correct assertion look expired or not yet valid.", time.Now().UTC().Format(time.RFC3339))
	}},
}

// kidText is `kid "..."`, or "no kid".
func kidText(kid string) string {
	if kid == "" {
		return "no kid"
	}
	return fmt.Sprintf("kid %q", kid)
}

// explainBaseline says why a correct assertion may have got no token,
// with the words of pkjwt verify.
func (p *prober) explainBaseline(rep *probeReport) string {
	var b bytes.Buffer
	e := rep.Baseline
	fmt.Fprintf(&b, "the baseline failed: %s\n", describeExchange(e))
	fmt.Fprintf(&b, "The probe stops here: without a token for a correct assertion, no refusal would mean anything.\n\n")
	printAssertion(&b, p.b.baseline, time.Now())

	// The words of pkjwt verify: the checks of pkjwt's own verifier, for
	// the issuer and the key's public half.
	issuer := cmp.Or(p.cfg.issuer, p.b.aud)
	if steps, ok := localSteps(issuer, p.cfg.clientID, p.cfg.key, p.b.baseline); ok {
		fmt.Fprintf(&b, "\nChecked by pkjwt's own verifier (issuer %s, the public half of -key):\n\n", issuer)
		printSteps(&b, steps, issuer)
	}

	var hints []string
	switch e.Error {
	case "unsupported_grant_type", "unauthorized_client":
		hints = append(hints, fmt.Sprintf("grant: the server answered %s to grant_type %q; give the grant your client may use (-grant-type, -scope, -resource, -param).", e.Error, p.cfg.params.Get("grant_type")))
	case "invalid_scope", "invalid_target":
		hints = append(hints, fmt.Sprintf("scope: the server answered %s; give a -scope or -resource the client may ask for.", e.Error))
	}
	desc := strings.ToLower(e.Description)
	if hints == nil && desc != "" {
		for _, h := range baselineHints {
			if strings.Contains(desc, strings.TrimPrefix(h.check.Error(), "verify: ")) {
				hints = append(hints, h.hint(p))
				break
			}
		}
	}
	if hints == nil && desc != "" {
	keywords:
		for _, h := range baselineHints {
			for _, k := range h.keywords {
				if strings.Contains(desc, k) {
					hints = append(hints, h.hint(p))
					break keywords
				}
			}
		}
	}
	if hints == nil {
		for _, h := range baselineHints {
			if !errors.Is(h.check, verify.ErrSignature) {
				hints = append(hints, h.hint(p))
			}
		}
	}
	fmt.Fprintf(&b, "\nLikely causes:\n")
	for _, h := range hints {
		fmt.Fprintf(&b, "  - %s\n", h)
	}
	return strings.TrimRight(b.String(), "\n")
}

// localSteps runs pkjwt's verifier's Explain on tok for issuer aud and a
// client whose only key is the public half of key.
func localSteps(aud, clientID string, key signingKey, tok string) ([]verify.Step, bool) {
	keys, err := verify.NewKeySet(verify.Key{ID: key.kid, Public: key.signer.Public(), Algorithm: key.alg})
	if err != nil {
		return nil, false
	}
	store, err := replay.NewMemory(replay.MemoryConfig{CleanupInterval: -1})
	if err != nil {
		return nil, false
	}
	defer store.Close()
	v, err := verify.New(aud, verify.ClientMap{clientID: {ID: clientID, Keys: keys}}, store, verify.Config{})
	if err != nil {
		return nil, false
	}
	return v.Explain(context.Background(), verify.Request{AssertionType: verify.AssertionType, Assertion: tok}), true
}
