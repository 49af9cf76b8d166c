package verify

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/pkjwt/pkjwt/internal/jose"
)

// jws is a decoded compact JWS: what Verify and Explain look at of its
// header, its claims, and what the signature check needs.
type jws struct {
	header  header
	claims  claims
	signing []byte // header.payload, the signing input
	sig     []byte
}

// header holds the JOSE header members a Verifier looks at.
type header struct {
	alg, kid, typ jsonString
	crit          bool
}

var segment = base64.RawURLEncoding.Strict()

// parse decodes s, which passed checkSyntax (three base64url segments).
// Every error means a malformed token. One buffer holds the signing input
// and the three decoded segments.
func (t *jws) parse(s string) error {
	first := strings.IndexByte(s, '.')
	last := strings.LastIndexByte(s, '.')
	hLen := segment.DecodedLen(first)
	cLen := segment.DecodedLen(last - first - 1)
	sLen := segment.DecodedLen(len(s) - last - 1)
	buf := make([]byte, last+hLen+cLen+sLen)
	copy(buf, s[:last])
	t.signing = buf[:last]
	out := buf[last:]
	decode := func(src []byte, size int) ([]byte, error) {
		n, err := segment.Decode(out[:size], src)
		b := out[:n]
		out = out[size:]
		return b, err
	}
	hb, err := decode(buf[:first], hLen)
	if err != nil {
		return fmt.Errorf("header: %w", err)
	}
	cb, err := decode(buf[first+1:last], cLen)
	if err != nil {
		return fmt.Errorf("claims: %w", err)
	}
	// One string holds the decoded header and claims: the decoded values
	// are substrings of it.
	text := string(buf[last : last+hLen+len(cb)])
	if err := walkObject(text[:len(hb)], t.header.member); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	if err := walkObject(text[hLen:], t.claims.member); err != nil {
		return fmt.Errorf("claims: %w", err)
	}
	if t.sig, err = decode([]byte(s[last+1:]), sLen); err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	return nil
}

// checkSignature verifies t's signature with key under alg (check 5).
func (t *jws) checkSignature(alg *jose.Alg, key any) error {
	if err := alg.Verify(key, t.signing, t.sig); err != nil {
		return NewError(ErrSignature, err)
	}
	return nil
}

// alg returns the algorithm of the header's alg, or nil when it is
// missing, not a string or not one of the table of package jose (which
// has no "none").
func (t *jws) alg() *jose.Alg {
	if !t.header.alg.ok {
		return nil
	}
	return jose.Lookup(t.header.alg.v)
}

func (h *header) member(key, raw string) {
	switch memberName(key) {
	case "alg":
		h.alg.decode(raw)
	case "kid":
		if raw == "null" {
			h.kid = jsonString{}
			return
		}
		h.kid.decode(raw)
	case "typ":
		h.typ.decode(raw)
	case "crit":
		h.crit = true
	}
}

// errDuplicate is the cause of refusing a header or claims set that has
// a member name twice (RFC 7515 §5.2 and RFC 7519 §4 allow refusing it;
// parsers that keep the first and parsers that keep the last would read
// different tokens).
var errDuplicate = errors.New("duplicate member name")

// walkObject checks that text is one valid JSON object (RFC 8259, as
// encoding/json's Valid judges it) whose member names are all distinct (as
// encoding/json decodes them), and calls member for each member with the
// quoted name and the raw value, both substrings of text: decoded values
// need no copies. It checks and walks in one pass.
func walkObject(text string, member func(key, raw string)) error {
	i := skipSpace(text, 0)
	if i == len(text) || text[i] != '{' {
		return errNotObject
	}
	var small [16]string
	names := small[:0]
	i = skipSpace(text, i+1)
	if i < len(text) && text[i] == '}' {
		i++
	} else {
		for {
			if i == len(text) || text[i] != '"' {
				return errNotJSON
			}
			keyEnd, ok := validString(text, i)
			if !ok {
				return errNotJSON
			}
			key := text[i:keyEnd]
			i = skipSpace(text, keyEnd)
			if i == len(text) || text[i] != ':' {
				return errNotJSON
			}
			i = skipSpace(text, i+1)
			valueEnd, ok := validValue(text, i, 1)
			if !ok {
				return errNotJSON
			}
			names = append(names, memberName(key))
			member(key, text[i:valueEnd])
			i = skipSpace(text, valueEnd)
			if i == len(text) {
				return errNotJSON
			}
			if text[i] == '}' {
				i++
				break
			}
			if text[i] != ',' {
				return errNotJSON
			}
			i = skipSpace(text, i+1)
		}
	}
	if skipSpace(text, i) != len(text) {
		return errNotJSON
	}
	if hasDuplicate(names) {
		return errDuplicate
	}
	return nil
}

