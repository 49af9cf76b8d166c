package jwksfetch

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/MicahParks/jwkset"

	"github.com/pkjwt/pkjwt/internal/jose"
	"github.com/pkjwt/pkjwt/verify"
)

// knownMembers are the JWK members read here or by jwkset. A member whose
// name differs from one of these only in case is refused: encoding/json
// would take it for the real one where another parser would not.
var knownMembers = []string{"kty", "use", "key_ops", "alg", "kid", "x5u", "x5c", "x5t", "x5t#S256", "crv", "x", "y", "n", "e"}

// parseJWKS returns the usable signature verification keys of the JWK Set
// document doc (RFC 7517 §5), in document order, and a *KeyError for each
// JWK it left out. It returns an error wrapping ErrNotJWKS when doc is not
// a JWK Set.
//
// A JWK is usable when its kty is RSA, EC (P-256, P-384, P-521) or OKP
// (Ed25519); it has no private or symmetric members; its use, if present,
// is "sig"; its key_ops, if present, include "verify"; its alg, if present,
// fits the key (and becomes the Key's Algorithm); an RSA modulus has 2048
// to 16384 bits; and the key material is valid (jwkset checks base64url,
// the EC point, the RSA exponent and any x5c certificate). Among usable
// keys, the first with a given kid wins: later ones are left out with
// ErrDuplicateKID. Keys without kid are kept.
func parseJWKS(doc []byte) ([]verify.Key, []*KeyError, error) {
	// A map, not a struct: member names match exactly ("keys", not "KEYS").
	var set map[string]json.RawMessage
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrNotJWKS, err)
	}
	var jwks []json.RawMessage
	if b, ok := set["keys"]; !ok || json.Unmarshal(b, &jwks) != nil || jwks == nil {
		return nil, nil, fmt.Errorf("%w: no \"keys\" array", ErrNotJWKS)
	}
	var (
		keys    []verify.Key
		skipped []*KeyError
		kids    = map[string]bool{}
	)
	for i, raw := range jwks {
		k, kerr := parseJWK(i, raw)
		if kerr == nil && k.ID != "" && kids[k.ID] {
			kerr = keyError(i, k.ID, ErrDuplicateKID, "")
		}
		if kerr != nil {
			skipped = append(skipped, kerr)
			continue
		}
		kids[k.ID] = true
		keys = append(keys, k)
	}
	return keys, skipped, nil
}

// parseJWK converts one JWK, the i-th of its set, into a usable key.
func parseJWK(i int, raw json.RawMessage) (verify.Key, *KeyError) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil || members == nil {
		return verify.Key{}, keyError(i, "", ErrUnusableKey, "not a JSON object")
	}
	var kid string
	if b, ok := members["kid"]; ok {
		if err := json.Unmarshal(b, &kid); err != nil {
			return verify.Key{}, keyError(i, "", ErrUnusableKey, "kid is not a string")
		}
	}
	var kty string
	if b, ok := members["kty"]; ok {
		_ = json.Unmarshal(b, &kty) // a non-string kty is refused below
	}
	if kty == string(jwkset.KtyOct) {
		return verify.Key{}, keyError(i, kid, ErrSymmetricKey, "kty %q", kty)
	}
	// Sorted, so that the error names the same member every time; private
	// material first, whatever else is wrong.
	names := slices.Sorted(maps.Keys(members))
	for _, name := range names {
		if p, ok := jose.PrivateMember(name); ok {
			if p == "k" {
				return verify.Key{}, keyError(i, kid, ErrSymmetricKey, "member %q", name)
			}
			return verify.Key{}, keyError(i, kid, ErrPrivateKey, "member %q", name)
		}
	}
	for _, name := range names {
		for _, m := range knownMembers {
			if name != m && strings.EqualFold(name, m) {
				return verify.Key{}, keyError(i, kid, ErrUnusableKey, "member %q differs from %q only in case", name, m)
			}
		}
	}
	switch jwkset.KTY(kty) {
	case jwkset.KtyRSA, jwkset.KtyEC, jwkset.KtyOKP:
	default:
		return verify.Key{}, keyError(i, kid, ErrUnusableKey, "unsupported kty %q", kty)
	}

	var m jwkset.JWKMarshal
	if err := json.Unmarshal(raw, &m); err != nil {
		return verify.Key{}, keyError(i, kid, ErrUnusableKey, "malformed member: %v", err)
	}
	if _, ok := members["use"]; ok && m.USE != jwkset.UseSig {
		return verify.Key{}, keyError(i, kid, ErrUnusableKey, "use %q is not \"sig\"", m.USE)
	}
	if _, ok := members["key_ops"]; ok && !slices.Contains(m.KEYOPS, jwkset.KeyOpsVerify) {
		return verify.Key{}, keyError(i, kid, ErrUnusableKey, "key_ops without \"verify\"")
	}
	_, hasAlg := members["alg"]
	if hasAlg && m.ALG == "" {
		return verify.Key{}, keyError(i, kid, ErrUnusableKey, "empty alg")
	}

	// Never let jwkset build a private key (Private: false), nor fetch an
	// x5u (GetX5U nil).
	j, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
	if err != nil {
		return verify.Key{}, keyError(i, kid, ErrUnusableKey, "%v", err)
	}
	pub := j.Key()
	natural := jose.NaturalAlg(pub)
	if natural == "" {
		return verify.Key{}, keyError(i, kid, ErrUnusableKey, "not a signature key (kty %q, crv %q)", kty, m.CRV)
	}
	alg := natural
	if hasAlg {
		alg = string(m.ALG)
	}
	if a := jose.Lookup(alg); a == nil || a.Symmetric() || a.FitKey(pub) != nil {
		return verify.Key{}, keyError(i, kid, ErrUnusableKey, "alg %q does not fit the key", alg)
	}
	// The one check of an RSA key's size here: 2048 to 16384 bits.
	if err := jose.CheckRSASize(pub, jose.MinRSABits); err != nil {
		return verify.Key{}, keyError(i, kid, ErrUnusableKey, "%v", err)
	}
	return verify.Key{ID: kid, Algorithm: string(m.ALG), Public: pub}, nil
}
