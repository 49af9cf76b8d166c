package sign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
)

// jwk is a public JWK (RFC 7517, RFC 7518 §6, RFC 8037). It has no field
// for a private member, so none can be rendered.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid,omitempty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	Crv string `json:"crv,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

// publicJWK renders the public key pub (a private key is reduced to its
// public half) with the given kid and alg, for signatures.
func publicJWK(pub crypto.PublicKey, kid, alg string) (jwk, error) {
	if s, ok := pub.(crypto.Signer); ok {
		pub = s.Public()
	}
	b64 := base64.RawURLEncoding.EncodeToString
	j := jwk{Kid: kid, Alg: alg, Use: "sig"}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		j.Kty, j.N, j.E = "RSA", b64(k.N.Bytes()), b64(big.NewInt(int64(k.E)).Bytes())
	case *ecdsa.PublicKey:
		b, err := k.Bytes() // uncompressed point: 0x04 || x || y
		if err != nil {
			return jwk{}, fmt.Errorf("%w: %w", ErrUnsuitableKey, err)
		}
		size := (len(b) - 1) / 2
		j.Kty, j.Crv, j.X, j.Y = "EC", k.Curve.Params().Name, b64(b[1:1+size]), b64(b[1+size:])
	case ed25519.PublicKey:
		j.Kty, j.Crv, j.X = "OKP", "Ed25519", b64(k)
	default:
		return jwk{}, fmt.Errorf("%w: unsupported key type %T", ErrUnsuitableKey, pub)
	}
	return j, nil
}

// Thumbprint returns the RFC 7638 JWK thumbprint of pub (SHA-256,
// base64url): the hash of the key's required JWK members in lexicographic
// order. It is the default kid of a [Signer]. A private key is reduced to
// its public half. It returns an error wrapping [ErrUnsuitableKey] for an
// unsupported key type.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	j, err := publicJWK(pub, "", "")
	if err != nil {
		return "", err
	}
	// Struct fields in lexicographic order, with no other member.
	var members any
	switch j.Kty {
	case "RSA":
		members = struct {
			E   string `json:"e"`
			Kty string `json:"kty"`
			N   string `json:"n"`
		}{j.E, j.Kty, j.N}
	case "EC":
		members = struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
			Y   string `json:"y"`
		}{j.Crv, j.Kty, j.X, j.Y}
	default:
		members = struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
		}{j.Crv, j.Kty, j.X}
	}
	b, err := json.Marshal(members)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}
