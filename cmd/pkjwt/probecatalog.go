package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pkjwt/pkjwt/verify"
)

// severity ranks what an accepted probe means.
type severity int

// Severities, from least to most severe.
const (
	sevMedium   severity = iota + 1 // request shape, typing
	sevHigh                         // lifetime, audience, identity
	sevCritical                     // alg/key confusion, replay, unsigned, foreign key
)

func (s severity) String() string {
	switch s {
	case sevCritical:
		return "critical"
	case sevHigh:
		return "high"
	case sevMedium:
		return "medium"
	}
	return "unknown"
}

// severityTopics says what each severity covers, for the table.
var severityTopics = map[severity]string{
	sevCritical: "alg/key confusion, replay, unsigned, foreign key",
	sevHigh:     "lifetime, audience, identity",
	sevMedium:   "request shape, typing",
}

// Endpoints a probe can address.
const (
	epToken         = "token"
	epIntrospection = "introspection"
	epRevocation    = "revocation"
	epPAR           = "par"
)

// Spec references of the catalog.
const (
	refRFC7523Iss    = "RFC 7523 §3 (1)"
	refRFC7523Sub    = "RFC 7523 §3 (2)"
	refRFC7523Aud    = "RFC 7523 §3 (3)"
	refRFC7523Exp    = "RFC 7523 §3 (4)"
	refRFC7523Nbf    = "RFC 7523 §3 (5)"
	refRFC7523Iat    = "RFC 7523 §3 (6)"
	refRFC7523Jti    = "RFC 7523 §3 (7)"
	refRFC7523Sig    = "RFC 7523 §3 (9)"
	refRFC7523Type   = "RFC 7523 §2.2"
	refRFC7521Params = "RFC 7521 §4.2"
	refOIDCCore9     = "OpenID Connect Core §9"
	refBCPAlg        = "RFC 8725 §3.1"
	refBCPWeakSig    = "RFC 8725 §2.1"
	refBCPClaims     = "RFC 8725 §3.10"
	refBCPIssSub     = "RFC 8725 §3.8"
	refBCPAud        = "RFC 8725 §3.9"
	refBCPTyping     = "RFC 8725 §3.11"
	refBCPCrossJWT   = "RFC 8725 §2.8"
	refHardening     = "hardening: no spec sets a bound"
	refBisTyp        = "draft-ietf-oauth-rfc7523bis (explicit typing)"
	refBis           = "draft-ietf-oauth-rfc7523bis §4"
	refFAPI          = "FAPI 2.0 Security Profile §5.3.2.1"
	refRFC6749Auth   = "RFC 6749 §2.3"
	refRFC6749Params = "RFC 6749 §3.2"
	refRFC7515Crit   = "RFC 7515 §4.1.11"
	refRFC7515Sig    = "RFC 7515 §5.2"
	refRegistration  = "OpenID Connect Registration §2 (token_endpoint_auth_signing_alg)"
)

// probeDef is one probe of the catalog: a request that a correct server
// refuses.
type probeDef struct {
	ID       string
	Title    string // what is sent, in a few words
	Severity severity
	Rule     string // the rule a server that accepts it breaks
	Refs     []string
	build    func(b *builder) (*probeRequest, error)
}

// probeRequest is one request a probe sends.
type probeRequest struct {
	endpoint  string
	form      url.Values
	basic     []string // user and password of an Authorization: Basic header, if any
	fetchPath string   // the listener path whose fetch the probe observes, if any
	// control, if any, is a correct request sent after the probe to the same
	// endpoint: a refused probe counts only if the control is accepted.
	control *probeRequest
}

// notApplicable is returned by a probe's build when it does not apply.
type notApplicable string

func (n notApplicable) Error() string { return string(n) }

// Lifetimes of the probe's assertions.
const (
	probeLifetime = 60 * time.Second
	probeSkew     = 5 * time.Minute // far beyond any leeway, inside any lifetime cap
)

