package verify

import (
	"encoding/json"
	"math"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// claims holds the registered claims of an assertion. Member names are
// matched exactly (encoding/json alone would also match "ISS" or "Exp"),
// and values of the wrong JSON type are recorded rather than failing the
// decode, so that each check can report its own reason.
type claims struct {
	iss, sub, jti stringClaim
	aud           audience
	exp, nbf, iat numericDate
}

type stringClaim struct {
	set, ok bool
	v       string
}

type numericDate struct {
	set, ok bool
	t       time.Time
}

type audience struct {
	set, ok, array bool
	values         []string
}

func (c *claims) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	for name, raw := range m {
		switch name {
		case "iss":
			c.iss.decode(raw)
		case "sub":
			c.sub.decode(raw)
		case "jti":
			c.jti.decode(raw)
		case "aud":
			c.aud.decode(raw)
		case "exp":
			c.exp.decode(raw)
		case "nbf":
			c.nbf.decode(raw)
		case "iat":
			c.iat.decode(raw)
		}
	}
	return nil
}

func (s *stringClaim) decode(raw json.RawMessage) {
	s.set = true
	s.ok = len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s.v) == nil
}

func (a *audience) decode(raw json.RawMessage) {
	a.set = true
	switch {
	case len(raw) > 0 && raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			a.values, a.ok = []string{s}, true
		}
	case len(raw) > 0 && raw[0] == '[':
		a.array = true
		var vs []json.RawMessage
		if json.Unmarshal(raw, &vs) != nil {
			return
		}
		a.values = make([]string, len(vs))
		for i, v := range vs {
			var s stringClaim
			if s.decode(v); !s.ok {
				return
			}
			a.values[i] = s.v
		}
		a.ok = true
	}
}

// maxDate bounds decoded NumericDates, in seconds, to keep time.Time
// arithmetic away from overflow: year 2^34 s ~ 2514, far beyond any
// accepted exp.
const maxDate = 1 << 34

func (d *numericDate) decode(raw json.RawMessage) {
	d.set = true
	if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		return
	}
	var f float64
	if json.Unmarshal(raw, &f) != nil || math.IsNaN(f) {
		return
	}
	f = max(-maxDate, min(f, maxDate))
	sec, frac := math.Modf(f)
	d.t, d.ok = time.Unix(int64(sec), int64(frac*1e9)), true
}

// claims implements jwt.Claims for jwt.Parser; the parser's own validation
// is off (the Verifier checks claims itself, with exact reasons), so these
// are never consulted.
func (c *claims) GetExpirationTime() (*jwt.NumericDate, error) { return nil, nil }
func (c *claims) GetIssuedAt() (*jwt.NumericDate, error)       { return nil, nil }
func (c *claims) GetNotBefore() (*jwt.NumericDate, error)      { return nil, nil }
func (c *claims) GetIssuer() (string, error)                   { return "", nil }
func (c *claims) GetSubject() (string, error)                  { return "", nil }
func (c *claims) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }
