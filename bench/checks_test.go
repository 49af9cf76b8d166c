package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/internal/testkeys"
)

// A checkCase is one assertion (or pair of requests) that a careful
// authorization server refuses; the matrix records which implementations
// refuse it.
type checkCase struct {
	name string
	// run authenticates through a (new, empty replay store) and returns
	// the outcome: "refused", "accepted", or for the concurrent case how
	// many requests were accepted.
	run func(a Authenticator, c Client) string
}

func refused(a Authenticator, form map[string][]string) bool {
	_, err := a.Authenticate(context.Background(), form)
	return err != nil
}

func outcome(refused bool) string {
	if refused {
		return "refused"
	}
	return "accepted"
}

// mod returns a case that changes the claims (and header) of a valid
// assertion.
func mod(name string, hdr map[string]any, f func(now time.Time, m map[string]any)) checkCase {
	return checkCase{name, func(a Authenticator, c Client) string {
		now := time.Now()
		m := c.Claims(now, 5*time.Minute)
		if f != nil {
			f(now, m)
		}
		h := map[string]any{"kid": c.KID}
		for k, v := range hdr {
			h[k] = v
		}
		return outcome(refused(a, Form(testkeys.Sign(c.Alg, c.Signer(), h, m))))
	}}
}

var checkCases = []checkCase{
	mod("a valid assertion (must be accepted)", nil, nil),
	{"the same assertion a second time (replay)", func(a Authenticator, c Client) string {
		f := Form(c.MintNew())
		if refused(a, f) {
			return "first use refused"
		}
		return outcome(refused(a, f))
	}},
	{"the same assertion in 8 concurrent requests", func(a Authenticator, c Client) string {
		f := Form(c.MintNew())
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for range 8 {
			wg.Go(func() {
				if !refused(a, f) {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return fmt.Sprintf("%d of 8 accepted", ok)
	}},
	mod("no jti", nil, func(_ time.Time, m map[string]any) { delete(m, "jti") }),
	mod("jti of 4 KiB", nil, func(_ time.Time, m map[string]any) { m["jti"] = strings.Repeat("j", 4096) }),
	mod("no exp", nil, func(_ time.Time, m map[string]any) { delete(m, "exp") }),
	mod("exp 1 min ago (beyond every leeway)", nil, func(now time.Time, m map[string]any) { m["exp"] = now.Add(-time.Minute).Unix() }),
	mod("exp 30 days ahead (lifetime unbounded)", nil, func(now time.Time, m map[string]any) { m["exp"] = now.Add(30 * 24 * time.Hour).Unix() }),
	mod("nbf 1 h ahead", nil, func(now time.Time, m map[string]any) { m["nbf"] = now.Add(time.Hour).Unix() }),
	mod("iat 1 h ahead", nil, func(now time.Time, m map[string]any) { m["iat"] = now.Add(time.Hour).Unix() }),
	mod("no iat (accepting it is allowed by RFC 7523)", nil, func(_ time.Time, m map[string]any) { delete(m, "iat") }),
	mod("aud is another server", nil, func(_ time.Time, m map[string]any) { m["aud"] = "https://other.example" }),
	mod(`aud ["issuer", "https://attacker.example"] (audience injection)`, nil, func(_ time.Time, m map[string]any) {
		m["aud"] = []string{Issuer, "https://attacker.example"}
	}),
	mod("sub differs from iss", nil, func(_ time.Time, m map[string]any) { m["sub"] = "someone-else" }),
	mod(`typ "at+jwt" (an access token, not a client assertion)`, map[string]any{"typ": "at+jwt"}, nil),
	mod("crit header with an unknown extension", map[string]any{"crit": []string{"x-unknown"}, "x-unknown": true}, nil),
	{"client_id in the form differs from the assertion", func(a Authenticator, c Client) string {
		f := Form(c.MintNew())
		f.Set("client_id", "someone-else")
		return outcome(refused(a, f))
	}},
	{"alg none", func(a Authenticator, c Client) string {
		return outcome(refused(a, Form(testkeys.SignRaw("none", nil,
			[]byte(`{"alg":"none","typ":"JWT","kid":"`+c.KID+`"}`), mustJSON(c.Claims(time.Now(), 5*time.Minute))))))
	}},
}

// checkAlg is the alg of the matrix: one that every implementation accepts.
const checkAlg = "ES256"

// wantOutcome is the observed matrix, per case and implementation (in the
// order of Implementations: pkjwt, zitadel, fosite). BENCHMARKS.md shows the
// same table; this test keeps the two in step with the libraries.
var wantOutcome = map[string][3]string{
	"a valid assertion (must be accepted)":        {acc, acc, acc},
	"the same assertion a second time (replay)":   {ref, acc, ref},
	"the same assertion in 8 concurrent requests": {"1 of 8 accepted", "8 of 8 accepted", "1 of 8 accepted"},
	"no jti":                                 {ref, acc, ref},
	"jti of 4 KiB":                           {ref, acc, acc},
	"no exp":                                 {ref, ref, ref},
	"exp 1 min ago (beyond every leeway)":    {ref, ref, ref},
	"exp 30 days ahead (lifetime unbounded)": {ref, acc, acc},
	"nbf 1 h ahead":                          {ref, acc, ref},
	"iat 1 h ahead":                          {ref, ref, ref},
	"no iat (accepting it is allowed by RFC 7523)":                    {acc, ref, acc},
	"aud is another server":                                           {ref, ref, ref},
	`aud ["issuer", "https://attacker.example"] (audience injection)`: {ref, acc, acc},
	"sub differs from iss":                                            {ref, ref, ref},
	`typ "at+jwt" (an access token, not a client assertion)`:          {ref, acc, acc},
	"crit header with an unknown extension":                           {ref, ref, ref},
	"client_id in the form differs from the assertion":                {ref, acc, ref},
	"alg none": {ref, ref, ref},
}

const (
	acc = "accepted"
	ref = "refused"
)

func TestCheckMatrix(t *testing.T) {
	c := clientFor(checkAlg)
	var b strings.Builder
	fmt.Fprintf(&b, "\n| %s assertion | %s |\n|---|%s\n", checkAlg, strings.Join(names(), " | "), strings.Repeat("---|", len(Implementations)))
	for _, cc := range checkCases {
		fmt.Fprintf(&b, "| %s |", cc.name)
		for i, im := range Implementations {
			a, err := im.New(benchClients)
			if err != nil {
				t.Fatal(err)
			}
			got := cc.run(a, c)
			a.Close()
			fmt.Fprintf(&b, " %s |", got)
			if want := wantOutcome[cc.name][i]; got != want {
				t.Errorf("%s: %s: %s, want %s", im.Name, cc.name, got, want)
			}
		}
		b.WriteString("\n")
	}
	t.Log(b.String())
}

func names() []string {
	var n []string
	for _, im := range Implementations {
		n = append(n, im.Name)
	}
	return n
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestAlgorithms checks the Algs of each implementation: a valid assertion
// of each alg is accepted exactly by the implementations that claim it (so
// that an empty cell in BENCHMARKS.md is a refusal, not an omission).
func TestAlgorithms(t *testing.T) {
	for _, alg := range Algs {
		f := Form(clientFor(alg).MintNew())
		for _, im := range Implementations {
			a, err := im.New(benchClients)
			if err != nil {
				t.Fatal(err)
			}
			_, err = a.Authenticate(context.Background(), f)
			a.Close()
			if got := err == nil; got != im.Supports(alg) {
				t.Errorf("%s %s: accepted = %v (%v), want %v", im.Name, alg, got, err, im.Supports(alg))
			} else if err != nil {
				t.Logf("%s refuses %s: %v", im.Name, alg, err)
			}
		}
	}
}
