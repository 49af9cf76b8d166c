// Package testkeys provides fixed keys and assertion minting for pkjwt's
// tests and examples.
//
// The keys are real (RSA 2048, RSA 1024 for negative tests, P-256, P-384,
// P-521, Ed25519), fixed (embedded PKCS #8 PEM, so runs are repeatable
// without a random source) and public: never use them for anything else.
package testkeys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"embed"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkjwt/pkjwt/internal/jose"
)

//go:embed testdata/*.pem
var pems embed.FS

// Names of the embedded keys, for [Signer].
const (
	RSA2048    = "rsa2048"
	RSA2048Alt = "rsa2048-alt"
	RSA1024    = "rsa1024"
	P256       = "p256"
	P256Alt    = "p256-alt"
	P384       = "p384"
	P521       = "p521"
	Ed25519    = "ed25519"
	Ed25519Alt = "ed25519-alt"
)

var (
	mu      sync.Mutex
	signers = map[string]crypto.Signer{}
)

// Signer returns the named embedded private key. It panics on an unknown
// name.
func Signer(name string) crypto.Signer {
	mu.Lock()
	defer mu.Unlock()
	if s, ok := signers[name]; ok {
		return s
	}
	b, err := pems.ReadFile("testdata/" + name + ".pem")
	if err != nil {
		panic("testkeys: no key " + strconv.Quote(name))
	}
	block, _ := pem.Decode(b)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		panic("testkeys: " + name + ": " + err.Error())
	}
	s := k.(crypto.Signer)
	signers[name] = s
	return s
}

// Public returns the public half of the named key.
func Public(name string) crypto.PublicKey { return Signer(name).Public() }

// Alg returns the natural JWS alg of the named key: RS256, ES256, ES384,
// ES512 or EdDSA.
func Alg(name string) string { return jose.NaturalAlg(Public(name)) }

// JWK renders the public half of key (a crypto.Signer or a public key) as a
// JWK. kid, alg and use are set when not empty. The result is a map so that
// tests can add or break members.
func JWK(key any, kid, alg, use string) map[string]any {
	if s, ok := key.(crypto.Signer); ok {
		key = s.Public()
	}
	m := map[string]any{}
	switch k := key.(type) {
	case *rsa.PublicKey:
		m["kty"] = "RSA"
		m["n"] = b64(k.N.Bytes())
		m["e"] = b64(big.NewInt(int64(k.E)).Bytes())
	case *ecdsa.PublicKey:
		m["kty"] = "EC"
		m["crv"] = k.Curve.Params().Name
		size := (k.Curve.Params().BitSize + 7) / 8
		b, err := k.Bytes()
		if err != nil {
			panic("testkeys: " + err.Error())
		}
		m["x"] = b64(b[1 : 1+size])
		m["y"] = b64(b[1+size:])
	case ed25519.PublicKey:
		m["kty"] = "OKP"
		m["crv"] = "Ed25519"
		m["x"] = b64(k)
	default:
		panic(fmt.Sprintf("testkeys: JWK of %T", key))
	}
	for name, v := range map[string]string{"kid": kid, "alg": alg, "use": use} {
		if v != "" {
			m[name] = v
		}
	}
	return m
}

// PrivateJWK is [JWK] with the private members added (d, and p, q, dp, dq,
// qi for RSA): a key that must never be accepted as a verification key.
func PrivateJWK(name, kid, alg string) map[string]any {
	m := JWK(Signer(name), kid, alg, "")
	switch k := Signer(name).(type) {
	case *rsa.PrivateKey:
		m["d"] = b64(k.D.Bytes())
		m["p"] = b64(k.Primes[0].Bytes())
		m["q"] = b64(k.Primes[1].Bytes())
		m["dp"] = b64(k.Precomputed.Dp.Bytes())
		m["dq"] = b64(k.Precomputed.Dq.Bytes())
		m["qi"] = b64(k.Precomputed.Qinv.Bytes())
	case *ecdsa.PrivateKey:
		d, err := k.Bytes()
		if err != nil {
			panic("testkeys: " + err.Error())
		}
		m["d"] = b64(d)
	case ed25519.PrivateKey:
		m["d"] = b64(k.Seed())
	}
	return m
}

// JWKS renders keys as a JWK Set document.
func JWKS(keys ...map[string]any) []byte {
	if keys == nil {
		keys = []map[string]any{}
	}
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		panic("testkeys: " + err.Error())
	}
	return b
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

var jtiCounter atomic.Uint64

// NewJTI returns a jti unique within the process.
func NewJTI() string {
	return "jti-" + strconv.FormatUint(jtiCounter.Add(1), 10) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// Claims returns the claims of a valid assertion of clientID for audience
// aud at time now: iss and sub clientID, aud, iat now, exp now+5m and a
// fresh jti. Tests change or delete members to break it.
func Claims(clientID, aud string, now time.Time) map[string]any {
	return map[string]any{
		"iss": clientID,
		"sub": clientID,
		"aud": aud,
		"iat": now.Unix(),
		"exp": now.Add(5 * time.Minute).Unix(),
		"jti": NewJTI(),
	}
}

// Sign returns a compact JWS of claims signed with key (a crypto.Signer, or
// []byte for HS*) under alg. header members are added to {"alg","typ":"JWT"};
// a nil value deletes a member. It panics if signing fails.
func Sign(alg string, key any, header, claims map[string]any) string {
	h := map[string]any{"alg": alg, "typ": "JWT"}
	for k, v := range header {
		if v == nil {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	hb, err := json.Marshal(h)
	if err != nil {
		panic("testkeys: " + err.Error())
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		panic("testkeys: " + err.Error())
	}
	return SignRaw(alg, key, hb, cb)
}

// SignRaw signs the exact header and claims bytes given (which need not be
// valid JSON) with key under alg, which selects the signing method whatever
// the header says. With alg "none" the signature is empty.
func SignRaw(alg string, key any, header, claims []byte) string {
	signing := b64(header) + "." + b64(claims)
	if alg == "none" {
		return signing + "."
	}
	a := jose.Lookup(alg)
	if a == nil {
		panic("testkeys: unknown alg " + alg)
	}
	sig, err := a.Sign(key, []byte(signing))
	if err != nil {
		panic("testkeys: sign " + alg + ": " + err.Error())
	}
	return signing + "." + b64(sig)
}

// Encode returns the compact form of the given raw header, claims and
// signature bytes, each base64url-encoded: a token whose signature is
// whatever the test wants.
func Encode(header, claims, sig []byte) string {
	return b64(header) + "." + b64(claims) + "." + b64(sig)
}
