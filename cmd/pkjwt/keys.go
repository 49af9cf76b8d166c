package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/MicahParks/jwkset"

	"github.com/pkjwt/pkjwt/internal/jose"
)

// keyTypes are the -type values of keygen.
var keyTypes = []string{"rsa", "p256", "p384", "ed25519"}

// generateKey returns a new private key of the given keygen type; bits is
// the RSA modulus size and is ignored for the others.
func generateKey(typ string, bits int) (crypto.Signer, error) {
	switch typ {
	case "rsa":
		if bits < 2048 {
			return nil, fmt.Errorf("RSA keys need at least 2048 bits, not %d", bits)
		}
		return rsa.GenerateKey(rand.Reader, bits)
	case "p256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p384":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("unknown key type %q (want rsa, p256, p384 or ed25519)", typ)
}

// defaultAlg returns the JWS alg a key signs with unless told otherwise:
// RS256, ES256, ES384, ES512 or EdDSA (see package internal/jose).
func defaultAlg(pub crypto.PublicKey) (string, error) {
	if alg := jose.NaturalAlg(pub); alg != "" {
		return alg, nil
	}
	if k, ok := pub.(*ecdsa.PublicKey); ok {
		return "", fmt.Errorf("unsupported curve %s", k.Curve.Params().Name)
	}
	return "", fmt.Errorf("unsupported key type %T", pub)
}

// signingKey is a private key with the JWK metadata it came with, if any.
type signingKey struct {
	signer crypto.Signer
	kid    string // the JWK's kid; empty for PEM keys
	alg    string // the JWK's alg; empty for PEM keys
	jwk    bool   // read from a JWK
}

// readSigningKey reads a private key from file: PEM (PKCS #8, PKCS #1 or
// SEC 1), a private JWK, or a JWK Set holding exactly one private key (or
// several, one of which has the ID kid).
func readSigningKey(file, kid string) (signingKey, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return signingKey{}, err
	}
	return parseSigningKey(b, kid)
}

func parseSigningKey(b []byte, kid string) (signingKey, error) {
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return parsePrivateJWK(trimmed, kid)
	}
	for rest := b; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return signingKey{}, errors.New("no PEM private key or JWK found")
		}
		var (
			k   any
			err error
		)
		switch block.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return signingKey{}, errors.New("encrypted PEM keys are not supported; decrypt it first (openssl pkcs8)")
		default:
			continue // e.g. EC PARAMETERS before an EC PRIVATE KEY
		}
		if err != nil {
			return signingKey{}, fmt.Errorf("PEM %s: %w", block.Type, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return signingKey{}, fmt.Errorf("unsupported private key type %T", k)
		}
		if _, err := defaultAlg(s.Public()); err != nil {
			return signingKey{}, err
		}
		return signingKey{signer: s}, nil
	}
}

// parsePrivateJWK parses a private JWK, or a JWK Set from which it picks
// the one private key (or the one with ID kid).
func parsePrivateJWK(b []byte, kid string) (signingKey, error) {
	var probe struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return signingKey{}, fmt.Errorf("JWK: %w", err)
	}
	if probe.Keys == nil {
		return privateJWK(b)
	}
	var found []signingKey
	for i, raw := range probe.Keys {
		k, err := privateJWK(raw)
		if err != nil {
			return signingKey{}, fmt.Errorf("JWK Set: keys[%d]: %w", i, err)
		}
		if kid == "" || k.kid == kid {
			found = append(found, k)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) == 0 && kid != "":
		return signingKey{}, fmt.Errorf("JWK Set: no key with kid %q", kid)
	case len(found) == 0:
		return signingKey{}, errors.New("JWK Set: no keys")
	}
	return signingKey{}, errors.New("JWK Set: several keys; choose one with -kid")
}

