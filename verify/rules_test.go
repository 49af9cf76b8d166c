package verify_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/verify"
)

// mint returns an assertion of client signed with the named key under alg,
// with extra header members hdr and the claims changed by mod.
func mint(key, alg string, hdr map[string]any, client string, mod func(c map[string]any)) string {
	c := claimsFor(client)
	if mod != nil {
		mod(c)
	}
	return testkeys.Sign(alg, testkeys.Signer(key), hdr, c)
}

// set returns a claims modifier that sets (or, with nil, deletes) name.
func set(name string, v any) func(map[string]any) {
	return func(c map[string]any) {
		if v == nil {
			delete(c, name)
		} else {
			c[name] = v
		}
	}
}

func claimsJSON(client string) []byte {
	b, err := json.Marshal(claimsFor(client))
	if err != nil {
		panic(err)
	}
	return b
}

// withMember returns the claims JSON object b with a first member name
// set to the string value: a duplicate if b has name already.
func withMember(b []byte, name, value string) string {
	m, err := json.Marshal(map[string]string{name: value})
	if err != nil {
		panic(err)
	}
	return string(m[:len(m)-1]) + "," + string(b[1:])
}

func at(d time.Duration) int64 { return now.Add(d).Unix() }

var r1 = map[string]any{"kid": "r1"}

// rawToken signs the given header and claims JSON exactly, with the rsa
// client's key.
func rawToken(header, claims string) string {
	return testkeys.SignRaw("RS256", testkeys.Signer(testkeys.RSA2048), []byte(header), []byte(claims))
}

