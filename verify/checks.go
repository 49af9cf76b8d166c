package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pkjwt/pkjwt/internal/jose"
	"github.com/pkjwt/pkjwt/replay"
)

// This file holds the checks of Verify and Explain, one function per step,
// each returning nil or an *Error.

// checkRequest applies checks 1 and 3 to the request parameters.
func checkRequest(req Request) error {
	switch {
	case req.Assertion == "" && req.AssertionType == "":
		if req.OtherAuthentication != "" {
			return NewError(ErrNoCredentials, fmt.Errorf("%s is not accepted", req.OtherAuthentication))
		}
		return NewError(ErrNoCredentials, nil)
	case req.OtherAuthentication != "":
		return NewError(ErrMultipleMethods, fmt.Errorf("client assertion and %s", req.OtherAuthentication))
	case req.AssertionType == "":
		return NewError(ErrMissingParameter, errors.New("client_assertion_type missing"))
	case req.Assertion == "":
		return NewError(ErrMissingParameter, errors.New("client_assertion missing"))
	case req.AssertionType != AssertionType:
		return NewError(ErrAssertionType, nil)
	}
	return nil
}

// checkSyntax rejects what is not a compact JWS of bounded size: anything
// but exactly three segments of base64url characters (check 4). Go's base64
// decoder would otherwise skip CR and LF.
func checkSyntax(s string, maxLen int) error {
	if len(s) > maxLen {
		return NewError(ErrMalformed, fmt.Errorf("assertion of %d bytes exceeds %d", len(s), maxLen))
	}
	dots := 0
	for i := 0; i < len(s); i++ {
		switch base64URL[s[i]] {
		case 1:
		case 2:
			dots++
		default:
			return NewError(ErrMalformed, fmt.Errorf("byte %d is not base64url", i))
		}
	}
	if dots != 2 {
		return NewError(ErrMalformed, fmt.Errorf("%d segments, want 3 (compact JWS)", dots+1))
	}
	return nil
}

// base64URL classifies bytes for checkSyntax: 1 for the base64url
// alphabet, 2 for '.', 0 for anything else.
var base64URL = func() (t [256]byte) {
	for _, b := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[b] = 1
	}
	t['.'] = 2
	return t
}()

// checkHeader applies checks 4 (crit) and 9 (typ).
func (v *Verifier) checkHeader(h *header) error {
	if h.crit {
		// No extension is understood, so any crit entry is unknown
		// (RFC 7515 §4.1.11).
		return NewError(ErrCritical, nil)
	}
	if !h.typ.set {
		if v.cfg.RequireType {
			return NewError(ErrType, errors.New("typ required"))
		}
		return nil
	}
	s := strings.TrimPrefix(strings.ToLower(h.typ.v), "application/")
	if s != "jwt" && s != "client-authentication+jwt" {
		return NewError(ErrType, nil)
	}
	return nil
}

func checkIssuer(c *claims) error {
	if !c.iss.ok || c.iss.v == "" {
		return NewError(ErrIssuer, nil)
	}
	return nil
}

func checkSubject(c *claims) error {
	if !c.sub.ok || c.sub.v != c.iss.v {
		return NewError(ErrSubject, nil)
	}
	return nil
}

func checkClientID(req Request, c *claims) error {
	if req.ClientID != "" && req.ClientID != c.iss.v {
		return NewError(ErrClientIDMismatch, nil)
	}
	return nil
}

// client looks the client up and checks its registration.
func (v *Verifier) client(ctx context.Context, id string) (*Client, error) {
	client, err := v.clients.Client(ctx, id)
	switch {
	case errors.Is(err, ErrUnknownClient):
		return nil, NewError(ErrUnknownClient, err)
	case err != nil:
		return nil, NewError(ErrClientsUnavailable, err)
	case client == nil || client.ID != id:
		return nil, NewError(ErrUnknownClient, errors.New("client registry returned another client"))
	}
	if err := client.validate(); err != nil {
		return nil, NewError(ErrMethod, fmt.Errorf("client registration: %w", err))
	}
	if client.method() == MethodClientSecretJWT && !v.cfg.AllowClientSecretJWT {
		return nil, NewError(ErrMethod, errors.New("client_secret_jwt is not enabled"))
	}
	return client, nil
}

// lookupClient looks the client named by iss up, checks its registration
// (check 10) and whether it may use the alg (checks 6 and 16): only its
// registered token_endpoint_auth_signing_alg if it has one, HS256, HS384
// or HS512 exactly for a client_secret_jwt client.
func (s *verification) lookupClient() error {
	client, err := s.v.client(s.ctx, s.t.claims.iss.v)
	if err != nil {
		return err
	}
	switch {
	case client.SigningAlg != "" && s.alg.Name != client.SigningAlg:
		return NewError(ErrAlgorithm, errors.New("not the client's token_endpoint_auth_signing_alg"))
	case client.method() == MethodClientSecretJWT && !s.alg.Symmetric():
		return NewError(ErrAlgorithm, errors.New("client_secret_jwt requires HS256, HS384 or HS512"))
	case client.method() == MethodPrivateKeyJWT && s.alg.Symmetric():
		return NewError(ErrAlgorithm, errors.New("HS256, HS384 and HS512 are for client_secret_jwt clients"))
	}
	s.client = client
	return nil
}