// Probe constants.
const (
	probeOtherAudience = "https://other-as.pkjwt-probe.invalid"
	probeRemoteKeyHost = "https://keys.pkjwt-probe.invalid" // never resolves (RFC 6761)
	probeCritHeader    = "urn:pkjwt:probe:crit"
	probeForeignTyp    = "at+jwt"
	probeLongJTI       = 4096  // bytes
	probeOversized     = 48000 // bytes of padding claim, beyond common 16-32 KiB caps
	probeDummyToken    = "pkjwt-probe-not-a-token"
	probeBasicSecret   = "pkjwt-probe-secret"
	probeAssertionType = "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"
)

// catalog is every probe, in the order they are sent. The replay probes
// come first, while the baseline assertion is fresh.
var catalog = []probeDef{
	{ID: "replay-token", Title: "the baseline assertion again at the token endpoint", Severity: sevCritical,
		Rule: "a jti is single use: a second use of an assertion is refused",
		Refs: []string{refOIDCCore9, refRFC7523Jti}, build: replayProbe(epToken)},
	{ID: "replay-introspection", Title: "the baseline assertion again at the introspection endpoint", Severity: sevCritical,
		Rule: "a jti is single use across every endpoint that authenticates clients",
		Refs: []string{refOIDCCore9, refRFC7523Jti}, build: replayProbe(epIntrospection)},
	{ID: "replay-revocation", Title: "the baseline assertion again at the revocation endpoint", Severity: sevCritical,
		Rule: "a jti is single use across every endpoint that authenticates clients",
		Refs: []string{refOIDCCore9, refRFC7523Jti}, build: replayProbe(epRevocation)},
	{ID: "replay-par", Title: "the baseline assertion again at the PAR endpoint", Severity: sevCritical,
		Rule: "a jti is single use across every endpoint that authenticates clients",
		Refs: []string{refOIDCCore9, refRFC7523Jti}, build: replayProbe(epPAR)},

	{ID: "alg-none", Title: `alg "none", no signature`, Severity: sevCritical,
		Rule: "an assertion is signed by the client; alg none is never accepted",
		Refs: []string{refRFC7523Sig, refBCPAlg, refBCPWeakSig}, build: algNoneProbe("none")},
	{ID: "alg-none-title", Title: `alg "None", no signature`, Severity: sevCritical,
		Rule: "algs are compared exactly; no casing of none is accepted",
		Refs: []string{refRFC7523Sig, refBCPAlg}, build: algNoneProbe("None")},
	{ID: "alg-none-upper", Title: `alg "NONE", no signature`, Severity: sevCritical,
		Rule: "algs are compared exactly; no casing of none is accepted",
		Refs: []string{refRFC7523Sig, refBCPAlg}, build: algNoneProbe("NONE")},
	{ID: "alg-none-mixed", Title: `alg "nOnE", no signature`, Severity: sevCritical,
		Rule: "algs are compared exactly; no casing of none is accepted",
		Refs: []string{refRFC7523Sig, refBCPAlg}, build: algNoneProbe("nOnE")},
	{ID: "alg-hs256-public-key", Title: "HS256 keyed with the client's public key (PEM)", Severity: sevCritical,
		Rule: "no HMAC alg for private_key_jwt: a public key is not a secret",
		Refs: []string{refBCPWeakSig, refBCPAlg, refOIDCCore9}, build: (*builder).hs256PublicKey},
	{ID: "alg-other", Title: "an alg other than the registered one, same key", Severity: sevCritical,
		Rule: "only the client's registered token_endpoint_auth_signing_alg is accepted",
		Refs: []string{refRegistration, refBCPAlg}, build: (*builder).otherAlg},
	{ID: "sig-stripped", Title: "the signature removed, alg kept", Severity: sevCritical,
		Rule: "the signature is verified",
		Refs: []string{refRFC7523Sig, refRFC7515Sig}, build: signatureProbe("stripped")},
	{ID: "sig-truncated", Title: "the signature cut short", Severity: sevCritical,
		Rule: "the signature is verified",
		Refs: []string{refRFC7523Sig, refRFC7515Sig}, build: signatureProbe("truncated")},
	{ID: "sig-other-key", Title: "signed with another key, same kid and alg", Severity: sevCritical,
		Rule: "the signature verifies with a key registered to the client",
		Refs: []string{refRFC7523Sig, refOIDCCore9}, build: signatureProbe("other-key")},
	{ID: "header-jwk", Title: "an attacker's key embedded in the jwk header, signed with it", Severity: sevCritical,
		Rule: "keys come from the client's registration, never from the assertion",
		Refs: []string{refRFC7523Sig, refBCPClaims}, build: headerKeyProbe("jwk")},
	{ID: "header-jku", Title: "jku pointing to an attacker's JWK Set, signed with its key", Severity: sevCritical,
		Rule: "keys come from the client's registration, never from a URL in the assertion (and it is not fetched)",
		Refs: []string{refRFC7523Sig, refBCPClaims}, build: headerKeyProbe("jku")},
	{ID: "header-x5u", Title: "x5u pointing to an attacker's certificate, signed with its key", Severity: sevCritical,
		Rule: "keys come from the client's registration, never from a URL in the assertion (and it is not fetched)",
		Refs: []string{refRFC7523Sig, refBCPClaims}, build: headerKeyProbe("x5u")},

	{ID: "jti-missing", Title: "no jti", Severity: sevHigh,
		Rule: "jti is required: without it replay cannot be detected",
		Refs: []string{refOIDCCore9, refRFC7523Jti}, build: claimProbe("jti", nil)},
	{ID: "jti-empty", Title: `jti ""`, Severity: sevHigh,
		Rule: "jti is required and not empty",
		Refs: []string{refOIDCCore9, refRFC7523Jti}, build: claimProbe("jti", "")},
	{ID: "exp-missing", Title: "no exp", Severity: sevHigh,
		Rule: "exp is required",
		Refs: []string{refRFC7523Exp, refOIDCCore9}, build: claimProbe("exp", nil)},
	{ID: "exp-passed", Title: "exp 5 minutes ago", Severity: sevHigh,
		Rule: "an expired assertion is refused",
		Refs: []string{refRFC7523Exp}, build: timesProbe(-2*probeSkew, 0, -probeSkew)},
	{ID: "exp-1h", Title: "exp 1 hour ahead", Severity: sevHigh,
		Rule: "an exp unreasonably far ahead is refused (a long window for replay)",
		Refs: []string{refRFC7523Exp}, build: timesProbe(0, 0, time.Hour)},
	{ID: "exp-1y", Title: "exp 1 year ahead", Severity: sevHigh,
		Rule: "an exp unreasonably far ahead is refused (a long window for replay)",
		Refs: []string{refRFC7523Exp}, build: timesProbe(0, 0, 365*24*time.Hour)},
	{ID: "nbf-future", Title: "nbf 5 minutes ahead", Severity: sevHigh,
		Rule: "an assertion is not accepted before its nbf (beyond clock skew)",
		Refs: []string{refRFC7523Nbf, refFAPI}, build: timesProbe(0, probeSkew, probeSkew+probeLifetime)},
	{ID: "iat-future", Title: "iat 5 minutes ahead", Severity: sevHigh,
		Rule: "an iat in the future (beyond clock skew) is refused",
		Refs: []string{refRFC7523Iat, refFAPI}, build: timesProbe(probeSkew, 0, probeSkew+probeLifetime)},
	{ID: "iat-old", Title: "iat 1 day ago, exp ahead", Severity: sevHigh,
		Rule: "an iat unreasonably far in the past is refused",
		Refs: []string{refRFC7523Iat}, build: timesProbe(-24*time.Hour, 0, probeLifetime)},
	{ID: "aud-other-server", Title: "aud another server", Severity: sevHigh,
		Rule: "aud identifies this authorization server",
		Refs: []string{refRFC7523Aud, refBis, refOIDCCore9, refBCPAud}, build: audProbe("other")},
	{ID: "aud-token-endpoint", Title: "aud the token endpoint URL", Severity: sevHigh,
		Rule: "aud is the issuer identifier, never the token endpoint URL (audience injection)",
		Refs: []string{refBis, refFAPI}, build: audProbe("token-endpoint")},
	{ID: "aud-array-other-first", Title: "aud an array: another audience, then the issuer", Severity: sevHigh,
		Rule: "aud is the issuer identifier as its sole value",
		Refs: []string{refBis, refFAPI}, build: audProbe("array")},
	{ID: "iss-sub-mismatch", Title: "sub another client", Severity: sevHigh,
		Rule: "iss and sub are both the client_id",
		Refs: []string{refRFC7523Iss, refRFC7523Sub, refOIDCCore9, refBCPIssSub}, build: claimOtherProbe("sub")},
	{ID: "client-id-other", Title: "client_id parameter naming another client", Severity: sevHigh,
		Rule: "a client_id parameter names the client the assertion authenticates",
		Refs: []string{refRFC7521Params}, build: (*builder).clientIDOther},

	{ID: "aud-trailing-slash", Title: "aud the issuer with a trailing slash added (or removed)", Severity: sevMedium,
		Rule: "aud is compared with the issuer as an exact string",
		Refs: []string{refBis, refRFC7523Aud}, build: audProbe("slash")},
	{ID: "aud-case", Title: "aud the issuer in upper case", Severity: sevMedium,
		Rule: "aud is compared with the issuer as an exact string",
		Refs: []string{refBis, refRFC7523Aud}, build: audProbe("case")},
	{ID: "jti-long", Title: "jti of 4096 bytes", Severity: sevMedium,
		Rule: "jti is bounded in length (it is stored until exp)",
		Refs: []string{refOIDCCore9, refHardening}, build: claimProbe("jti", strings.Repeat("j", probeLongJTI))},
	{ID: "two-methods", Title: "the assertion plus Authorization: Basic", Severity: sevMedium,
		Rule: "one client authentication method per request",
		Refs: []string{refRFC6749Auth}, build: (*builder).twoMethods},
	{ID: "repeated-assertion", Title: "client_assertion twice (two valid assertions)", Severity: sevMedium,
		Rule: "request parameters are not repeated",
		Refs: []string{refRFC6749Params, refRFC7521Params}, build: repeatedProbe("client_assertion")},
	{ID: "repeated-assertion-type", Title: "client_assertion_type twice", Severity: sevMedium,
		Rule: "request parameters are not repeated",
		Refs: []string{refRFC6749Params, refRFC7521Params}, build: repeatedProbe("client_assertion_type")},
	{ID: "assertion-type-wrong", Title: "client_assertion_type of SAML 2.0", Severity: sevMedium,
		Rule: "client_assertion_type is exactly " + verify.AssertionType,
		Refs: []string{refRFC7523Type, refRFC7521Params}, build: (*builder).wrongType},
	{ID: "crit-unknown", Title: "crit naming an unknown header parameter", Severity: sevMedium,
		Rule: "a JWS with a crit entry the server does not understand is invalid",
		Refs: []string{refRFC7515Crit}, build: (*builder).crit},
	{ID: "typ-foreign", Title: `typ "at+jwt" (another token type)`, Severity: sevMedium,
		Rule: "an explicitly typed JWT of another kind is not a client assertion",
		Refs: []string{refBCPTyping, refBCPCrossJWT, refBisTyp}, build: (*builder).typ},
	{ID: "oversized", Title: "an assertion of about 64 KiB", Severity: sevMedium,
		Rule: "assertions are bounded in size",
		Refs: []string{refHardening}, build: claimProbe("pkjwt_probe_padding", strings.Repeat("p", probeOversized))},
}