func privateJWK(raw []byte) (signingKey, error) {
	j, err := jwkset.NewJWKFromRawJSON(raw, jwkset.JWKMarshalOptions{Private: true}, jwkset.JWKValidateOptions{})
	if err != nil {
		return signingKey{}, fmt.Errorf("JWK: %w", err)
	}
	s, ok := j.Key().(crypto.Signer)
	if !ok || isPublic(j.Key()) {
		return signingKey{}, errors.New("JWK: not a private key (no \"d\")")
	}
	if _, err := defaultAlg(s.Public()); err != nil {
		return signingKey{}, fmt.Errorf("JWK: %w", err)
	}
	m := j.Marshal()
	return signingKey{signer: s, kid: m.KID, alg: string(m.ALG), jwk: true}, nil
}

func isPublic(k any) bool {
	switch k.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return true
	}
	return false
}

// jwkOf renders key (public, or private with private set) as a JWK with the
// given kid, alg and use.
func jwkOf(key any, kid, alg, use string, private bool) (jwkset.JWKMarshal, error) {
	opts := jwkset.JWKOptions{
		Marshal:  jwkset.JWKMarshalOptions{Private: private},
		Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: jwkset.ALG(alg), USE: jwkset.USE(use)},
	}
	j, err := jwkset.NewJWKFromKey(key, opts)
	if err != nil {
		return jwkset.JWKMarshal{}, err
	}
	return j.Marshal(), nil
}

// thumbprint returns the RFC 7638 JWK thumbprint (SHA-256, base64url) of
// pub: the hash of its required members in lexicographic order.
func thumbprint(pub crypto.PublicKey) (string, error) {
	m, err := jwkOf(pub, "", "", "", false)
	if err != nil {
		return "", err
	}
	var members any
	switch m.KTY {
	case jwkset.KtyRSA:
		members = struct {
			E   string `json:"e"`
			KTY string `json:"kty"`
			N   string `json:"n"`
		}{m.E, string(m.KTY), m.N}
	case jwkset.KtyEC:
		members = struct {
			CRV string `json:"crv"`
			KTY string `json:"kty"`
			X   string `json:"x"`
			Y   string `json:"y"`
		}{string(m.CRV), string(m.KTY), m.X, m.Y}
	case jwkset.KtyOKP:
		members = struct {
			CRV string `json:"crv"`
			KTY string `json:"kty"`
			X   string `json:"x"`
		}{string(m.CRV), string(m.KTY), m.X}
	default:
		return "", fmt.Errorf("no thumbprint for kty %q", m.KTY)
	}
	b, err := json.Marshal(members)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// publicJWKS renders the public halves of keys as a JWK Set document, with
// use "sig".
func publicJWKS(keys ...signingKey) ([]byte, error) {
	set := jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{}}
	for _, k := range keys {
		m, err := jwkOf(k.signer.Public(), k.kid, k.alg, string(jwkset.UseSig), false)
		if err != nil {
			return nil, err
		}
		set.Keys = append(set.Keys, m)
	}
	return json.MarshalIndent(set, "", "  ")
}

// privateKeyFile renders key in format "pem" (PKCS #8) or "jwk".
func privateKeyFile(k signingKey, format string) ([]byte, error) {
	switch format {
	case "pem":
		der, err := x509.MarshalPKCS8PrivateKey(k.signer)
		if err != nil {
			return nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	case "jwk":
		m, err := jwkOf(k.signer, k.kid, k.alg, string(jwkset.UseSig), true)
		if err != nil {
			return nil, err
		}
		b, err := json.MarshalIndent(m, "", "  ")
		return append(b, '\n'), err
	}
	return nil, fmt.Errorf("unknown key format %q (want pem or jwk)", format)
}

// writeNewFile writes data to name with the given mode. It refuses to
// replace an existing file unless force is set, in which case it replaces
// it atomically (so that the result has mode perm, whatever the old file
// had).
func writeNewFile(name string, data []byte, perm os.FileMode, force bool) error {
	if !force {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s exists; use -force to replace it", name)
		}
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(name)
		}
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