func publicKeyPEM(name string) []byte {
	der, err := x509.MarshalPKIXPublicKey(testkeys.Public(name))
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// flipUnusedBits changes the last character of seg so that only bits that
// base64 decoding drops differ: a non-canonical encoding of the same bytes.
func flipUnusedBits(seg string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(seg)%4 == 0 {
		panic("segment has no unused bits")
	}
	last := strings.IndexByte(alphabet, seg[len(seg)-1])
	return seg[:len(seg)-1] + string(alphabet[last^1])
}

type ruleCase struct {
	name string
	cfg  *verify.Config
	req  verify.Request
	want error // nil: accepted
}

// ruleCases returns cases for every check of the package documentation
// (named "N/..." after its number) and for accepted edge cases ("ok/...").
// Each rejected case names the exact sentinel that must fail.
func ruleCases() []ruleCase {
	good := func() string { return mint(testkeys.RSA2048, "RS256", r1, "rsa", nil) }
	goodHeader, goodRest, _ := strings.Cut(good(), ".")
	legacy := &verify.Config{Audience: verify.AudienceLegacy, Endpoints: []string{tokenEndpoint}}
	strict := &verify.Config{Audience: verify.AudienceStrict}
	hs := &verify.Config{AllowClientSecretJWT: true}
	withID := func(a, id string) verify.Request { r := req(a); r.ClientID = id; return r }
	withOther := func(a, other string) verify.Request { r := req(a); r.OtherAuthentication = other; return r }
	hsToken := func(alg string, key []byte, client string, mod func(map[string]any)) string {
		c := claimsFor(client)
		if mod != nil {
			mod(c)
		}
		return testkeys.Sign(alg, key, nil, c)
	}

	return []ruleCase{
		// Accepted: every algorithm and key type.
		{name: "ok/RS256", req: req(good())},
		{name: "ok/RS384", req: req(mint(testkeys.RSA2048, "RS384", r1, "rsa", nil))},
		{name: "ok/RS512", req: req(mint(testkeys.RSA2048, "RS512", r1, "rsa", nil))},
		{name: "ok/PS256", req: req(mint(testkeys.RSA2048, "PS256", r1, "rsa", nil))},
		{name: "ok/PS384", req: req(mint(testkeys.RSA2048, "PS384", r1, "rsa", nil))},
		{name: "ok/PS512", req: req(mint(testkeys.RSA2048, "PS512", r1, "rsa", nil))},
		{name: "ok/ES256", req: req(mint(testkeys.P256, "ES256", map[string]any{"kid": "e1"}, "ec", nil))},
		{name: "ok/ES384", req: req(mint(testkeys.P384, "ES384", map[string]any{"kid": "e1"}, "p384", nil))},
		{name: "ok/ES512 without kid", req: req(mint(testkeys.P521, "ES512", nil, "p521", nil))},
		{name: "ok/EdDSA without kid", req: req(mint(testkeys.Ed25519, "EdDSA", nil, "ed", nil))},
		{name: "ok/Ed25519 (RFC 9864)", req: req(mint(testkeys.Ed25519, "Ed25519", nil, "ed", nil))},
		{name: "ok/no kid, exactly one key", req: req(mint(testkeys.RSA2048, "RS256", nil, "nokid", nil))},
		{name: "ok/no kid, one of several keys fits alg", req: req(mint(testkeys.P256, "ES256", nil, "multi", nil))},
		{name: "ok/key alg matches", req: req(mint(testkeys.RSA2048, "RS384", map[string]any{"kid": "k1"}, "keyalg", nil))},
		{name: "ok/pinned alg", req: req(mint(testkeys.RSA2048, "PS256", map[string]any{"kid": "p1"}, "pinned", nil))},
		{name: "ok/client_id matches", req: withID(good(), "rsa")},

		// Check 1-3: request shape.
		{name: "1/no credentials", req: verify.Request{}, want: verify.ErrNoCredentials},
		{name: "3/only another method", req: verify.Request{OtherAuthentication: "client_secret_basic"}, want: verify.ErrNoCredentials},
		{name: "1/type missing", req: verify.Request{Assertion: good()}, want: verify.ErrMissingParameter},
		{name: "1/assertion missing", req: verify.Request{AssertionType: verify.AssertionType}, want: verify.ErrMissingParameter},
		{name: "1/saml2 type", req: verify.Request{AssertionType: "urn:ietf:params:oauth:client-assertion-type:saml2-bearer", Assertion: good()}, want: verify.ErrAssertionType},
		{name: "1/type in upper case", req: verify.Request{AssertionType: strings.ToUpper(verify.AssertionType), Assertion: good()}, want: verify.ErrAssertionType},
		{name: "1/type with trailing space", req: verify.Request{AssertionType: verify.AssertionType + " ", Assertion: good()}, want: verify.ErrAssertionType},
		{name: "2/client_id names another client", req: withID(good(), "ec"), want: verify.ErrClientIDMismatch},
		{name: "2/client_id differs in case", req: withID(good(), "RSA"), want: verify.ErrClientIDMismatch},
		{name: "3/assertion and client_secret_basic", req: withOther(good(), "client_secret_basic"), want: verify.ErrMultipleMethods},
		{name: "3/assertion and client_secret_post", req: withOther(good(), "client_secret_post"), want: verify.ErrMultipleMethods},

		// Check 4: compact serialization only.
		{name: "4/two segments", req: req(goodHeader + "." + strings.Split(goodRest, ".")[0]), want: verify.ErrMalformed},
		{name: "4/four segments", req: req(good() + ".e30"), want: verify.ErrMalformed},
		{name: "4/JWE, five segments", req: req("eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"), want: verify.ErrMalformed},
		{name: "4/newline inside", req: req(goodHeader + "\n." + goodRest), want: verify.ErrMalformed},
		{name: "4/padding", req: req(goodHeader + "=." + goodRest), want: verify.ErrMalformed},
		{name: "4/standard base64 alphabet", req: req(strings.NewReplacer("-", "+", "_", "/").Replace(good()) + "+/"), want: verify.ErrMalformed},
		{name: "4/JSON serialization", req: req(`{"payload":"e30","signatures":[]}`), want: verify.ErrMalformed},
		{name: "4/too long", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("pad", strings.Repeat("x", 17<<10)))), want: verify.ErrMalformed},
		{name: "4/header not JSON", req: req(rawToken(`{"alg":"RS256"`, `{}`)), want: verify.ErrMalformed},
		{name: "4/claims not an object", req: req(rawToken(`{"alg":"RS256","kid":"r1"}`, `["rsa"]`)), want: verify.ErrMalformed},
		{name: "4/non-canonical base64", req: req(flipUnusedBits(goodHeader) + "." + goodRest), want: verify.ErrMalformed},
		{name: "4/alg twice in the header", req: req(rawToken(`{"alg":"RS256","kid":"r1","alg":"RS256"}`, string(claimsJSON("rsa")))), want: verify.ErrMalformed},
		{name: "4/kid twice, once escaped", req: req(rawToken(`{"alg":"RS256","kid":"r1","k\u0069d":"r2"}`, string(claimsJSON("rsa")))), want: verify.ErrMalformed},
		{name: "4/iss twice, another client's last", req: req(rawToken(`{"alg":"RS256","kid":"r1"}`, withMember(claimsJSON("rsa"), "iss", "ec"))), want: verify.ErrMalformed},
		{name: "4/iss twice, this client's last", req: req(rawToken(`{"alg":"RS256","kid":"r1"}`, withMember(claimsJSON("ec"), "iss", "rsa"))), want: verify.ErrMalformed},
		{name: "4/aud twice", req: req(rawToken(`{"alg":"RS256","kid":"r1"}`, withMember(claimsJSON("rsa"), "aud", tokenEndpoint))), want: verify.ErrMalformed},
		{name: "4/an unknown claim twice", req: req(rawToken(`{"alg":"RS256","kid":"r1"}`, withMember([]byte(withMember(claimsJSON("rsa"), "scope", "a")), "scope", "b"))), want: verify.ErrMalformed},
		{name: "ok/names that differ in case are distinct", req: req(rawToken(`{"alg":"RS256","kid":"r1","ALG":"none"}`, withMember(claimsJSON("rsa"), "ISS", "ec")))},
		{name: "4/crit with an extension", req: req(mint(testkeys.RSA2048, "RS256", map[string]any{"kid": "r1", "crit": []string{"exp"}, "exp": 1}, "rsa", nil)), want: verify.ErrCritical},
		{name: "4/crit b64", req: req(mint(testkeys.RSA2048, "RS256", map[string]any{"kid": "r1", "crit": []string{"b64"}, "b64": false}, "rsa", nil)), want: verify.ErrCritical},
		{name: "4/crit empty", req: req(mint(testkeys.RSA2048, "RS256", map[string]any{"kid": "r1", "crit": []string{}}, "rsa", nil)), want: verify.ErrCritical},

		// Check 5: keys only from the client's registration.
		{name: "5/another client's key", req: req(mint(testkeys.RSA2048Alt, "RS256", r1, "rsa", nil)), want: verify.ErrSignature},
		{name: "5/key embedded as jwk", req: req(mint(testkeys.RSA2048Alt, "RS256", map[string]any{"kid": "r1", "jwk": testkeys.JWK(testkeys.Signer(testkeys.RSA2048Alt), "r1", "RS256", "sig")}, "rsa", nil)), want: verify.ErrSignature},
		{name: "5/key behind jku", req: req(mint(testkeys.RSA2048Alt, "RS256", map[string]any{"kid": "r1", "jku": "https://attacker.example/jwks"}, "rsa", nil)), want: verify.ErrSignature},
		{name: "5/key behind x5u", req: req(mint(testkeys.RSA2048Alt, "RS256", map[string]any{"kid": "r1", "x5u": "https://attacker.example/cert"}, "rsa", nil)), want: verify.ErrSignature},
		{name: "5/other client's token, iss changed", req: req(mint(testkeys.RSA2048Alt, "RS256", r1, "rsa", nil)), want: verify.ErrSignature},
		{name: "5/signed by rsa2's key claiming rsa", req: req(mint(testkeys.RSA2048Alt, "RS256", r1, "rsa", nil)), want: verify.ErrSignature},
		{name: "5/truncated signature", req: req(good()[:len(good())-10]), want: verify.ErrSignature},
		{name: "5/signature of another token", req: req(goodHeader + "." + strings.Split(goodRest, ".")[0] + "." + strings.Split(good(), ".")[2]), want: verify.ErrSignature},
		{name: "5/PS256 header over an RS256 signature", req: req(func() string {
			t := mint(testkeys.RSA2048, "PS256", r1, "rsa", nil)
			o := testkeys.SignRaw("RS256", testkeys.Signer(testkeys.RSA2048), []byte(`{"alg":"PS256","kid":"r1"}`), []byte(`{}`))
			return t[:strings.LastIndexByte(t, '.')] + o[strings.LastIndexByte(o, '.'):]
		}()), want: verify.ErrSignature},
		{name: "5/empty signature", req: req(good()[:strings.LastIndexByte(good(), '.')+1]), want: verify.ErrSignature},

		// Check 6: alg allow-list.
		{name: "6/alg none", req: req(testkeys.SignRaw("none", nil, []byte(`{"alg":"none","kid":"r1"}`), []byte(`{"iss":"rsa","sub":"rsa"}`))), want: verify.ErrAlgorithm},
		{name: "6/alg None", req: req(testkeys.SignRaw("none", nil, []byte(`{"alg":"None"}`), []byte(`{"iss":"rsa","sub":"rsa"}`))), want: verify.ErrAlgorithm},
		{name: "6/alg NONE", req: req(testkeys.SignRaw("none", nil, []byte(`{"alg":"NONE"}`), []byte(`{"iss":"rsa","sub":"rsa"}`))), want: verify.ErrAlgorithm},
		{name: "6/alg noNE", req: req(testkeys.SignRaw("none", nil, []byte(`{"alg":"noNE"}`), []byte(`{"iss":"rsa","sub":"rsa"}`))), want: verify.ErrAlgorithm},
		{name: "6/alg nOnE with a signature", req: req(rawToken(`{"alg":"nOnE","kid":"r1"}`, `{"iss":"rsa","sub":"rsa"}`)), want: verify.ErrAlgorithm},
		{name: "6/alg missing", req: req(rawToken(`{"kid":"r1"}`, `{"iss":"rsa","sub":"rsa"}`)), want: verify.ErrAlgorithm},
		{name: "6/alg not a string", req: req(rawToken(`{"alg":256,"kid":"r1"}`, `{"iss":"rsa","sub":"rsa"}`)), want: verify.ErrAlgorithm},
		{name: "6/alg rs256 in lower case", req: req(rawToken(`{"alg":"rs256","kid":"r1"}`, `{"iss":"rsa","sub":"rsa"}`)), want: verify.ErrAlgorithm},
		{name: "6/HS256 keyed with the RSA public key PEM", req: req(hsToken("HS256", publicKeyPEM(testkeys.RSA2048), "rsa", nil)), want: verify.ErrAlgorithm},
		{name: "6/HS256 keyed with the EC public key PEM", req: req(hsToken("HS256", publicKeyPEM(testkeys.P256), "ec", nil)), want: verify.ErrAlgorithm},
		{name: "6/HS256 from a private_key_jwt client, even with client_secret_jwt on", cfg: hs, req: req(hsToken("HS256", secret, "rsa", nil)), want: verify.ErrAlgorithm},
		{name: "6/HS512 with kid", req: req(testkeys.Sign("HS512", publicKeyPEM(testkeys.RSA2048), r1, claimsFor("rsa"))), want: verify.ErrAlgorithm},
		{name: "6/alg ed25519 in lower case", req: req(testkeys.SignRaw("Ed25519", testkeys.Signer(testkeys.Ed25519), []byte(`{"alg":"ed25519"}`), claimsJSON("ed"))), want: verify.ErrAlgorithm},
		{name: "6/alg Ed448", req: req(testkeys.SignRaw("Ed25519", testkeys.Signer(testkeys.Ed25519), []byte(`{"alg":"Ed448"}`), claimsJSON("ed"))), want: verify.ErrAlgorithm},
		{name: "6/Ed25519 outside an allow-list of EdDSA", cfg: &verify.Config{Algorithms: []string{"EdDSA"}}, req: req(mint(testkeys.Ed25519, "Ed25519", nil, "ed", nil)), want: verify.ErrAlgorithm},
		{name: "6/alg outside a FAPI allow-list", cfg: &verify.Config{Algorithms: verify.FAPIAlgorithms()}, req: req(good()), want: verify.ErrAlgorithm},
		{name: "6/not the client's registered alg", req: req(mint(testkeys.RSA2048, "RS256", map[string]any{"kid": "p1"}, "pinned", nil)), want: verify.ErrAlgorithm},

		// Check 7: the key must fit the alg.
		{name: "7/1024-bit RSA key", req: req(mint(testkeys.RSA1024, "RS256", map[string]any{"kid": "w1"}, "weak", nil)), want: verify.ErrKeyRejected},
		{name: "7/ES256 header, RSA key registered", req: req(mint(testkeys.P256, "ES256", r1, "rsa", nil)), want: verify.ErrKeyNotFound},
		{name: "7/ES256 header, P-384 key registered", req: req(testkeys.SignRaw("ES384", testkeys.Signer(testkeys.P384), []byte(`{"alg":"ES256","kid":"e1"}`), claimsJSON("p384"))), want: verify.ErrKeyNotFound},
		{name: "7/ES384 header, P-256 key registered", req: req(testkeys.SignRaw("ES256", testkeys.Signer(testkeys.P256), []byte(`{"alg":"ES384","kid":"e1"}`), claimsJSON("ec"))), want: verify.ErrKeyNotFound},
		{name: "7/EdDSA header, RSA key registered", req: req(mint(testkeys.Ed25519, "EdDSA", nil, "nokid", nil)), want: verify.ErrKeyNotFound},
		{name: "7/Ed25519 header, RSA key registered", req: req(mint(testkeys.Ed25519, "Ed25519", nil, "nokid", nil)), want: verify.ErrKeyNotFound},
		{name: "7/Ed25519 header, key registered for EdDSA only", req: req(mint(testkeys.Ed25519, "Ed25519", nil, "edpinned", nil)), want: verify.ErrKeyNotFound},
		{name: "ok/EdDSA header, key registered for EdDSA", req: req(mint(testkeys.Ed25519, "EdDSA", nil, "edpinned", nil))},
		{name: "5/Ed25519 signed by another Ed25519 key", req: req(mint(testkeys.Ed25519Alt, "Ed25519", nil, "ed", nil)), want: verify.ErrSignature},
		{name: "5/Ed25519 header over an ES256 signature", req: req(testkeys.SignRaw("ES256", testkeys.Signer(testkeys.P256), []byte(`{"alg":"Ed25519"}`), claimsJSON("ed"))), want: verify.ErrSignature},
		{name: "7/key registered for RS384 only", req: req(mint(testkeys.RSA2048, "RS256", map[string]any{"kid": "k1"}, "keyalg", nil)), want: verify.ErrKeyNotFound},

		// Check 8: kid.
		{name: "8/unknown kid", req: req(mint(testkeys.RSA2048, "RS256", map[string]any{"kid": "r2"}, "rsa", nil)), want: verify.ErrKeyNotFound},
		{name: "8/kid not a string", req: req(mint(testkeys.RSA2048, "RS256", map[string]any{"kid": 1}, "rsa", nil)), want: verify.ErrMalformed},
		{name: "8/no kid, several keys fit", req: req(mint(testkeys.RSA2048, "RS256", nil, "multi", nil)), want: verify.ErrKeyIDRequired},
		{name: "8/kid of one key, signed by another of the same client", req: req(mint(testkeys.RSA2048Alt, "RS256", map[string]any{"kid": "m1"}, "multi", nil)), want: verify.ErrSignature},

		// Check 9: typ.
		{name: "ok/typ missing", req: req(mint(testkeys.RSA2048, "RS256", map[string]any{"kid": "r1", "typ": nil}, "rsa", nil))},
		{name: "ok/typ jwt", req: req(mint(testkeys.RSA2048, "RS256", map[string]any{"kid": "r1", "typ": "jwt"}, "rsa", nil))},
		{name: "ok/typ client-authentication+jwt", req: req(mint(testkeys.RSA2048, "RS256", map[string]any{"kid": "r1", "typ": "client-authentication+jwt"}, "rsa", nil))},
		{name: "ok/typ application/Client-Authentication+JWT", req: req(mint(testkeys.RSA2048, "RS256", map[string]any{"kid": "r1", "typ": "application/Client-Authentication+JWT"}, "rsa", nil))},
		{name: "9/typ dpop+jwt", req: req(mint(testkeys.RSA2048, "RS256", map[string]any{"kid": "r1", "typ": "dpop+jwt"}, "rsa", nil)), want: verify.ErrType},
		{name: "9/typ at+jwt", req: req(mint(testkeys.RSA2048, "RS256", map[string]any{"kid": "r1", "typ": "at+jwt"}, "rsa", nil)), want: verify.ErrType},
		{name: "9/typ JOSE", req: req(mint(testkeys.RSA2048, "RS256", map[string]any{"kid": "r1", "typ": "JOSE"}, "rsa", nil)), want: verify.ErrType},
		{name: "9/typ not a string", req: req(mint(testkeys.RSA2048, "RS256", map[string]any{"kid": "r1", "typ": 1}, "rsa", nil)), want: verify.ErrType},
		{name: "9/typ required and missing", cfg: &verify.Config{RequireType: true}, req: req(mint(testkeys.RSA2048, "RS256", map[string]any{"kid": "r1", "typ": nil}, "rsa", nil)), want: verify.ErrType},

		// Check 10: iss and sub.
		{name: "10/iss missing", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("iss", nil))), want: verify.ErrIssuer},
		{name: "10/iss empty", req: req(mint(testkeys.RSA2048, "RS256", r1, "", nil)), want: verify.ErrIssuer},
		{name: "10/iss not a string", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("iss", 7))), want: verify.ErrIssuer},
		{name: "10/iss only as ISS", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", func(c map[string]any) { c["ISS"] = c["iss"]; delete(c, "iss") })), want: verify.ErrIssuer},
		{name: "10/sub missing", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("sub", nil))), want: verify.ErrSubject},
		{name: "10/sub another client", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("sub", "ec"))), want: verify.ErrSubject},
		{name: "10/sub differs in case", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("sub", "RSA"))), want: verify.ErrSubject},
		{name: "10/unknown client", req: req(mint(testkeys.RSA2048, "RS256", r1, "nobody", nil)), want: verify.ErrUnknownClient},
		{name: "10/registry returns another client", req: req(mint(testkeys.RSA2048, "RS256", nil, "liar", nil)), want: verify.ErrUnknownClient},
		{name: "10/client registry down", req: req(mint(testkeys.RSA2048, "RS256", r1, "down", nil)), want: verify.ErrClientsUnavailable},
		{name: "10/key source down", req: req(mint(testkeys.RSA2048, "RS256", r1, "keysdown", nil)), want: verify.ErrKeysUnavailable},

		// Check 11: aud.
		{name: "11/aud missing", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("aud", nil))), want: verify.ErrAudience},
		{name: "11/aud the token endpoint", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("aud", tokenEndpoint))), want: verify.ErrAudience},
		{name: "11/aud with a trailing slash", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("aud", issuer+"/"))), want: verify.ErrAudience},
		{name: "11/aud in upper case", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("aud", strings.ToUpper(issuer)))), want: verify.ErrAudience},
		{name: "ok/aud one-element array", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("aud", []string{issuer})))},
		{name: "11/aud issuer and another", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("aud", []string{issuer, tokenEndpoint}))), want: verify.ErrAudience},
		{name: "11/aud empty array", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("aud", []string{}))), want: verify.ErrAudience},
		{name: "11/aud a number", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("aud", 1))), want: verify.ErrAudience},
		{name: "11/aud array of a number", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("aud", []int{1}))), want: verify.ErrAudience},
		{name: "11/strict: one-element array", cfg: strict, req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("aud", []string{issuer}))), want: verify.ErrAudience},
		{name: "ok/strict: string", cfg: strict, req: req(good())},
		{name: "11/strict: token endpoint", cfg: strict, req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("aud", tokenEndpoint))), want: verify.ErrAudience},
		{name: "ok/legacy: token endpoint among others", cfg: legacy, req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("aud", []string{"https://other.example", tokenEndpoint})))},
		{name: "ok/legacy: issuer", cfg: legacy, req: req(good())},
		{name: "11/legacy: neither", cfg: legacy, req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("aud", []string{"https://other.example", tokenEndpoint + "/"}))), want: verify.ErrAudience},

		// Check 12: exp, with the default leeway 15 s and lifetime 10 min.
		{name: "12/exp missing", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("exp", nil))), want: verify.ErrExpiryMissing},
		{name: "12/exp a string", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("exp", "1800000300"))), want: verify.ErrExpiryMissing},
		{name: "12/exp null", req: req(rawToken(`{"alg":"RS256","kid":"r1"}`, `{"iss":"rsa","sub":"rsa","aud":"`+issuer+`","jti":"x","exp":null}`)), want: verify.ErrExpiryMissing},
		{name: "12/expired at the leeway's edge", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("exp", at(-15*time.Second)))), want: verify.ErrExpired},
		{name: "ok/exp 1 s inside the leeway", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("exp", at(-14*time.Second))))},
		{name: "12/expired long ago", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("exp", at(-time.Hour)))), want: verify.ErrExpired},
		{name: "12/expired with no leeway", cfg: &verify.Config{Leeway: -1}, req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("exp", now.Unix()))), want: verify.ErrExpired},
		{name: "ok/exp at the maximum lifetime", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("exp", at(10*time.Minute))))},
		{name: "12/exp 1 s beyond the maximum lifetime", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("exp", at(10*time.Minute+time.Second)))), want: verify.ErrLifetime},
		{name: "12/exp a year ahead", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("exp", at(365*24*time.Hour)))), want: verify.ErrLifetime},
		{name: "12/exp 1e300", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("exp", 1e300))), want: verify.ErrLifetime},
		{name: "ok/exp fractional", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("exp", float64(at(time.Minute))+0.5)))},

		// Check 13: nbf and iat (FAPI 2.0: accept 10 s of skew, reject 60 s).
		{name: "ok/nbf 10 s ahead", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("nbf", at(10*time.Second))))},
		{name: "ok/nbf at the leeway's edge", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("nbf", at(15*time.Second))))},
		{name: "13/nbf 1 s beyond the leeway", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("nbf", at(16*time.Second)))), want: verify.ErrNotYetValid},
		{name: "13/nbf 60 s ahead", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("nbf", at(time.Minute)))), want: verify.ErrNotYetValid},
		{name: "13/nbf not a number", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("nbf", "soon"))), want: verify.ErrNotYetValid},
		{name: "ok/iat 10 s ahead", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("iat", at(10*time.Second))))},
		{name: "13/iat 60 s ahead", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("iat", at(time.Minute)))), want: verify.ErrIssuedAt},
		{name: "13/iat 16 s ahead", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("iat", at(16*time.Second)))), want: verify.ErrIssuedAt},
		{name: "13/iat older than the lifetime", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("iat", at(-11*time.Minute)))), want: verify.ErrIssuedAt},
		{name: "ok/iat missing", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("iat", nil)))},
		{name: "13/iat not a number", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("iat", true))), want: verify.ErrIssuedAt},

		// Check 14: jti.
		{name: "14/jti missing", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("jti", nil))), want: verify.ErrJTI},
		{name: "14/jti empty", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("jti", ""))), want: verify.ErrJTI},
		{name: "14/jti a number", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("jti", 12345))), want: verify.ErrJTI},
		{name: "14/jti 257 bytes", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("jti", strings.Repeat("j", 257)))), want: verify.ErrJTI},
		{name: "ok/jti 256 bytes", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", set("jti", strings.Repeat("k", 256))))},
		{name: "14/replay store down", req: req(good()), cfg: &verify.Config{}, want: verify.ErrReplayUnavailable},

		// Check 15: unknown claims are ignored, member names are exact.
		{name: "ok/unknown claims", req: req(mint(testkeys.RSA2048, "RS256", r1, "rsa", func(c map[string]any) {
			c["scope"] = "x"
			c["Exp"] = "never"
			c["nested"] = map[string]any{"a": []int{1}}
		}))},

		// Check 16: client_secret_jwt, opt-in.
		{name: "ok/client_secret_jwt HS256", cfg: hs, req: req(hsToken("HS256", secret, "secret", nil))},
		{name: "16/client_secret_jwt not enabled", req: req(hsToken("HS256", secret, "secret", nil)), want: verify.ErrMethod},
		{name: "16/wrong secret", cfg: hs, req: req(hsToken("HS256", []byte("ffffffffffffffffffffffffffffffff"), "secret", nil)), want: verify.ErrSignature},
		{name: "16/HS384 with a 32-byte secret", cfg: hs, req: req(hsToken("HS384", secret, "secret", nil)), want: verify.ErrKeyRejected},
		{name: "16/secret client sending RS256", cfg: hs, req: req(mint(testkeys.RSA2048, "RS256", nil, "secret", nil)), want: verify.ErrAlgorithm},
		{name: "16/registered secret too short", cfg: hs, req: req(hsToken("HS256", secret[:31], "shortsecret", nil)), want: verify.ErrMethod},
	}
}

