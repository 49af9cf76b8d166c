package verify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pkjwt/pkjwt/replay"
)

// Request holds the client-authentication parameters of one request to a
// token (or introspection, revocation, PAR) endpoint.
type Request struct {
	// AssertionType is the client_assertion_type parameter.
	AssertionType string
	// Assertion is the client_assertion parameter.
	Assertion string
	// ClientID is the client_id parameter, if the client sent one.
	ClientID string
	// OtherAuthentication names another client authentication method the
	// same request carries, such as "client_secret_basic" for an
	// Authorization header or "client_secret_post" for a client_secret
	// parameter, or is empty. A request with an assertion and another
	// method is refused (RULES 3): set it whenever such credentials are
	// present.
	OtherAuthentication string
}

// RequestFromForm returns the Request carried by form (the decoded
// application/x-www-form-urlencoded body). It returns an *Error wrapping
// [ErrRepeatedParameter] when client_assertion, client_assertion_type or
// client_id appears more than once. A client_secret parameter sets
// OtherAuthentication. The caller adds any Authorization header.
func RequestFromForm(form url.Values) (Request, error) {
	var r Request
	for _, p := range [...]struct {
		name string
		dst  *string
	}{
		{"client_assertion_type", &r.AssertionType},
		{"client_assertion", &r.Assertion},
		{"client_id", &r.ClientID},
	} {
		switch vs := form[p.name]; len(vs) {
		case 0:
		case 1:
			*p.dst = vs[0]
		default:
			return Request{}, newError(ErrRepeatedParameter, fmt.Errorf("%s sent %d times", p.name, len(vs)))
		}
	}
	if _, ok := form["client_secret"]; ok {
		r.OtherAuthentication = "client_secret_post"
	}
	return r, nil
}

// Result describes a verified assertion.
type Result struct {
	// ClientID is the authenticated client's client_id.
	ClientID string
	// Method is MethodPrivateKeyJWT or MethodClientSecretJWT.
	Method string
	// KeyID is the kid of the key that verified the signature (the
	// header's kid, or the registered key's when the header had none).
	KeyID string
	// Algorithm is the header's alg.
	Algorithm string
	// JTI is the assertion's jti, now claimed.
	JTI string
	// ExpiresAt is the assertion's exp.
	ExpiresAt time.Time
	// IssuedAt is the assertion's iat, or the zero time if it had none.
	IssuedAt time.Time

	payload string
}

// DecodeClaims decodes the verified claims set into v, as json.Unmarshal
// does, for callers that need claims beyond those in Result.
func (r *Result) DecodeClaims(v any) error {
	b, err := base64.RawURLEncoding.DecodeString(r.payload)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// Verifier verifies client assertions for one authorization server. It is
// safe for concurrent use.
type Verifier struct {
	issuer  string
	clients Clients
	store   replay.Store
	cfg     Config
	parser  *jwt.Parser
}

// New returns a Verifier for the authorization server whose issuer
// identifier is issuer, looking clients up in clients and claiming each
// assertion's jti in store. A nil cfg means the default policy; cfg is
// copied. New returns an error if an argument is missing or cfg is
// invalid.
func New(issuer string, clients Clients, store replay.Store, cfg *Config) (*Verifier, error) {
	if issuer == "" {
		return nil, errors.New("verify: empty issuer")
	}
	if clients == nil {
		return nil, errors.New("verify: nil Clients")
	}
	if store == nil {
		return nil, errors.New("verify: nil replay store")
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Verifier{
		issuer:  issuer,
		clients: clients,
		store:   store,
		cfg:     c,
		parser:  jwt.NewParser(jwt.WithoutClaimsValidation(), jwt.WithStrictDecoding()),
	}, nil
}

// Issuer returns the issuer identifier the Verifier expects as aud.
func (v *Verifier) Issuer() string { return v.issuer }

// AuthMethods returns the token_endpoint_auth_methods_supported values
// (RFC 8414) the Verifier handles: private_key_jwt, and client_secret_jwt
// when allowed.
func (v *Verifier) AuthMethods() []string {
	if v.cfg.AllowClientSecretJWT {
		return []string{MethodPrivateKeyJWT, MethodClientSecretJWT}
	}
	return []string{MethodPrivateKeyJWT}
}

// SigningAlgorithms returns the token_endpoint_auth_signing_alg_values_supported
// values (RFC 8414): the allowed algs, plus HS256, HS384 and HS512 when
// client_secret_jwt is allowed. It never contains "none".
func (v *Verifier) SigningAlgorithms() []string {
	algs := slices.Clone(v.cfg.Algorithms)
	if v.cfg.AllowClientSecretJWT {
		algs = append(algs, "HS256", "HS384", "HS512")
	}
	return algs
}

// Verify checks the client assertion in req and, if every check passes,
// claims its jti and returns the result. The checks run in this order:
// request shape, token syntax, header (crit, typ), iss/sub/client_id,
// client lookup, alg, key, signature, aud, exp, nbf, iat, jti, and last the
// replay claim, so that a rejected assertion never uses up its jti.
//
// Every error it returns is an *Error, which wraps one of the sentinel
// errors of this package: ErrKeysUnavailable, ErrClientsUnavailable and
// ErrReplayUnavailable (Code CodeServerError) mean the server could not
// decide; the others mean the request or the assertion is at fault.
func (v *Verifier) Verify(ctx context.Context, req Request) (*Result, error) {
	res, err := v.verify(ctx, req)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			e = newError(ErrMalformed, err)
		}
		return nil, e
	}
	return res, nil
}

