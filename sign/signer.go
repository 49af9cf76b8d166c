package sign

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/pkjwt/pkjwt/internal/jose"
	"github.com/pkjwt/pkjwt/verify"
)

// Lifetime bounds of an assertion (Config.Lifetime).
const (
	// DefaultLifetime is an assertion's lifetime (exp - iat) unless
	// configured: long enough for a slow network and a skewed clock, short
	// enough for servers that cap it at one minute (Keycloak's default).
	DefaultLifetime = 60 * time.Second

	// MaxLifetime is the longest lifetime a Signer accepts: what pkjwt's
	// verifier accepts by default (verify.Config.MaxLifetime). A longer one
	// widens the window in which a stolen assertion is useful and makes
	// servers keep its jti longer.
	MaxLifetime = 10 * time.Minute
)

// DefaultType is the typ header of assertions unless configured.
const DefaultType = "JWT"

// Config is the policy of a [Signer]. The zero value (or a nil *Config) is
// the default; each field documents its zero value.
type Config struct {
	// Algorithm is the JWS alg. Empty: RS256 for an RSA key, ES256, ES384
	// or ES512 by the curve of an ECDSA key (P-256, P-384, P-521), EdDSA for
	// an Ed25519 key. An RSA key may use RS256, RS384, RS512, PS256, PS384
	// or PS512; any other key only its own alg.
	Algorithm string

	// KeyID is the kid header, which tells the server which of the
	// client's registered keys to use. Empty: the key's RFC 7638 JWK
	// thumbprint (SHA-256), as [Thumbprint] computes it and as
	// `pkjwt keygen` puts in the JWK Set.
	KeyID string

	// OmitKeyID leaves kid out of the header. Servers then must find the
	// key without it, which fails once the client has registered a second
	// key (during a rotation, for instance).
	OmitKeyID bool

	// Type is the typ header. Empty: DefaultType ("JWT"), which every
	// server we know accepts; "client-authentication+jwt" is the explicit
	// type of draft-ietf-oauth-rfc7523bis.
	Type string

	// OmitType leaves typ out of the header.
	OmitType bool

	// Lifetime is exp - iat. Zero: DefaultLifetime (60 s). It must not be
	// negative or exceed MaxLifetime.
	Lifetime time.Duration

	// Audience, when set, replaces the aud claim, which is otherwise the
	// issuer identifier given to NewSigner. One value is encoded as a JSON
	// string, several as an array.
	//
	// Use it only for a server that still wants its token endpoint URL as
	// aud (RFC 7523 of 2015; fosite and Ory Hydra, for instance). Such an
	// assertion is accepted by every server that answers at that URL and by
	// every server that accepts any of several aud values: a client that
	// takes its endpoint URLs from a malicious server's metadata signs an
	// assertion that server can replay to the real one (the 2025
	// audience-injection attacks that draft-ietf-oauth-rfc7523bis fixes by
	// requiring the issuer identifier alone). Prefer the issuer.
	Audience []string

	// AudienceArray encodes a single aud value as a one-element JSON array
	// rather than a string. False: a string, which every server accepts
	// (FAPI 2.0 requires it).
	AudienceArray bool

	// Now returns the current time, for iat and exp. Nil: time.Now.
	Now func() time.Time
}

// Signer makes client assertions (RFC 7523 §2.2 and §3, OpenID Connect
// Core §9) for one client with one key. It is safe for concurrent use.
//
// Every assertion has iss = sub = the client_id, aud = the authorization
// server's issuer identifier (unless [Config.Audience] says otherwise), iat
// = now, exp = now + the lifetime, a jti of 128 random bits, and a header
// with alg, kid and typ. The key is any crypto.Signer: an in-memory key, or
// one held by a KMS, an HSM or an agent.
type Signer struct {
	clientID string
	key      crypto.Signer
	pub      crypto.PublicKey
	alg      *jose.Alg
	kid      string
	sigSize  int // bytes of a signature
	lifetime time.Duration
	now      func() time.Time

	header       string // base64url of the header, and "."
	claimsPrefix []byte // `{"iss":…,"sub":…,"aud":…,"iat":`
}

