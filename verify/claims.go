package verify

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// claims holds the registered claims of an assertion. Member names are
// matched exactly (encoding/json alone would also match "ISS" or "Exp"),
// and values of the wrong JSON type are recorded rather than failing the
// decode, so that each check can report its own reason.
type claims struct {
	iss, sub, jti jsonString
	aud           audience
	exp, nbf, iat numericDate
}

// jsonString is a member that must be a JSON string: set when present, ok
// when it is a string, v its value.
type jsonString struct {
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

// member decodes the value raw of the member whose quoted name is key.
// Names are compared exactly, after unescaping; walkObject refuses a
// claims set with a name twice (check 4).
func (c *claims) member(key, raw string) {
	switch string(memberName(key)) {
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

func skipSpace(b string, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// endOfString returns the index just past the JSON string starting at i.
func endOfString(b string, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// endOfValue returns the index just past the JSON value starting at i.
func endOfValue(b string, i int) int {
	switch b[i] {
	case '"':
		return endOfString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = endOfString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	return i
}

func (s *jsonString) decode(raw string) {
	*s = jsonString{set: true}
	s.ok = len(raw) >= 2 && raw[0] == '"'
	if !s.ok {
		return
	}
	if inner := raw[1 : len(raw)-1]; strings.IndexByte(inner, '\\') < 0 && utf8.ValidString(inner) {
		s.v = inner
		return
	}
	s.ok = json.Unmarshal([]byte(raw), &s.v) == nil
}

func (a *audience) decode(raw string) {
	*a = audience{set: true}
	switch {
	case len(raw) > 0 && raw[0] == '"':
		var s jsonString
		if s.decode(raw); s.ok {
			a.values, a.ok = []string{s.v}, true
		}
	case len(raw) > 0 && raw[0] == '[':
		a.array = true
		// raw is a valid JSON array: walk its elements, each a string.
		for i := skipSpace(raw, 1); raw[i] != ']'; {
			end := endOfValue(raw, i)
			var s jsonString
			if s.decode(raw[i:end]); !s.ok {
				a.values = nil
				return
			}
			a.values = append(a.values, s.v)
			if i = skipSpace(raw, end); raw[i] == ',' {
				i = skipSpace(raw, i+1)
			}
		}
		a.ok = true
	}
}

// maxDate bounds decoded NumericDates, in seconds, to keep time.Time
// arithmetic away from overflow: year 2^34 s ~ 2514, far beyond any
// accepted exp.
const maxDate = 1 << 34

func (d *numericDate) decode(raw string) {
	*d = numericDate{set: true}
	if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		return
	}
	// raw is a JSON number, which ParseFloat accepts; out of float64's range
	// it is refused, as encoding/json does.
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsNaN(f) {
		return
	}
	f = max(-maxDate, min(f, maxDate))
	sec, frac := math.Modf(f)
	d.t, d.ok = time.Unix(int64(sec), int64(frac*1e9)), true
}