func (v *Verifier) verify(ctx context.Context, req Request) (*Result, error) {
	switch {
	case req.Assertion == "" && req.AssertionType == "":
		if req.OtherAuthentication != "" {
			return nil, newError(ErrNoCredentials, fmt.Errorf("%s is not accepted", req.OtherAuthentication))
		}
		return nil, newError(ErrNoCredentials, nil)
	case req.OtherAuthentication != "":
		return nil, newError(ErrMultipleMethods, fmt.Errorf("client assertion and %s", req.OtherAuthentication))
	case req.AssertionType == "":
		return nil, newError(ErrMissingParameter, errors.New("client_assertion_type missing"))
	case req.Assertion == "":
		return nil, newError(ErrMissingParameter, errors.New("client_assertion missing"))
	case req.AssertionType != AssertionType:
		return nil, newError(ErrAssertionType, nil)
	}
	if err := checkSyntax(req.Assertion, v.cfg.MaxAssertionLength); err != nil {
		return nil, newError(ErrMalformed, err)
	}

	var (
		c      claims
		client *Client
		kid    string
	)
	tok, err := v.parser.ParseWithClaims(req.Assertion, &c, func(t *jwt.Token) (any, error) {
		cl, k, key, err := v.key(ctx, req, t, &c)
		client, kid = cl, k
		return key, err
	})
	if err != nil {
		var e *Error
		switch {
		case errors.As(err, &e):
			return nil, e
		case errors.Is(err, jwt.ErrTokenMalformed):
			return nil, newError(ErrMalformed, err)
		case errors.Is(err, jwt.ErrTokenSignatureInvalid):
			return nil, newError(ErrSignature, err)
		case client == nil && tok != nil && tok.Method == nil:
			// The parser found no signing method for alg: unknown
			// (including any casing of "none" but the exact one) or absent.
			return nil, newError(ErrAlgorithm, errors.New("unknown or missing alg"))
		}
		return nil, newError(ErrMalformed, err)
	}

	if err := v.checkClaims(&c); err != nil {
		return nil, err
	}

	key := replayKey(c.iss.v, c.jti.v)
	until := c.exp.t.Add(v.cfg.Leeway)
	if err := v.store.Claim(ctx, key, until); err != nil {
		if errors.Is(err, replay.ErrReplayed) {
			return nil, newError(ErrReplayed, nil)
		}
		return nil, newError(ErrReplayUnavailable, err)
	}

	res := &Result{
		ClientID:  c.iss.v,
		Method:    client.method(),
		KeyID:     kid,
		Algorithm: tok.Method.Alg(),
		JTI:       c.jti.v,
		ExpiresAt: c.exp.t,
		payload:   req.Assertion[strings.IndexByte(req.Assertion, '.')+1 : strings.LastIndexByte(req.Assertion, '.')],
	}
	if c.iat.set {
		res.IssuedAt = c.iat.t
	}
	return res, nil
}

