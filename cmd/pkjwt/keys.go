package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/MicahParks/jwkset"

	"github.com/pkjwt/pkjwt/internal/jose"
	"github.com/pkjwt/pkjwt/sign"
	"github.com/pkjwt/pkjwt/verify"
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

// signingKey is a private key with the kid and alg of its header. As
// read, kid and alg are the JWK's (empty for PEM keys); keyFlags.load
// settles them.
type signingKey struct {
	signer crypto.Signer
	kid    string // the header's kid; empty: none
	alg    string // the header's alg
	jwkAlg string // the JWK's alg as read, if any
	jwk    bool   // read from a JWK
}

// keyFlags are the client key flags of mint, token and probe: -key,
// -demo-key (where the command has it), -kid and -alg.
type keyFlags struct {
	fs   *flag.FlagSet
	file *string
	demo *bool // nil without -demo-key
	kid  *string
	alg  *string
}

// addKeyFlags defines the key flags on fs, -demo-key if demo is set, with
// algHelp as -alg's usage.
func addKeyFlags(fs *flag.FlagSet, demo bool, algHelp string) *keyFlags {
	k := &keyFlags{fs: fs}
	k.file = fs.String("key", "", "the client's private key `file`: PEM (PKCS #8, PKCS #1, SEC 1) or JWK")
	if demo {
		k.demo = fs.Bool("demo-key", false, "sign with the built-in demo client key (public, for 'pkjwt serve' without -config only)")
	}
	k.kid = fs.String("kid", "", "kid header (default: the JWK's kid, or the key's RFC 7638 thumbprint; -kid= omits it)")
	k.alg = fs.String("alg", "", algHelp)
	return k
}

// demoKey reports whether -demo-key was given.
func (k *keyFlags) demoKey() bool { return k.demo != nil && *k.demo }

// check returns a usage error unless exactly one of -key and -demo-key
// was given.
func (k *keyFlags) check() error {
	switch {
	case *k.file == "" && k.demo == nil:
		return usageErrorf("-key is required")
	case *k.file == "" && !*k.demo:
		return usageErrorf("-key or -demo-key is required")
	case *k.file != "" && k.demoKey():
		return usageErrorf("-key and -demo-key are exclusive")
	}
	return nil
}

// load reads the key of -key (with -demo-key, the built-in demo client
// key), picking the JWK Set member -kid if given, and settles its header:
// kid is the -kid value when given (empty: no kid), else the JWK's kid
// (none if it has none), else the key's RFC 7638 thumbprint; alg is -alg,
// else the JWK's alg, else the key's default (RS256, ES256, ES384, ES512
// or EdDSA). It does not check that alg fits the key: sign.NewSigner
// does, or see checkAlg. Errors are usage errors.
func (k *keyFlags) load() (signingKey, error) {
	var (
		key signingKey
		err error
	)
	if k.demoKey() {
		key, err = parseSigningKey(demoClientKeyPEM, "")
	} else {
		key, err = readSigningKey(*k.file, *k.kid)
	}
	if err != nil {
		return signingKey{}, usageErrorf("-key: %v", err)
	}
	key.jwkAlg = key.alg
	pub := key.signer.Public()
	if isSet(k.fs, "kid") {
		key.kid = *k.kid
	} else if !key.jwk {
		if key.kid, err = sign.Thumbprint(pub); err != nil {
			return signingKey{}, usageErrorf("-key: %v", err)
		}
	}
	if *k.alg != "" {
		key.alg = *k.alg
	}
	if key.alg == "" {
		if key.alg, err = jose.DefaultAlg(pub); err != nil {
			return signingKey{}, usageErrorf("-key: %v", err)
		}
	}
	return key, nil
}

// checkAlg returns a usage error unless alg is a public-key alg (see
// verify.DefaultAlgorithms) that fits pub, an RSA key having at least
// minRSABits.
func checkAlg(pub crypto.PublicKey, alg string, minRSABits int) error {
	if !slices.Contains(verify.DefaultAlgorithms(), alg) {
		return usageErrorf("-alg %q: want one of %s", alg, strings.Join(verify.DefaultAlgorithms(), ", "))
	}
	if err := verify.CheckKey(pub, alg, minRSABits); err != nil {
		return usageErrorf("alg %s does not fit the key: %v", alg, err)
	}
	return nil
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
		if _, err := jose.DefaultAlg(s.Public()); err != nil {
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
	if _, err := jose.DefaultAlg(s.Public()); err != nil {
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