// findKey applies checks 7, 8 and 16: it finds the kid and the key of the
// client that must verify the signature.
func (s *verification) findKey() error {
	h := &s.t.header
	s.kid = h.kid.v
	if h.kid.set && !h.kid.ok {
		return NewError(ErrMalformed, errors.New("kid is not a string"))
	}
	client, alg := s.client, s.alg
	if client.method() == MethodClientSecretJWT {
		if len(client.Secret) < alg.MinSecret {
			return NewError(ErrKeyRejected, fmt.Errorf("%s needs a secret of at least %d bytes", alg.Name, alg.MinSecret))
		}
		s.key = client.Secret
		return nil
	}
	key, err := client.Keys.Key(s.ctx, s.kid, alg.Name)
	switch {
	case errors.Is(err, ErrKeyNotFound):
		return NewError(ErrKeyNotFound, err)
	case errors.Is(err, ErrKeyIDRequired):
		return NewError(ErrKeyIDRequired, err)
	case err != nil:
		return NewError(ErrKeysUnavailable, err)
	}
	if key.Algorithm != "" && key.Algorithm != alg.Name {
		return NewError(ErrKeyRejected, errors.New("key alg differs from the assertion's"))
	}
	if err := alg.FitKey(key.Public); err != nil {
		return NewError(ErrKeyRejected, err)
	}
	if err := jose.CheckRSASize(key.Public, s.v.cfg.MinRSABits); err != nil {
		return NewError(ErrKeyRejected, err)
	}
	s.kid, s.key = key.ID, key.Public
	return nil
}

// checkAudience applies check 11 under the configured policy.
func (v *Verifier) checkAudience(c *claims) error {
	a := &c.aud
	switch {
	case !a.set:
		return NewError(ErrAudience, errors.New("aud missing"))
	case !a.ok:
		return NewError(ErrAudience, errors.New("aud is not a string or an array of strings"))
	}
	switch v.cfg.Audience {
	case AudienceStrict:
		if a.array {
			return NewError(ErrAudience, errors.New("aud must be a string"))
		}
	case AudienceRFC7523bis:
		if len(a.values) != 1 {
			return NewError(ErrAudience, errors.New("aud must have exactly one value"))
		}
	case AudienceLegacy:
		for _, s := range a.values {
			if s == v.issuer || slices.Contains(v.cfg.Endpoints, s) {
				return nil
			}
		}
		return NewError(ErrAudience, nil)
	}
	if a.values[0] != v.issuer {
		return NewError(ErrAudience, nil)
	}
	return nil
}

// checkExpiry applies check 12.
func (v *Verifier) checkExpiry(c *claims, now time.Time) error {
	switch {
	case !c.exp.ok:
		return NewError(ErrExpiryMissing, nil)
	case !now.Before(c.exp.t.Add(v.cfg.Leeway)):
		return NewError(ErrExpired, nil)
	case c.exp.t.Sub(now) > v.cfg.MaxLifetime:
		return NewError(ErrLifetime, nil)
	}
	return nil
}

// checkNotBefore applies check 13 to nbf.
func (v *Verifier) checkNotBefore(c *claims, now time.Time) error {
	switch {
	case !c.nbf.set:
	case !c.nbf.ok:
		return NewError(ErrNotYetValid, errors.New("nbf is not a number"))
	case c.nbf.t.After(now.Add(v.cfg.Leeway)):
		return NewError(ErrNotYetValid, nil)
	}
	return nil
}

// checkIssuedAt applies check 13 to iat.
func (v *Verifier) checkIssuedAt(c *claims, now time.Time) error {
	switch {
	case !c.iat.set:
	case !c.iat.ok:
		return NewError(ErrIssuedAt, errors.New("iat is not a number"))
	case c.iat.t.After(now.Add(v.cfg.Leeway)):
		return NewError(ErrIssuedAt, errors.New("iat in the future"))
	case now.Sub(c.iat.t) > v.cfg.MaxLifetime+v.cfg.Leeway:
		return NewError(ErrIssuedAt, errors.New("iat too old"))
	}
	return nil
}

// checkJTI applies check 14 to the jti's presence and length.
func (v *Verifier) checkJTI(c *claims) error {
	switch {
	case !c.jti.ok || c.jti.v == "":
		return NewError(ErrJTI, errors.New("jti missing"))
	case len(c.jti.v) > v.cfg.MaxJTILength:
		return NewError(ErrJTI, fmt.Errorf("jti of %d bytes exceeds %d", len(c.jti.v), v.cfg.MaxJTILength))
	}
	return nil
}

// claim records the jti as used until exp plus the leeway (check 14).
func (v *Verifier) claim(ctx context.Context, c *claims) error {
	err := v.store.Claim(ctx, replayKey(c.iss.v, c.jti.v), c.exp.t.Add(v.cfg.Leeway))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, replay.ErrReplayed):
		return NewError(ErrReplayed, err)
	}
	return NewError(ErrReplayUnavailable, err)
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