// checkSyntax rejects what is not a compact JWS of bounded size: anything
// but exactly three segments of base64url characters (RULES 4). Go's base64
// decoder would otherwise skip CR and LF.
func checkSyntax(s string, maxLen int) error {
	if len(s) > maxLen {
		return fmt.Errorf("assertion of %d bytes exceeds %d", len(s), maxLen)
	}
	dots := 0
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b == '.':
			dots++
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '-', b == '_':
		default:
			return fmt.Errorf("byte %d is not base64url", i)
		}
	}
	if dots != 2 {
		return fmt.Errorf("%d segments, want 3 (compact JWS)", dots+1)
	}
	return nil
}

// key runs the checks that come before the signature: header, iss/sub,
// client_id, client lookup, alg and key. It returns the client, the kid of
// the key and the key that must verify the signature.
func (v *Verifier) key(ctx context.Context, req Request, t *jwt.Token, c *claims) (*Client, string, any, error) {
	if err := v.checkHeader(t.Header); err != nil {
		return nil, "", nil, err
	}
	if !c.iss.ok || c.iss.v == "" {
		return nil, "", nil, newError(ErrIssuer, nil)
	}
	if !c.sub.ok || c.sub.v != c.iss.v {
		return nil, "", nil, newError(ErrSubject, nil)
	}
	if req.ClientID != "" && req.ClientID != c.iss.v {
		return nil, "", nil, newError(ErrClientIDMismatch, nil)
	}
	client, err := v.clients.Client(ctx, c.iss.v)
	switch {
	case errors.Is(err, ErrUnknownClient):
		return nil, "", nil, newError(ErrUnknownClient, nil)
	case err != nil:
		return nil, "", nil, newError(ErrClientsUnavailable, err)
	case client == nil || client.ID != c.iss.v:
		return nil, "", nil, newError(ErrUnknownClient, errors.New("client store returned another client"))
	}
	if err := client.validate(); err != nil {
		return nil, "", nil, newError(ErrMethod, fmt.Errorf("client registration: %w", err))
	}

	alg := t.Method.Alg()
	if client.SigningAlg != "" && alg != client.SigningAlg {
		return nil, "", nil, newError(ErrAlgorithm, errors.New("not the client's token_endpoint_auth_signing_alg"))
	}
	kid, ok := t.Header["kid"].(string)
	if !ok && t.Header["kid"] != nil {
		return nil, "", nil, newError(ErrMalformed, errors.New("kid is not a string"))
	}

	if client.method() == MethodClientSecretJWT {
		if !v.cfg.AllowClientSecretJWT {
			return nil, "", nil, newError(ErrMethod, errors.New("client_secret_jwt is not enabled"))
		}
		minLen, ok := symmetric[alg]
		if !ok {
			return nil, "", nil, newError(ErrAlgorithm, errors.New("client_secret_jwt requires HS256, HS384 or HS512"))
		}
		if len(client.Secret) < minLen {
			return nil, "", nil, newError(ErrKeyRejected, fmt.Errorf("%s needs a secret of at least %d bytes", alg, minLen))
		}
		return client, kid, client.Secret, nil
	}

	if !slices.Contains(v.cfg.Algorithms, alg) {
		return nil, "", nil, newError(ErrAlgorithm, nil)
	}
	key, err := client.Keys.Key(ctx, kid, alg)
	switch {
	case errors.Is(err, ErrKeyNotFound):
		return nil, "", nil, newError(ErrKeyNotFound, err)
	case errors.Is(err, ErrKeyIDRequired):
		return nil, "", nil, newError(ErrKeyIDRequired, err)
	case err != nil:
		return nil, "", nil, newError(ErrKeysUnavailable, err)
	}
	if key.Algorithm != "" && key.Algorithm != alg {
		return nil, "", nil, newError(ErrKeyRejected, errors.New("key alg differs from the assertion's"))
	}
	if err := CheckKey(key.Public, alg, v.cfg.MinRSABits); err != nil {
		return nil, "", nil, newError(ErrKeyRejected, err)
	}
	return client, key.ID, key.Public, nil
}