// NewSigner returns a Signer for the client clientID of the authorization
// server whose issuer identifier is issuer (the aud of its assertions),
// signing with key. A nil cfg means the default policy; cfg is copied.
//
// It returns an error wrapping [ErrInvalidConfig] for an empty or invalid
// clientID or issuer or an invalid cfg, and one wrapping
// [ErrUnsuitableKey] when key cannot sign with the alg: an unsupported key
// type or curve, an alg of another key type, or RSA under 2048 bits.
func NewSigner(clientID string, key crypto.Signer, issuer string, cfg *Config) (*Signer, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	switch {
	case clientID == "":
		return nil, fmt.Errorf("%w: empty client_id", ErrInvalidConfig)
	case !utf8.ValidString(clientID):
		return nil, fmt.Errorf("%w: client_id is not valid UTF-8", ErrInvalidConfig)
	case issuer == "" && len(c.Audience) == 0:
		return nil, fmt.Errorf("%w: empty issuer", ErrInvalidConfig)
	case !utf8.ValidString(issuer):
		return nil, fmt.Errorf("%w: issuer is not valid UTF-8", ErrInvalidConfig)
	case key == nil:
		return nil, fmt.Errorf("%w: nil key", ErrUnsuitableKey)
	case c.Lifetime < 0 || c.Lifetime > MaxLifetime:
		return nil, fmt.Errorf("%w: lifetime %v not in (0, %v]", ErrInvalidConfig, c.Lifetime, MaxLifetime)
	case c.KeyID != "" && c.OmitKeyID:
		return nil, fmt.Errorf("%w: KeyID and OmitKeyID both set", ErrInvalidConfig)
	case c.Type != "" && c.OmitType:
		return nil, fmt.Errorf("%w: Type and OmitType both set", ErrInvalidConfig)
	}
	for _, a := range c.Audience {
		if a == "" || !utf8.ValidString(a) {
			return nil, fmt.Errorf("%w: empty or invalid Audience value", ErrInvalidConfig)
		}
	}
	s := &Signer{clientID: clientID, key: key, pub: key.Public(), lifetime: c.Lifetime, now: c.Now}
	if s.lifetime == 0 {
		s.lifetime = DefaultLifetime
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.setAlg(c.Algorithm); err != nil {
		return nil, err
	}
	switch {
	case c.OmitKeyID:
	case c.KeyID != "":
		s.kid = c.KeyID
	default:
		kid, err := Thumbprint(s.pub)
		if err != nil {
			return nil, err
		}
		s.kid = kid
	}
	typ := c.Type
	if typ == "" && !c.OmitType {
		typ = DefaultType
	}

	header, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid,omitempty"`
		Typ string `json:"typ,omitempty"`
	}{s.alg.Name, s.kid, typ})
	if err != nil {
		return nil, err
	}
	s.header = base64.RawURLEncoding.EncodeToString(header) + "."

	aud := c.Audience
	if len(aud) == 0 {
		aud = []string{issuer}
	}
	var audJSON []byte
	if len(aud) == 1 && !c.AudienceArray {
		audJSON, err = json.Marshal(aud[0])
	} else {
		audJSON, err = json.Marshal(aud)
	}
	if err != nil {
		return nil, err
	}
	id, err := json.Marshal(clientID)
	if err != nil {
		return nil, err
	}
	p := append([]byte(`{"iss":`), id...)
	p = append(p, `,"sub":`...)
	p = append(p, id...)
	p = append(p, `,"aud":`...)
	p = append(p, audJSON...)
	s.claimsPrefix = append(p, `,"iat":`...)
	return s, nil
}

