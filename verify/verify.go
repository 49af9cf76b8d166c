package verify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/pkjwt/pkjwt/replay"
)

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
	// Host is the authenticated client's [Client.Host], unchanged.
	Host any

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
// assertion's jti in store, under the policy cfg (the zero Config is the
// default policy; New copies it). New returns an error if an argument is
// missing or cfg is invalid.
func New(issuer string, clients Clients, store replay.Store, cfg Config) (*Verifier, error) {
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
// claims its jti and returns the result. It runs the checks of the package
// documentation in the order of [Step.Check] and stops at the first
// failure; the jti is claimed last, so that a rejected assertion never
// uses it up.
//
// Every error it returns is an *Error, which wraps one of the sentinel
// errors of this package: ErrKeysUnavailable, ErrClientsUnavailable and
// ErrReplayUnavailable (Code CodeServerError) mean the server could not
// decide; the others mean the request or the assertion is at fault.
func (v *Verifier) Verify(ctx context.Context, req Request) (*Result, error) {
	s := &verification{v: v, ctx: ctx, req: req}
	for i := range steps {
		if err := steps[i].run(s); err != nil {
			return nil, err
		}
	}
	c := &s.t.claims
	res := &Result{
		ClientID:  c.iss.v,
		Method:    s.client.method(),
		KeyID:     s.kid,
		Algorithm: s.alg.Name,
		JTI:       c.jti.v,
		ExpiresAt: c.exp.t,
		Host:      s.client.Host,
		payload:   req.Assertion[strings.IndexByte(req.Assertion, '.')+1 : strings.LastIndexByte(req.Assertion, '.')],
	}
	if c.iat.set {
		res.IssuedAt = c.iat.t
	}
	return res, nil
}
