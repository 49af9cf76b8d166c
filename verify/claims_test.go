package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"testing"
	"time"
)

// referenceDuplicate reports whether the JSON object b has a member name
// twice, as encoding/json decodes names.
func referenceDuplicate(b []byte) bool {
	d := json.NewDecoder(bytes.NewReader(b))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	seen := map[string]bool{}
	for d.More() {
		tok, err := d.Token()
		name, ok := tok.(string)
		if err != nil || !ok {
			return false
		}
		if seen[name] {
			return true
		}
		seen[name] = true
		var skip json.RawMessage
		if d.Decode(&skip) != nil {
			return false
		}
	}
	return false
}

// referenceClaims decodes b the slow, obvious way: a map of exact member
// names, refused if a name appears twice, then each member on its own.
func referenceClaims(b []byte) (claims, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil || m == nil || referenceDuplicate(b) {
		return claims{}, false
	}
	var c claims
	str := func(raw json.RawMessage) jsonString {
		s := jsonString{set: true}
		s.ok = raw[0] == '"' && json.Unmarshal(raw, &s.v) == nil
		if !s.ok {
			s.v = ""
		}
		return s
	}
	date := func(raw json.RawMessage) numericDate {
		d := numericDate{set: true}
		var f float64
		if (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') && json.Unmarshal(raw, &f) == nil {
			f = max(-maxDate, min(f, maxDate))
			sec, frac := math.Modf(f)
			d.t, d.ok = time.Unix(int64(sec), int64(frac*1e9)), true
		}
		return d
	}
	for name, raw := range m {
		switch name {
		case "iss":
			c.iss = str(raw)
		case "sub":
			c.sub = str(raw)
		case "jti":
			c.jti = str(raw)
		case "exp":
			c.exp = date(raw)
		case "nbf":
			c.nbf = date(raw)
		case "iat":
			c.iat = date(raw)
		case "aud":
			c.aud = audience{set: true}
			switch raw[0] {
			case '"':
				if s := str(raw); s.ok {
					c.aud.ok, c.aud.values = true, []string{s.v}
				}
			case '[':
				c.aud.array = true
				var elems []json.RawMessage
				json.Unmarshal(raw, &elems)
				c.aud.ok = true
				for _, e := range elems {
					s := str(e)
					if !s.ok {
						c.aud.ok, c.aud.values = false, nil
						break
					}
					c.aud.values = append(c.aud.values, s.v)
				}
			}
		}
	}
	return c, true
}

func equalClaims(a, b claims) bool {
	sameStr := func(x, y jsonString) bool { return x.set == y.set && x.ok == y.ok && (!x.ok || x.v == y.v) }
	sameDate := func(x, y numericDate) bool { return x.set == y.set && x.ok == y.ok && x.t.Equal(y.t) }
	return sameStr(a.iss, b.iss) && sameStr(a.sub, b.sub) && sameStr(a.jti, b.jti) &&
		sameDate(a.exp, b.exp) && sameDate(a.nbf, b.nbf) && sameDate(a.iat, b.iat) &&
		a.aud.set == b.aud.set && a.aud.ok == b.aud.ok && a.aud.array == b.aud.array &&
		(!a.aud.ok || slices.Equal(a.aud.values, b.aud.values))
}

// FuzzClaimsDecode checks the one-pass claims walk against the reference
// decoder.
func FuzzClaimsDecode(f *testing.F) {
	for _, s := range []string{
		`{"iss":"c1","sub":"c1","aud":"https://as","exp":1800000000,"iat":1.5e9,"jti":"x"}`,
		`{"iss":"a","iss":"b","ISS":"c","aud":["x","y"],"aud":["z"],"exp":"1"}`,
		` { "iss" : "\u0063\n1" , "s\u0075b":"c1", "aud":[ "a" , 1 ], "nbf":-1e400, "x":{"iss":"no","a":[{"]":"["}]} } `,
		`{"jti":"\xff","aud":[null],"exp":null,"iat":true,"nbf":[1]}`,
		`{}`, `[]`, `"x"`, `{"a":}`, `{"iss":"a"`, `{"exp":1e308,"iat":-0,"nbf":123456789012345678901234567890}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var got claims
		gotOK := walkObject(string(b), got.member) == nil
		want, wantOK := referenceClaims(b)
		if gotOK != wantOK {
			t.Fatalf("decoded %v, reference %v", gotOK, wantOK)
		}
		if gotOK && !equalClaims(got, want) {
			t.Fatalf("got %+v\nwant %+v", got, want)
		}
	})
}

// FuzzHeaderDecode checks the header walk against encoding/json's decoding
// into a map, which is what golang-jwt's parser did before.
func FuzzHeaderDecode(f *testing.F) {
	for _, s := range []string{
		`{"alg":"RS256","kid":"k1","typ":"JWT"}`,
		`{"alg":"none","crit":["b64"],"b64":false}`,
		`{"alg":1,"kid":null,"typ":null,"crit":null}`,
		`{"ALG":"RS256","alg":"ES256","alg":"EdDSA","k\u0069d":"x"}`,
		`{"jwk":{"kty":"RSA","alg":"HS256"},"x5c":["a"]}`, `[]`, `{`, `{"kid":[1]}`,
		`{"a":[1,{"b":-0.5e+7,"c":[[],{}]}],"d":"\u00e9\n\/","e":true,"f":false,"g":null}`,
		`{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":1e}`, `{"a":"` + "\x01" + `"}`, `{"a":"\x"}`, `{"a":"\u12g4"}`,
		`{"a":tru}`, `{"a":nul}`, `{"a":1,}`, `{,}`, `{"a":1} x`, `{"a":1}}`, `{"a" 1}`, `{"a":[1 2]}`,
		`{"a":"\ud800"}`, "{\"a\xff\":1}", ` {"a" : [ ] , "b" : { } } `, `{"a":"\u0022"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var h header
		err := walkObject(string(b), h.member)
		var m map[string]any
		refErr := json.Unmarshal(b, &m)
		if refErr == nil && m == nil {
			refErr = errors.New("null")
		}
		if refErr == nil && referenceDuplicate(b) {
			refErr = errors.New("duplicate")
		}
		if (err == nil) != (refErr == nil) {
			t.Fatalf("walk error %v, reference %v", err, refErr)
		}
		if err != nil {
			return
		}
		alg, algOK := m["alg"].(string)
		kid, kidOK := m["kid"].(string)
		typ, typSet := m["typ"]
		typStr, _ := typ.(string)
		_, crit := m["crit"]
		switch {
		case h.alg.ok != algOK || h.alg.ok && h.alg.v != alg:
			t.Fatalf("alg %+v, reference %q %v", h.alg, alg, algOK)
		case h.kid.ok != kidOK || h.kid.ok && h.kid.v != kid:
			t.Fatalf("kid %+v, reference %q %v", h.kid, kid, kidOK)
		case h.kid.set && !h.kid.ok && m["kid"] == nil:
			t.Fatalf("kid null is not absent: %+v", h.kid)
		case h.typ.set != typSet || h.typ.v != typStr:
			t.Fatalf("typ %+v, reference %v", h.typ, typ)
		case h.crit != crit:
			t.Fatalf("crit %v, reference %v", h.crit, crit)
		}
	})
}
