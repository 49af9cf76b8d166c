package verify

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// jws is a decoded compact JWS: what Verify and Explain look at of its
// header, its claims, and what the signature check needs.
type jws struct {
	header  header
	claims  claims
	signing string // header.payload, the signing input
	sig     []byte
}

// header holds the JOSE header members a Verifier looks at.
type header struct {
	alg, kid, typ stringClaim
	crit          bool
}

var segment = base64.RawURLEncoding.Strict()

// parse decodes s, which passed checkSyntax (three base64url segments).
// Every error means a malformed token.
func (t *jws) parse(s string) error {
	first := strings.IndexByte(s, '.')
	last := strings.LastIndexByte(s, '.')
	t.signing = s[:last]
	hb, err := segment.DecodeString(s[:first])
	if err != nil {
		return fmt.Errorf("header: %w", err)
	}
	if err := walkObject(hb, t.header.member); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	cb, err := segment.DecodeString(s[first+1 : last])
	if err != nil {
		return fmt.Errorf("claims: %w", err)
	}
	if err := walkObject(cb, t.claims.member); err != nil {
		return fmt.Errorf("claims: %w", err)
	}
	if t.sig, err = segment.DecodeString(s[last+1:]); err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	return nil
}

// checkSignature verifies t's signature with key under method (RULES 5).
func (t *jws) checkSignature(method jwt.SigningMethod, key any) error {
	if err := method.Verify(t.signing, t.sig, key); err != nil {
		return NewError(ErrSignature, fmt.Errorf("%w: %w", jwt.ErrTokenSignatureInvalid, err))
	}
	return nil
}

// method returns the signing method of the header's alg, or nil when it
// is missing, not a string or unknown.
func (t *jws) method() jwt.SigningMethod {
	if !t.header.alg.ok {
		return nil
	}
	return jwt.GetSigningMethod(t.header.alg.v)
}

func (h *header) member(key, raw []byte) {
	switch string(memberName(key)) {
	case "alg":
		h.alg.decode(raw)
	case "kid":
		if string(raw) == "null" {
			h.kid = stringClaim{}
			return
		}
		h.kid.decode(raw)
	case "typ":
		h.typ.decode(raw)
	case "crit":
		h.crit = true
	}
}

// walkObject checks that b is one valid JSON object and calls member for
// each of its members, with the quoted name and the raw value.
func walkObject(b []byte, member func(key, raw []byte)) error {
	if !json.Valid(b) {
		return errors.New("not valid JSON")
	}
	i := skipSpace(b, 0)
	if b[i] != '{' {
		return errors.New("not a JSON object")
	}
	i = skipSpace(b, i+1)
	for b[i] != '}' {
		keyEnd := endOfString(b, i)
		key := b[i:keyEnd]
		i = skipSpace(b, skipSpace(b, keyEnd)+1) // past the colon
		valueEnd := endOfValue(b, i)
		member(key, b[i:valueEnd])
		i = skipSpace(b, valueEnd)
		if b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return nil
}

// memberName returns the unescaped name of a quoted member name, or nil if
// it cannot be unescaped.
func memberName(key []byte) []byte {
	name := key[1 : len(key)-1]
	if bytes.IndexByte(name, '\\') >= 0 {
		var s string
		if json.Unmarshal(key, &s) != nil {
			return nil
		}
		return []byte(s)
	}
	return name
}
