package sign_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/sign"
)

// BenchmarkSign compares Signer.Assertion (claims, header, jti, hashing,
// DER to r||s) with the bare crypto.Signer.Sign of a precomputed digest of
// an assertion-sized input, the floor, per alg. Besides ns/op it reports
// cpu-ns/op, the process's CPU time per operation, which a busy shared
// machine disturbs far less than wall time.
func BenchmarkSign(b *testing.B) {
	for _, tc := range []struct{ alg, key string }{
		{"RS256", testkeys.RSA2048},
		{"PS256", testkeys.RSA2048},
		{"ES256", testkeys.P256},
		{"ES384", testkeys.P384},
		{"EdDSA", testkeys.Ed25519},
	} {
		key := testkeys.Signer(tc.key)
		s, err := sign.NewSigner(clientID, key, issuer, &sign.Config{Algorithm: tc.alg})
		if err != nil {
			b.Fatal(err)
		}
		a, err := s.Assertion(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		input := []byte(a[:strings.LastIndexByte(a, '.')])
		var (
			msg  = input
			opts crypto.SignerOpts
		)
		switch tc.alg[:2] {
		case "RS", "ES":
			h := crypto.SHA256
			if tc.alg == "ES384" {
				h = crypto.SHA384
			}
			d := h.New()
			d.Write(input)
			msg, opts = d.Sum(nil), h
		case "PS":
			d := crypto.SHA256.New()
			d.Write(input)
			msg, opts = d.Sum(nil), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
		default:
			opts = crypto.Hash(0)
		}
		b.Run(tc.alg+"/bare", func(b *testing.B) {
			b.ReportAllocs()
			start := processCPU()
			for b.Loop() {
				if _, err := key.Sign(rand.Reader, msg, opts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
		})
		b.Run(tc.alg+"/assertion", func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			start := processCPU()
			for b.Loop() {
				if _, err := s.Assertion(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkTokenSourceCached measures TokenSource.Token while the cached
// token is valid: no request, no assertion, no allocation.
func BenchmarkTokenSourceCached(b *testing.B) {
	src := cachedSource(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := src.Token(); err != nil {
			b.Fatal(err)
		}
	}
}