// printCatalog writes the catalog, grouped by severity.
func printCatalog(w io.Writer) error {
	for _, sev := range []severity{sevCritical, sevHigh, sevMedium} {
		fmt.Fprintf(w, "%s (%s)\n", strings.ToUpper(sev.String()), severityTopics[sev])
		for _, d := range catalog {
			if d.Severity == sev {
				fmt.Fprintf(w, "  %-24s %s\n  %-24s rule: %s\n  %-24s refs: %s\n", d.ID, d.Title, "", d.Rule, "", strings.Join(d.Refs, "; "))
			}
		}
		fmt.Fprintln(w)
	}
	_, err := fmt.Fprintf(w, "%d probes.\n", len(catalog))
	return err
}

// builder makes the probes' requests.
type builder struct {
	cfg       *probeConfig
	now       time.Time
	aud       string            // the aud of correct assertions
	endpoints map[string]string // endpoint name to URL, as far as known
	baseline  string            // the baseline assertion, once sent
	attacker  crypto.Signer     // a key of the client key's type that is not registered
	listener  string            // base URL of the probe's loopback listener, or ""
	jti       func() string
}

// claims returns the claims of a correct assertion, with a fresh jti.
func (b *builder) claims() map[string]any {
	return map[string]any{
		"iss": b.cfg.clientID,
		"sub": b.cfg.clientID,
		"aud": b.aud,
		"iat": b.now.Unix(),
		"exp": b.now.Add(probeLifetime).Unix(),
		"jti": b.jti(),
	}
}