func TestRules(t *testing.T) {
	cases := ruleCases()
	if len(cases) < 60 {
		t.Fatalf("%d cases, want at least 60", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var store = &mapStore{}
			v := newVerifier(t, tc.cfg, store)
			if tc.name == "14/replay store down" {
				v = newVerifier(t, tc.cfg, failingStore{})
			}
			res, err := v.Verify(context.Background(), tc.req)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if res.ClientID == "" || res.JTI == "" || res.Algorithm == "" || res.ExpiresAt.IsZero() {
					t.Errorf("incomplete result %+v", res)
				}
				// An accepted assertion is accepted once.
				if _, err := v.Verify(context.Background(), tc.req); !errors.Is(err, verify.ErrReplayed) {
					t.Errorf("second Verify: %v, want ErrReplayed", err)
				}
				return
			}
			if res != nil {
				t.Errorf("result %+v with error", res)
			}
			checkError(t, err, tc.want, tc.req.Assertion)
			// A rejected assertion never uses up its jti.
			if n := len(store.m); n != 0 {
				t.Errorf("%d jti claimed by a rejected assertion", n)
			}
		})
	}
}

// checkError checks that err is an *Error for the check want, with want's
// code and fixed description, and no trace of the assertion.
func checkError(t *testing.T, err, want error, assertion string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
	var e *verify.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T is not a *verify.Error", err)
	}
	if got := "verify: " + e.Description; got != want.Error() {
		t.Errorf("description %q, want %q", got, want.Error())
	}
	wantCode := verify.CodeInvalidClient
	switch want {
	case verify.ErrMissingParameter, verify.ErrRepeatedParameter, verify.ErrMultipleMethods,
		verify.ErrMethodNotAllowed, verify.ErrContentType, verify.ErrBodyTooLarge, verify.ErrMalformedBody, verify.ErrQueryParameter:
		wantCode = verify.CodeInvalidRequest
	case verify.ErrClientsUnavailable, verify.ErrKeysUnavailable, verify.ErrReplayUnavailable, verify.ErrInternal:
		wantCode = verify.CodeServerError
	}
	if e.Code != wantCode || e.Infrastructure() != (wantCode == verify.CodeServerError) {
		t.Errorf("code %q (infrastructure %v), want %q", e.Code, e.Infrastructure(), wantCode)
	}
	if e.Reason == "" {
		t.Error("empty reason")
	}
	if len(assertion) > 20 && (strings.Contains(err.Error(), assertion) || strings.Contains(err.Error(), assertion[:20])) {
		t.Errorf("error text %q echoes the assertion", err)
	}
}

