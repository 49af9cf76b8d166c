package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// RSA modulus bounds, in bits. MinRSABits is the floor of RFC 8725 §3.5
// and FAPI 2.0 Security Profile §5.4; MaxRSABits bounds the cost of one
// signature check, which a client's registration could otherwise inflate.
const (
	MinRSABits = 2048
	MaxRSABits = 16384
)

type family int

const (
	rsaPKCS1 family = iota + 1
	rsaPSS
	ecdsaSig
	eddsa
	hmacSig
)

// Alg is one JWS algorithm of the table.
type Alg struct {
	// Name is the JWS alg.
	Name   string
	family family
	hash   crypto.Hash
	curve  elliptic.Curve
	// MinSecret is, for HMAC algs, the shortest secret in bytes (the hash
	// size, RFC 7518 §3.2); zero for the others.
	MinSecret int
}

var table = [...]Alg{
	{Name: "RS256", family: rsaPKCS1, hash: crypto.SHA256},
	{Name: "RS384", family: rsaPKCS1, hash: crypto.SHA384},
	{Name: "RS512", family: rsaPKCS1, hash: crypto.SHA512},
	{Name: "PS256", family: rsaPSS, hash: crypto.SHA256},
	{Name: "PS384", family: rsaPSS, hash: crypto.SHA384},
	{Name: "PS512", family: rsaPSS, hash: crypto.SHA512},
	{Name: "ES256", family: ecdsaSig, hash: crypto.SHA256, curve: elliptic.P256()},
	{Name: "ES384", family: ecdsaSig, hash: crypto.SHA384, curve: elliptic.P384()},
	{Name: "ES512", family: ecdsaSig, hash: crypto.SHA512, curve: elliptic.P521()},
	{Name: "EdDSA", family: eddsa},
	{Name: "Ed25519", family: eddsa},
	{Name: "HS256", family: hmacSig, hash: crypto.SHA256, MinSecret: 32},
	{Name: "HS384", family: hmacSig, hash: crypto.SHA384, MinSecret: 48},
	{Name: "HS512", family: hmacSig, hash: crypto.SHA512, MinSecret: 64},
}

// Lookup returns the alg named name, or nil.
func Lookup(name string) *Alg {
	for i := range table {
		if table[i].Name == name {
			return &table[i]
		}
	}
	return nil
}

// Asymmetric returns the names of the public-key algs, in table order.
func Asymmetric() []string {
	var names []string
	for _, a := range table {
		if a.family != hmacSig {
			names = append(names, a.Name)
		}
	}
	return names
}

// Symmetric reports whether a is an HMAC alg.
func (a *Alg) Symmetric() bool { return a.family == hmacSig }

var errKeyType = errors.New("key type does not fit alg")

// FitKey reports whether pub, a public key, has the type (and curve) that
// a requires. It does not check an RSA key's size: see [CheckRSASize].
func (a *Alg) FitKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k != nil && k.N != nil && (a.family == rsaPKCS1 || a.family == rsaPSS) {
			return nil
		}
	case *ecdsa.PublicKey:
		if k != nil && a.family == ecdsaSig && k.Curve == a.curve {
			return nil
		}
	case ed25519.PublicKey:
		if a.family == eddsa && len(k) == ed25519.PublicKeySize {
			return nil
		}
	default:
		if err := PublicKeyType(pub); err != nil {
			return err
		}
	}
	return errKeyType
}

// PublicKeyType returns an error unless pub is a usable public key type:
// *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey. Private keys and
// symmetric keys get errors saying so.
func PublicKeyType(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k != nil && k.N != nil {
			return nil
		}
	case *ecdsa.PublicKey:
		if k != nil {
			return nil
		}
	case ed25519.PublicKey:
		if len(k) == ed25519.PublicKeySize {
			return nil
		}
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey, *ed25519.PrivateKey:
		return errors.New("private key where a public key is required")
	case []byte, string:
		return errors.New("symmetric key where a public key is required")
	}
	return fmt.Errorf("unsupported key type %T", pub)
}

// CheckRSASize returns an error if pub is an RSA key with fewer than
// minBits or more than MaxRSABits bits. Other keys pass.
func CheckRSASize(pub crypto.PublicKey, minBits int) error {
	if k, ok := pub.(*rsa.PublicKey); ok && k != nil && k.N != nil {
		if n := k.N.BitLen(); n < minBits || n > MaxRSABits {
			return fmt.Errorf("RSA key of %d bits, want %d to %d", n, minBits, MaxRSABits)
		}
	}
	return nil
}