// header returns the header of a correct assertion.
func (b *builder) header() map[string]any {
	h := map[string]any{"alg": b.cfg.key.alg, "typ": "JWT"}
	if b.cfg.key.kid != "" {
		h["kid"] = b.cfg.key.kid
	}
	return h
}

// encodeSegment returns v as JSON, base64url-encoded.
func encodeSegment(v any) (string, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(j), nil
}

// signJWT signs header and claims with key under header["alg"].
func signJWT(header, claims map[string]any, key any) (string, error) {
	h, err := encodeSegment(header)
	if err != nil {
		return "", err
	}
	c, err := encodeSegment(claims)
	if err != nil {
		return "", err
	}
	alg, _ := header["alg"].(string)
	m := jwt.GetSigningMethod(alg)
	if m == nil {
		return "", fmt.Errorf("unknown alg %q", alg)
	}
	sig, err := m.Sign(h+"."+c, key)
	if err != nil {
		return "", err
	}
	return h + "." + c + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// signed signs header and claims with the client's key.
func (b *builder) signed(header, claims map[string]any) (string, error) {
	return signJWT(header, claims, b.cfg.key.signer)
}

// valid returns a correct assertion with a fresh jti.
func (b *builder) valid() (string, error) { return b.signed(b.header(), b.claims()) }

// form returns the body of a request to endpoint carrying assertion.
func (b *builder) form(endpoint, assertion string) url.Values {
	f := url.Values{}
	switch endpoint {
	case epToken:
		for k, vs := range b.cfg.params {
			f[k] = append([]string(nil), vs...)
		}
	case epIntrospection, epRevocation:
		f.Set("token", probeDummyToken)
	case epPAR:
		f.Set("response_type", "code")
		f.Set("client_id", b.cfg.clientID)
	}
	f.Set("client_assertion_type", verify.AssertionType)
	f.Set("client_assertion", assertion)
	return f
}

// tokenRequest is a request to the token endpoint with assertion.
func (b *builder) tokenRequest(assertion string) *probeRequest {
	return &probeRequest{endpoint: epToken, form: b.form(epToken, assertion)}
}

// signedRequest signs header and claims and sends them to the token
// endpoint.
func (b *builder) signedRequest(header, claims map[string]any) (*probeRequest, error) {
	tok, err := b.signed(header, claims)
	if err != nil {
		return nil, err
	}
	return b.tokenRequest(tok), nil
}

func replayProbe(endpoint string) func(*builder) (*probeRequest, error) {
	return func(b *builder) (*probeRequest, error) {
		if _, ok := b.endpoints[endpoint]; !ok {
			return nil, notApplicable("no " + endpoint + " endpoint")
		}
		r := &probeRequest{endpoint: endpoint, form: b.form(endpoint, b.baseline)}
		if endpoint != epToken {
			fresh, err := b.valid()
			if err != nil {
				return nil, err
			}
			r.control = &probeRequest{endpoint: endpoint, form: b.form(endpoint, fresh)}
		}
		return r, nil
	}
}

func algNoneProbe(alg string) func(*builder) (*probeRequest, error) {
	return func(b *builder) (*probeRequest, error) {
		h := b.header()
		h["alg"] = alg
		hs, err := encodeSegment(h)
		if err != nil {
			return nil, err
		}
		cs, err := encodeSegment(b.claims())
		if err != nil {
			return nil, err
		}
		return b.tokenRequest(hs + "." + cs + "."), nil
	}
}

// publicKeyPEM returns pub as a PEM "PUBLIC KEY" block: the bytes a
// confused verifier uses as an HMAC secret.
func publicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

func (b *builder) hs256PublicKey() (*probeRequest, error) {
	secret, err := publicKeyPEM(b.cfg.key.signer.Public())
	if err != nil {
		return nil, err
	}
	h := b.header()
	h["alg"] = "HS256"
	tok, err := signJWT(h, b.claims(), secret)
	if err != nil {
		return nil, err
	}
	return b.tokenRequest(tok), nil
}

func (b *builder) otherAlg() (*probeRequest, error) {
	if _, ok := b.cfg.key.signer.Public().(*rsa.PublicKey); !ok {
		return nil, notApplicable("the key signs with one alg only (" + b.cfg.key.alg + ")")
	}
	if b.cfg.registeredAlg == "" {
		return nil, notApplicable("the registered alg is unknown (give -alg)")
	}
	other := "PS256"
	if strings.HasPrefix(b.cfg.registeredAlg, "PS") {
		other = "RS256"
	}
	h := b.header()
	h["alg"] = other
	return b.signedRequest(h, b.claims())
}

func signatureProbe(how string) func(*builder) (*probeRequest, error) {
	return func(b *builder) (*probeRequest, error) {
		if how == "other-key" {
			tok, err := signJWT(b.header(), b.claims(), b.attacker)
			if err != nil {
				return nil, err
			}
			return b.tokenRequest(tok), nil
		}
		tok, err := b.valid()
		if err != nil {
			return nil, err
		}
		i := strings.LastIndexByte(tok, '.')
		switch how {
		case "stripped":
			tok = tok[:i+1]
		case "truncated":
			// Half the signature's bytes, well encoded: a server must
			// find it invalid, not merely malformed.
			sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
			if err != nil {
				return nil, err
			}
			tok = tok[:i+1] + base64.RawURLEncoding.EncodeToString(sig[:len(sig)/2])
		}
		return b.tokenRequest(tok), nil
	}
}

// attackerJWKS is the attacker's key as a JWK Set.
func (b *builder) attackerJWK() (map[string]any, error) {
	m, err := jwkOf(b.attacker.Public(), "pkjwt-probe-attacker", b.cfg.key.alg, "sig", false)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	err = json.Unmarshal(raw, &out)
	return out, err
}

func headerKeyProbe(member string) func(*builder) (*probeRequest, error) {
	return func(b *builder) (*probeRequest, error) {
		h := b.header()
		h["kid"] = "pkjwt-probe-attacker"
		var fetchPath string
		switch member {
		case "jwk":
			jwk, err := b.attackerJWK()
			if err != nil {
				return nil, err
			}
			h["jwk"] = jwk
		case "jku", "x5u":
			path := "/" + member
			if b.listener != "" {
				fetchPath = path
				h[member] = b.listener + path
			} else {
				h[member] = probeRemoteKeyHost + path
			}
		}
		tok, err := signJWT(h, b.claims(), b.attacker)
		if err != nil {
			return nil, err
		}
		r := b.tokenRequest(tok)
		r.fetchPath = fetchPath
		return r, nil
	}
}

func claimProbe(name string, value any) func(*builder) (*probeRequest, error) {
	return func(b *builder) (*probeRequest, error) {
		c := b.claims()
		if value == nil {
			delete(c, name)
		} else {
			c[name] = value
		}
		return b.signedRequest(b.header(), c)
	}
}

// times returns a probe whose iat, nbf (if not zero) and exp lie at the
// given offsets from now.
func timesProbe(iat, nbf, exp time.Duration) func(*builder) (*probeRequest, error) {
	return func(b *builder) (*probeRequest, error) {
		c := b.claims()
		c["iat"] = b.now.Add(iat).Unix()
		if nbf != 0 {
			c["nbf"] = b.now.Add(nbf).Unix()
		}
		c["exp"] = b.now.Add(exp).Unix()
		return b.signedRequest(b.header(), c)
	}
}

func audProbe(how string) func(*builder) (*probeRequest, error) {
	return func(b *builder) (*probeRequest, error) {
		c := b.claims()
		switch how {
		case "other":
			c["aud"] = probeOtherAudience
		case "token-endpoint":
			tokenURL := b.endpoints[epToken]
			if tokenURL == b.aud {
				return nil, notApplicable("the baseline's aud is the token endpoint URL")
			}
			c["aud"] = tokenURL
		case "array":
			c["aud"] = []string{probeOtherAudience, b.aud}
		case "slash":
			if s, ok := strings.CutSuffix(b.aud, "/"); ok {
				c["aud"] = s
			} else {
				c["aud"] = b.aud + "/"
			}
		case "case":
			up := strings.ToUpper(b.aud)
			if up == b.aud {
				return nil, notApplicable("the aud has no lower-case letters")
			}
			c["aud"] = up
		}
		return b.signedRequest(b.header(), c)
	}
}

func claimOtherProbe(name string) func(*builder) (*probeRequest, error) {
	return func(b *builder) (*probeRequest, error) {
		c := b.claims()
		c[name] = b.cfg.otherClientID
		return b.signedRequest(b.header(), c)
	}
}

func (b *builder) clientIDOther() (*probeRequest, error) {
	tok, err := b.valid()
	if err != nil {
		return nil, err
	}
	r := b.tokenRequest(tok)
	r.form.Set("client_id", b.cfg.otherClientID)
	return r, nil
}

func (b *builder) twoMethods() (*probeRequest, error) {
	tok, err := b.valid()
	if err != nil {
		return nil, err
	}
	r := b.tokenRequest(tok)
	r.basic = []string{b.cfg.clientID, probeBasicSecret}
	return r, nil
}

func repeatedProbe(param string) func(*builder) (*probeRequest, error) {
	return func(b *builder) (*probeRequest, error) {
		tok, err := b.valid()
		if err != nil {
			return nil, err
		}
		r := b.tokenRequest(tok)
		second := verify.AssertionType
		if param == "client_assertion" {
			if second, err = b.valid(); err != nil {
				return nil, err
			}
		}
		r.form.Add(param, second)
		return r, nil
	}
}

func (b *builder) wrongType() (*probeRequest, error) {
	tok, err := b.valid()
	if err != nil {
		return nil, err
	}
	r := b.tokenRequest(tok)
	r.form.Set("client_assertion_type", probeAssertionType)
	return r, nil
}

func (b *builder) crit() (*probeRequest, error) {
	h := b.header()
	h["crit"] = []string{probeCritHeader}
	h[probeCritHeader] = true
	return b.signedRequest(h, b.claims())
}

func (b *builder) typ() (*probeRequest, error) {
	h := b.header()
	h["typ"] = probeForeignTyp
	return b.signedRequest(h, b.claims())
}

// newAttackerKey returns a new key of pub's type (and curve), for the
// foreign-key probes.
func newAttackerKey(pub crypto.PublicKey) (crypto.Signer, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return generateKey("rsa", max(k.N.BitLen(), 2048))
	case *ecdsa.PublicKey:
		switch k.Curve.Params().Name {
		case "P-256":
			return generateKey("p256", 0)
		case "P-384":
			return generateKey("p384", 0)
		}
		return nil, fmt.Errorf("probe: no attacker key for curve %s", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return generateKey("ed25519", 0)
	}
	return nil, errors.New("probe: unsupported key type")
}