// TestExplainAgreesWithVerify checks, over every rule case, that the first
// step Explain reports as failed is the check Verify fails on, and that
// Explain uses up no jti.
func TestExplainAgreesWithVerify(t *testing.T) {
	for _, tc := range ruleCases() {
		if errors.Is(tc.want, verify.ErrReplayUnavailable) {
			continue // Explain never reaches the store
		}
		t.Run(tc.name, func(t *testing.T) {
			store := &mapStore{}
			v := newVerifier(t, tc.cfg, store)
			steps := v.Explain(context.Background(), tc.req)
			if len(steps) != 16 || steps[15].Check != "replay" || !steps[15].Skipped {
				t.Fatalf("steps %+v", steps)
			}
			var first error
			for _, s := range steps {
				if s.Err != nil && s.Skipped {
					t.Errorf("step %s both failed and skipped", s.Check)
				}
				if s.Err != nil && first == nil {
					first = s.Err
				}
			}
			if tc.want == nil {
				if first != nil {
					t.Fatalf("Explain failed a check of an accepted assertion: %v", first)
				}
				for _, s := range steps[:15] {
					if s.Skipped {
						t.Errorf("step %s skipped for an accepted assertion", s.Check)
					}
				}
			} else if !errors.Is(first, tc.want) {
				t.Fatalf("first failed step %v, want %v (steps %+v)", first, tc.want, steps)
			}
			if len(store.m) != 0 {
				t.Fatal("Explain claimed a jti")
			}
			_, err := v.Verify(context.Background(), tc.req)
			if (err == nil) != (tc.want == nil) {
				t.Fatalf("Verify after Explain: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestExplainReportsEveryFailure(t *testing.T) {
	v := newVerifier(t, nil, nil)
	// Signed by the wrong key, for the token endpoint, expired, without jti.
	a := mint(testkeys.RSA2048Alt, "RS256", r1, "rsa", func(c map[string]any) {
		c["aud"] = tokenEndpoint
		c["exp"] = at(-time.Hour)
		delete(c, "jti")
	})
	failed := map[string]error{}
	for _, s := range v.Explain(context.Background(), req(a)) {
		if s.Err != nil {
			failed[s.Check] = s.Err
		}
	}
	want := map[string]error{"signature": verify.ErrSignature, "aud": verify.ErrAudience, "exp": verify.ErrExpired, "jti": verify.ErrJTI}
	if len(failed) != len(want) {
		t.Errorf("failed %v, want %v", failed, want)
	}
	for check, w := range want {
		if !errors.Is(failed[check], w) {
			t.Errorf("%s: %v, want %v", check, failed[check], w)
		}
	}
}