// checkHeader applies RULES 4 (crit) and 9 (typ).
func (v *Verifier) checkHeader(h map[string]any) error {
	if _, ok := h["crit"]; ok {
		// No extension is understood, so any crit entry is unknown
		// (RFC 7515 §4.1.11).
		return newError(ErrCritical, nil)
	}
	typ, ok := h["typ"]
	if !ok {
		if v.cfg.RequireType {
			return newError(ErrType, errors.New("typ required"))
		}
		return nil
	}
	s, _ := typ.(string)
	s = strings.ToLower(s)
	s = strings.TrimPrefix(s, "application/")
	if s != "jwt" && s != "client-authentication+jwt" {
		return newError(ErrType, nil)
	}
	return nil
}

// checkClaims applies RULES 11-14 to the claims of a verified assertion.
func (v *Verifier) checkClaims(c *claims) error {
	if err := v.checkAudience(&c.aud); err != nil {
		return err
	}
	now := v.cfg.Now()
	leeway := v.cfg.Leeway
	if !c.exp.ok {
		return newError(ErrExpiryMissing, nil)
	}
	if !now.Before(c.exp.t.Add(leeway)) {
		return newError(ErrExpired, nil)
	}
	if c.exp.t.Sub(now) > v.cfg.MaxLifetime {
		return newError(ErrLifetime, nil)
	}
	if c.nbf.set {
		if !c.nbf.ok {
			return newError(ErrNotYetValid, errors.New("nbf is not a number"))
		}
		if c.nbf.t.After(now.Add(leeway)) {
			return newError(ErrNotYetValid, nil)
		}
	}
	if c.iat.set {
		switch {
		case !c.iat.ok:
			return newError(ErrIssuedAt, errors.New("iat is not a number"))
		case c.iat.t.After(now.Add(leeway)):
			return newError(ErrIssuedAt, errors.New("iat in the future"))
		case now.Sub(c.iat.t) > v.cfg.MaxLifetime+leeway:
			return newError(ErrIssuedAt, errors.New("iat too old"))
		}
	}
	if !c.jti.ok || c.jti.v == "" {
		return newError(ErrJTI, errors.New("jti missing"))
	}
	if len(c.jti.v) > v.cfg.MaxJTILength {
		return newError(ErrJTI, fmt.Errorf("jti of %d bytes exceeds %d", len(c.jti.v), v.cfg.MaxJTILength))
	}
	return nil
}

// checkAudience applies RULES 11 under the configured policy.
func (v *Verifier) checkAudience(a *audience) error {
	switch {
	case !a.set:
		return newError(ErrAudience, errors.New("aud missing"))
	case !a.ok:
		return newError(ErrAudience, errors.New("aud is not a string or an array of strings"))
	}
	switch v.cfg.Audience {
	case AudienceStrict:
		if a.array {
			return newError(ErrAudience, errors.New("aud must be a string"))
		}
	case AudienceRFC7523bis:
		if len(a.values) != 1 {
			return newError(ErrAudience, errors.New("aud must have exactly one value"))
		}
	case AudienceLegacy:
		for _, s := range a.values {
			if s == v.issuer || slices.Contains(v.cfg.Endpoints, s) {
				return nil
			}
		}
		return newError(ErrAudience, nil)
	}
	if a.values[0] != v.issuer {
		return newError(ErrAudience, nil)
	}
	return nil
}

// replayKey scopes jti to the client. The length prefix keeps the pair
// unambiguous whatever bytes either holds.
func replayKey(clientID, jti string) string {
	return strconv.Itoa(len(clientID)) + ":" + clientID + ":" + jti
}

func (c *Client) method() string {
	if c.Method == "" {
		return MethodPrivateKeyJWT
	}
	return c.Method
}
