package verify

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pkjwt/pkjwt/internal/jose"
)

// AssertionType is the only client_assertion_type a Verifier accepts
// (RFC 7523 §2.2).
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// AudiencePolicy says which aud values identify this server.
type AudiencePolicy int

const (
	// AudienceRFC7523bis accepts an aud that is the issuer identifier, as a
	// JSON string or a one-element array (draft-ietf-oauth-rfc7523bis §4).
	// It is the default.
	AudienceRFC7523bis AudiencePolicy = iota
	// AudienceStrict accepts only a JSON string equal to the issuer
	// identifier (FAPI 2.0 Security Profile §5.3.2.1).
	AudienceStrict
	// AudienceLegacy accepts an aud with any member equal to the issuer
	// identifier or one of [Config.Endpoints], for clients built to RFC 7523
	// (2015). It admits the 2025 audience-injection attacks; prefer the
	// others.
	AudienceLegacy
)

var audienceNames = [...]string{"rfc7523bis", "strict", "legacy"}

// String returns "rfc7523bis", "strict" or "legacy".
func (p AudiencePolicy) String() string {
	if p < 0 || int(p) >= len(audienceNames) {
		return fmt.Sprintf("AudiencePolicy(%d)", int(p))
	}
	return audienceNames[p]
}

// ParseAudiencePolicy returns the policy named "rfc7523bis", "strict" or
// "legacy" (the names of [AudiencePolicy.String]).
func ParseAudiencePolicy(name string) (AudiencePolicy, error) {
	if i := slices.Index(audienceNames[:], name); i >= 0 {
		return AudiencePolicy(i), nil
	}
	return 0, fmt.Errorf("verify: unknown audience policy %q (want rfc7523bis, strict or legacy)", name)
}

// Defaults of [Config], each documented on its field.
const (
	defaultLeeway             = 15 * time.Second
	defaultMaxLifetime        = 10 * time.Minute
	defaultMaxJTILength       = 256
	defaultMaxAssertionLength = 16 << 10
)

// DefaultAlgorithms returns the algs accepted by default: RS256, RS384,
// RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA and Ed25519 (the
// asymmetric algs of the package documentation's table).
func DefaultAlgorithms() []string { return jose.Asymmetric() }

// FAPIAlgorithms returns the algs FAPI 2.0 Security Profile §5.4 permits:
// PS256, ES256 and EdDSA with Ed25519, under both of its names (EdDSA and
// Ed25519, RFC 9864).
func FAPIAlgorithms() []string { return []string{"PS256", "ES256", "EdDSA", "Ed25519"} }

// Config is the policy of a [Verifier]. The zero value is the default
// policy; each field documents its zero value and what a negative value
// means, following the package's configuration rule.
type Config struct {
	// Audience is the aud policy. Zero: AudienceRFC7523bis.
	Audience AudiencePolicy
	// Endpoints are further aud values accepted under AudienceLegacy, such
	// as the token endpoint URL. Compared exactly. Setting them under
	// another policy is an error.
	Endpoints []string
	// Algorithms is the allow-list of asymmetric algs for private_key_jwt,
	// compared exactly. Nil: DefaultAlgorithms. Empty (non-nil): an error.
	// "none" and HS* are never accepted here.
	Algorithms []string
	// AllowClientSecretJWT lets clients registered with
	// MethodClientSecretJWT authenticate (HS256, HS384, HS512). False: such
	// clients are refused with ErrMethod.
	AllowClientSecretJWT bool
	// Leeway is the clock skew tolerated on exp, nbf and iat. Zero: 15 s.
	// Negative: none.
	Leeway time.Duration
	// MaxLifetime bounds how far ahead exp may lie (exp - now), and how old
	// iat may be. Zero: 10 min. Negative: an error.
	MaxLifetime time.Duration
	// MaxJTILength bounds jti, in bytes. Zero: 256. Negative: an error.
	MaxJTILength int
	// MinRSABits is the smallest RSA modulus accepted. Zero: 2048; smaller
	// values (negative ones too) are an error.
	MinRSABits int
	// MaxAssertionLength bounds the assertion, in bytes. Zero: 16 KiB.
	// Negative: an error.
	MaxAssertionLength int
	// RequireType rejects assertions without a typ header. False: a missing
	// typ is accepted (rfc7523bis: rejecting it is NOT RECOMMENDED); a
	// present one must still be JWT or client-authentication+jwt.
	RequireType bool
	// Now returns the current time. Nil: time.Now.
	Now func() time.Time
}

// withDefaults returns a validated copy of cfg with zero values replaced.
func (cfg Config) withDefaults() (Config, error) {
	cfg.Endpoints = slices.Clone(cfg.Endpoints)
	if cfg.Audience < AudienceRFC7523bis || cfg.Audience > AudienceLegacy {
		return cfg, fmt.Errorf("verify: unknown audience policy %d", cfg.Audience)
	}
	if len(cfg.Endpoints) > 0 && cfg.Audience != AudienceLegacy {
		return cfg, errors.New("verify: Endpoints are accepted as aud only under AudienceLegacy")
	}
	if slices.Contains(cfg.Endpoints, "") {
		return cfg, errors.New("verify: empty endpoint")
	}
	if cfg.Algorithms == nil {
		cfg.Algorithms = DefaultAlgorithms()
	} else {
		if len(cfg.Algorithms) == 0 {
			return cfg, errors.New("verify: empty Algorithms")
		}
		cfg.Algorithms = slices.Clone(cfg.Algorithms)
		for _, alg := range cfg.Algorithms {
			if a := jose.Lookup(alg); a == nil || a.Symmetric() {
				return cfg, fmt.Errorf("verify: alg %q not supported for private_key_jwt (supported: %v)", alg, DefaultAlgorithms())
			}
		}
	}
	switch {
	case cfg.Leeway == 0:
		cfg.Leeway = defaultLeeway
	case cfg.Leeway < 0:
		cfg.Leeway = 0
	}
	switch {
	case cfg.MaxLifetime == 0:
		cfg.MaxLifetime = defaultMaxLifetime
	case cfg.MaxLifetime < 0:
		return cfg, errors.New("verify: negative MaxLifetime")
	}
	switch {
	case cfg.MaxJTILength == 0:
		cfg.MaxJTILength = defaultMaxJTILength
	case cfg.MaxJTILength < 0:
		return cfg, errors.New("verify: negative MaxJTILength")
	}
	switch {
	case cfg.MinRSABits == 0:
		cfg.MinRSABits = jose.MinRSABits
	case cfg.MinRSABits < jose.MinRSABits:
		return cfg, fmt.Errorf("verify: MinRSABits %d below %d", cfg.MinRSABits, jose.MinRSABits)
	}
	switch {
	case cfg.MaxAssertionLength == 0:
		cfg.MaxAssertionLength = defaultMaxAssertionLength
	case cfg.MaxAssertionLength < 0:
		return cfg, errors.New("verify: negative MaxAssertionLength")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg, nil
}
