package verify

import (
	"bytes"
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
	buf := make([]byte, len(s)+hLen+cLen+sLen)
	copy(buf, s)
	t.signing = buf[:last]
	out := buf[len(s):]
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
	if err := walkObject(hb, t.header.member); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	cb, err := decode(buf[first+1:last], cLen)
	if err != nil {
		return fmt.Errorf("claims: %w", err)
	}
	if err := walkObject(cb, t.claims.member); err != nil {
		return fmt.Errorf("claims: %w", err)
	}
	if t.sig, err = decode(buf[last+1:len(s)], sLen); err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	return nil
}

// checkSignature verifies t's signature with key under alg (check 22).
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

func (h *header) member(key, raw []byte) {
	switch string(memberName(key)) {
	case "alg":
		h.alg.decode(raw)
	case "kid":
		if string(raw) == "null" {
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

// walkObject checks that b is one valid JSON object whose member names are
// all distinct (after unescaping) and calls member for each member, with
// the quoted name and the raw value.
func walkObject(b []byte, member func(key, raw []byte)) error {
	if !json.Valid(b) {
		return errors.New("not valid JSON")
	}
	i := skipSpace(b, 0)
	if b[i] != '{' {
		return errors.New("not a JSON object")
	}
	var small [16][]byte
	names := small[:0]
	i = skipSpace(b, i+1)
	for b[i] != '}' {
		keyEnd := endOfString(b, i)
		key := b[i:keyEnd]
		names = append(names, memberName(key))
		i = skipSpace(b, skipSpace(b, keyEnd)+1) // past the colon
		valueEnd := endOfValue(b, i)
		member(key, b[i:valueEnd])
		i = skipSpace(b, valueEnd)
		if b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	if hasDuplicate(names) {
		return errDuplicate
	}
	return nil
}

// hasDuplicate reports whether names has two equal entries. It may sort
// names.
func hasDuplicate(names [][]byte) bool {
	if len(names) <= len([16][]byte{}) {
		for i, a := range names {
			for _, b := range names[:i] {
				if bytes.Equal(a, b) {
					return true
				}
			}
		}
		return false
	}
	slices.SortFunc(names, bytes.Compare)
	for i := 1; i < len(names); i++ {
		if bytes.Equal(names[i-1], names[i]) {
			return true
		}
	}
	return false
}

// memberName returns the name of a quoted member name as encoding/json
// decodes it (escapes resolved, invalid UTF-8 replaced), or the quoted name
// itself if it cannot be decoded (then it matches no member a Verifier
// reads, and no decoded name).
func memberName(key []byte) []byte {
	name := key[1 : len(key)-1]
	if bytes.IndexByte(name, '\\') >= 0 || !utf8.Valid(name) {
		var s string
		if json.Unmarshal(key, &s) != nil {
			return key
		}
		return []byte(s)
	}
	return name
}