// setAlg validates alg (empty: the key's default) against the key and
// sets the signing parameters.
func (s *Signer) setAlg(alg string) error {
	if alg == "" {
		var err error
		if alg, err = jose.DefaultAlg(s.pub); err != nil {
			return fmt.Errorf("%w: %w", ErrUnsuitableKey, err)
		}
	}
	a := jose.Lookup(alg)
	if a == nil || a.Symmetric() {
		return fmt.Errorf("%w: alg %q: want one of %v", ErrUnsuitableKey, alg, jose.Asymmetric())
	}
	if err := verify.CheckKey(s.pub, alg, jose.MinRSABits); err != nil {
		return fmt.Errorf("%w: alg %s: %w", ErrUnsuitableKey, alg, err)
	}
	s.alg = a
	s.sigSize = a.SignatureSize(s.pub)
	return nil
}

// ClientID returns the client_id the Signer's assertions name.
func (s *Signer) ClientID() string { return s.clientID }

// Algorithm returns the JWS alg of the Signer's assertions.
func (s *Signer) Algorithm() string { return s.alg.Name }

// KeyID returns the kid of the Signer's assertions; empty with
// [Config.OmitKeyID].
func (s *Signer) KeyID() string { return s.kid }

// Public returns the public key of the Signer's key.
func (s *Signer) Public() crypto.PublicKey { return s.pub }

// Lifetime returns exp - iat of the Signer's assertions.
func (s *Signer) Lifetime() time.Duration { return s.lifetime }

// Assertion returns a new client assertion: a fresh jti and iat for every
// call, so that it can be sent once (servers refuse a jti they have seen).
// Send it as client_assertion with client_assertion_type
// urn:ietf:params:oauth:client-assertion-type:jwt-bearer.
//
// Its signature fits golang.org/x/oauth2's proposed
// clientcredentials.Config.ClientAssertionFn. ctx is checked before
// signing; a crypto.Signer (a KMS client, say) has no context of its own.
// It returns an error wrapping [ErrSign] when the key fails to sign.
func (s *Signer) Assertion(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	var jti [16]byte
	rand.Read(jti[:]) // never fails (crypto/rand)
	now := s.now()
	b := make([]byte, 0, len(s.claimsPrefix)+64)
	b = append(b, s.claimsPrefix...)
	b = strconv.AppendInt(b, now.Unix(), 10)
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, now.Add(s.lifetime).Unix(), 10)
	b = append(b, `,"jti":"`...)
	b = base64.RawURLEncoding.AppendEncode(b, jti[:])
	b = append(b, `"}`...)
	return s.sign(b)
}

// Sign signs claims, which must marshal to a JSON object, with the
// Signer's key and header (alg, kid, typ) and adds nothing: for
// assertions of another shape, such as the authorization grants of RFC
// 7523 §2.1, or deliberately broken ones in tests. Client authentication
// wants [Signer.Assertion].
//
// It returns an error wrapping [ErrInvalidConfig] when claims is not a
// JSON object, and one wrapping [ErrSign] when the key fails to sign.
func (s *Signer) Sign(ctx context.Context, claims any) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	b, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("%w: claims: %w", ErrInvalidConfig, err)
	}
	if len(b) == 0 || b[0] != '{' {
		return "", fmt.Errorf("%w: claims are not a JSON object", ErrInvalidConfig)
	}
	return s.sign(b)
}

// sign returns the compact JWS of claims.
func (s *Signer) sign(claims []byte) (string, error) {
	enc := base64.RawURLEncoding
	out := make([]byte, 0, len(s.header)+enc.EncodedLen(len(claims))+1+enc.EncodedLen(s.sigSize))
	out = append(out, s.header...)
	out = enc.AppendEncode(out, claims)
	// The alg table signs, converts ECDSA's DER to r||s and checks the
	// signature's form and length.
	sig, err := s.alg.SignAs(s.key, s.pub, out)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrSign, err)
	}
	out = append(out, '.')
	out = enc.AppendEncode(out, sig)
	return string(out), nil
}