var (
	errNotJSON   = errors.New("not valid JSON")
	errNotObject = errors.New("not a JSON object")
)

// maxDepth is encoding/json's limit on nesting.
const maxDepth = 10000

// validValue returns the index just past the JSON value that starts at i,
// nested depth deep, and whether there is a valid one.
func validValue(s string, i, depth int) (int, bool) {
	if i >= len(s) || depth > maxDepth {
		return i, false
	}
	switch c := s[i]; {
	case c == '"':
		return validString(s, i)
	case c == '{' || c == '[':
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		i = skipSpace(s, i+1)
		if i < len(s) && s[i] == end {
			return i + 1, true
		}
		for {
			if c == '{' {
				if i >= len(s) || s[i] != '"' {
					return i, false
				}
				var ok bool
				if i, ok = validString(s, i); !ok {
					return i, false
				}
				if i = skipSpace(s, i); i >= len(s) || s[i] != ':' {
					return i, false
				}
				i = skipSpace(s, i+1)
			}
			var ok bool
			if i, ok = validValue(s, i, depth+1); !ok {
				return i, false
			}
			switch i = skipSpace(s, i); {
			case i >= len(s):
				return i, false
			case s[i] == end:
				return i + 1, true
			case s[i] != ',':
				return i, false
			}
			i = skipSpace(s, i+1)
		}
	case c == 't':
		return i + 4, strings.HasPrefix(s[i:], "true")
	case c == 'f':
		return i + 5, strings.HasPrefix(s[i:], "false")
	case c == 'n':
		return i + 4, strings.HasPrefix(s[i:], "null")
	case c == '-' || '0' <= c && c <= '9':
		return validNumber(s, i)
	}
	return i, false
}

// validString returns the index just past the JSON string that starts at
// i (a quote), and whether it is valid: no control characters, only the
// escapes of RFC 8259 §7. Like encoding/json, it accepts any other byte.
func validString(s string, i int) (int, bool) {
	for i++; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			if i++; i >= len(s) {
				return i, false
			}
			switch s[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(s) {
					return i, false
				}
				for j := i + 1; j <= i+4; j++ {
					if h := s[j]; !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return j, false
					}
				}
				i += 4
			default:
				return i, false
			}
		}
	}
	return i, false
}

// validNumber returns the index just past the JSON number that starts at
// i, and whether it is valid (RFC 8259 §6).
func validNumber(s string, i int) (int, bool) {
	digits := func() bool {
		start := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		return i > start
	}
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case !digits():
		return i, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return i, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return i, false
		}
	}
	return i, true
}

// hasDuplicate reports whether names has two equal entries. It may sort
// names.
func hasDuplicate(names []string) bool {
	if len(names) <= 16 {
		for i, a := range names {
			if slices.Contains(names[:i], a) {
				return true
			}
		}
		return false
	}
	slices.Sort(names)
	for i := 1; i < len(names); i++ {
		if names[i-1] == names[i] {
			return true
		}
	}
	return false
}

// memberName returns the name of a quoted member name as encoding/json
// decodes it (escapes resolved, invalid UTF-8 replaced), or the quoted name
// itself if it cannot be decoded (then it matches no member a Verifier
// reads, and no decoded name).
func memberName(key string) string {
	name := key[1 : len(key)-1]
	if strings.IndexByte(name, '\\') >= 0 || !utf8.ValidString(name) {
		var s string
		if json.Unmarshal([]byte(key), &s) != nil {
			return key
		}
		return s
	}
	return name
}
