package verify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

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
// request shape, token syntax, header (crit, typ), iss, sub, client_id,
// client lookup, alg, key, signature, aud, exp, nbf, iat, jti, and last the
// replay claim, so that a rejected assertion never uses up its jti.
//
// Every error it returns is an *Error, which wraps one of the sentinel
// errors of this package: ErrKeysUnavailable, ErrClientsUnavailable and
// ErrReplayUnavailable (Code CodeServerError) mean the server could not
// decide; the others mean the request or the assertion is at fault.
func (v *Verifier) Verify(ctx context.Context, req Request) (*Result, error) {
	if v.cfg.Hooks != nil {
		return v.verifyObserved(ctx, req)
	}
	return v.verify(ctx, req, nil)
}

// verify is Verify; o, when not nil, collects what the hooks report.
func (v *Verifier) verify(ctx context.Context, req Request, o *observation) (*Result, error) {
	if err := checkRequest(req); err != nil {
		return nil, err
	}
	if err := checkSyntax(req.Assertion, v.cfg.MaxAssertionLength); err != nil {
		return nil, err
	}
	var t jws
	if err := t.parse(req.Assertion); err != nil {
		return nil, newError(ErrMalformed, err)
	}
	c := &t.claims
	if err := v.checkHeader(&t.header); err != nil {
		return nil, err
	}
	if err := checkIdentity(req, c); err != nil {
		return nil, err
	}
	method := t.method()
	if method == nil {
		// No signing method by that alg: unknown (including every casing
		// of "none" but the exact one) or absent.
		return nil, newError(ErrAlgorithm, errors.New("unknown or missing alg"))
	}
	alg := method.Alg()
	client, err := v.client(ctx, c.iss.v)
	if err != nil {
		return nil, err
	}
	if err := v.checkAlg(client, alg); err != nil {
		return nil, err
	}
	kid, key, err := v.timedKey(ctx, o, client, alg, &t.header)
	if err != nil {
		return nil, err
	}
	if err := t.checkSignature(method, key); err != nil {
		return nil, err
	}
	if err := v.checkClaims(c); err != nil {
		return nil, err
	}
	if err := v.timedClaim(ctx, o, c); err != nil {
		return nil, err
	}
	res := &Result{
		ClientID:  c.iss.v,
		Method:    client.method(),
		KeyID:     kid,
		Algorithm: alg,
		JTI:       c.jti.v,
		ExpiresAt: c.exp.t,
		payload:   req.Assertion[strings.IndexByte(req.Assertion, '.')+1 : strings.LastIndexByte(req.Assertion, '.')],
	}
	if c.iat.set {
		res.IssuedAt = c.iat.t
	}
	return res, nil
}