// NaturalAlg returns the alg a public key signs with unless told
// otherwise: RS256, ES256, ES384, ES512 or EdDSA; or "" for another type or
// curve.
func NaturalAlg(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RS256"
	case *ecdsa.PublicKey:
		for _, a := range table {
			if a.family == ecdsaSig && a.curve == k.Curve {
				return a.Name
			}
		}
	case ed25519.PublicKey:
		return "EdDSA"
	}
	return ""
}

// ErrSignature is returned by Verify for a signature that does not verify.
var ErrSignature = errors.New("signature does not verify")

// Verify checks sig, the decoded signature of the JWS signing input
// signing, under a with key: a public key that fits a (see FitKey), or the
// secret []byte of an HMAC alg. The input is hashed once.
func (a *Alg) Verify(key any, signing, sig []byte) error {
	if a.family == eddsa {
		k, ok := key.(ed25519.PublicKey)
		if !ok || len(k) != ed25519.PublicKeySize {
			return errKeyType
		}
		if !ed25519.Verify(k, signing, sig) {
			return ErrSignature
		}
		return nil
	}
	if a.family == hmacSig {
		secret, ok := key.([]byte)
		if !ok {
			return errKeyType
		}
		mac := hmac.New(a.hash.New, secret)
		mac.Write(signing)
		if !hmac.Equal(sig, mac.Sum(nil)) {
			return ErrSignature
		}
		return nil
	}
	var buf [sha512.Size]byte
	digest := a.digest(signing, &buf)
	switch a.family {
	case rsaPKCS1, rsaPSS:
		k, ok := key.(*rsa.PublicKey)
		if !ok || k == nil {
			return errKeyType
		}
		var err error
		if a.family == rsaPKCS1 {
			err = rsa.VerifyPKCS1v15(k, a.hash, digest, sig)
		} else {
			// Any salt length, as golang-jwt and go-jose accept: RFC 7518
			// §3.5 fixes it for signers.
			err = rsa.VerifyPSS(k, a.hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
		}
		if err != nil {
			return ErrSignature
		}
		return nil
	case ecdsaSig:
		k, ok := key.(*ecdsa.PublicKey)
		if !ok || k == nil || k.Curve != a.curve {
			return errKeyType
		}
		// R and S, each as long as the curve's order (RFC 7518 §3.4).
		size := (a.curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return ErrSignature
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(k, digest, r, s) {
			return ErrSignature
		}
		return nil
	}
	return errKeyType
}

// digest hashes b with a's hash into buf, without allocating.
func (a *Alg) digest(b []byte, buf *[sha512.Size]byte) []byte {
	switch a.hash {
	case crypto.SHA256:
		*(*[sha256.Size]byte)(buf[:]) = sha256.Sum256(b)
		return buf[:sha256.Size]
	case crypto.SHA384:
		*(*[sha512.Size384]byte)(buf[:]) = sha512.Sum384(b)
		return buf[:sha512.Size384]
	}
	*buf = sha512.Sum512(b)
	return buf[:]
}

// Sign returns the JWS signature of signing under a with key: a
// crypto.Signer whose public key fits a, or the secret []byte of an HMAC
// alg. ECDSA signatures are converted to the fixed-size R || S form.
func (a *Alg) Sign(key any, signing []byte) ([]byte, error) {
	if a.family == hmacSig {
		secret, ok := key.([]byte)
		if !ok {
			return nil, errKeyType
		}
		mac := hmac.New(a.hash.New, secret)
		mac.Write(signing)
		return mac.Sum(nil), nil
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%T is not a crypto.Signer", key)
	}
	if err := a.FitKey(signer.Public()); err != nil {
		return nil, err
	}
	if a.family == eddsa {
		return signer.Sign(rand.Reader, signing, crypto.Hash(0))
	}
	var buf [sha512.Size]byte
	digest := a.digest(signing, &buf)
	switch a.family {
	case rsaPKCS1:
		return signer.Sign(rand.Reader, digest, a.hash)
	case rsaPSS:
		return signer.Sign(rand.Reader, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: a.hash})
	}
	der, err := signer.Sign(rand.Reader, digest, a.hash)
	if err != nil {
		return nil, err
	}
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) != 0 {
		return nil, errors.New("ECDSA signer returned a malformed signature")
	}
	size := (a.curve.Params().BitSize + 7) / 8
	sig := make([]byte, 2*size)
	rs.R.FillBytes(sig[:size])
	rs.S.FillBytes(sig[size:])
	return sig, nil
}

// privateMembers are the JWK members that carry private or secret key
// material (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
var privateMembers = [...]string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// PrivateMember reports whether a JWK member named name carries private or
// symmetric key material, and which member it is. Names match
// case-insensitively, because encoding/json matches struct fields that way:
// a "D" would reach another parser's "d".
func PrivateMember(name string) (string, bool) {
	for _, p := range privateMembers {
		if strings.EqualFold(name, p) {
			return p, true
		}
	}
	return "", false
}
