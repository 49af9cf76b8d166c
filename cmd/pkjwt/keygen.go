package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/pkjwt/pkjwt/internal/jose"
	"github.com/pkjwt/pkjwt/verify"
)

const keygenHelp = `
Generate a client key pair for private_key_jwt: the private key for the
client (mint signs with it) and the public JWK Set to register with the
authorization server (as jwks, or published at the client's jwks_uri).

Each JWK gets a kid (by default the RFC 7638 thumbprint of the key), an alg
and use "sig". The private key file is created with mode 0600; existing
files are never replaced without -force.

Example:
  pkjwt keygen -type p256 -out-private client.pem -out-jwks client.jwks.json
`

func runKeygen(_ context.Context, std stdio, args []string) error {
	fs := newFlagSet(std, "keygen", "-out-private FILE [-type rsa|p256|p384|ed25519] [flags]", keygenHelp)
	typ := fs.String("type", "p256", "key type: rsa, p256, p384 or ed25519")
	bits := fs.Int("bits", 2048, "RSA modulus size in bits, at least 2048 (-type rsa only)")
	format := fs.String("format", "pem", "private key format: pem (PKCS #8) or jwk")
	outPrivate := fs.String("out-private", "", "write the private key to this `file` (required; mode 0600)")
	outJWKS := fs.String("out-jwks", "-", "write the public JWK Set to this `file`, or - for standard output")
	kid := fs.String("kid", "", "key ID (default: the RFC 7638 thumbprint)")
	alg := fs.String("alg", "", "alg of the JWK (default: RS256, ES256, ES384 or EdDSA by key type)")
	force := fs.Bool("force", false, "replace existing output files")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(rest) > 0:
		return usageErrorf("unexpected argument %q", rest[0])
	case *outPrivate == "":
		return usageErrorf("-out-private is required")
	case *outPrivate == "-":
		return usageErrorf("-out-private: refusing to print a private key; name a file")
	case *outPrivate == *outJWKS:
		return usageErrorf("-out-private and -out-jwks name the same file")
	case !slices.Contains(keyTypes, *typ):
		return usageErrorf("-type %q: want one of %s", *typ, strings.Join(keyTypes, ", "))
	case *typ != "rsa" && isSet(fs, "bits"):
		return usageErrorf("-bits applies to -type rsa only")
	case *typ == "rsa" && *bits < 2048:
		return usageErrorf("-bits %d: RSA keys need at least 2048 bits", *bits)
	case *typ == "rsa" && *bits > 8192:
		return usageErrorf("-bits %d: at most 8192", *bits)
	case *format != "pem" && *format != "jwk":
		return usageErrorf("-format %q: want pem or jwk", *format)
	}

	if !*force {
		for _, name := range []string{*outPrivate, *outJWKS} {
			if _, err := os.Lstat(name); name != "-" && err == nil {
				return fmt.Errorf("%s exists; use -force to replace it", name)
			}
		}
	}

	signer, err := generateKey(*typ, *bits)
	if err != nil {
		return err
	}
	k := signingKey{signer: signer, kid: *kid, alg: *alg}
	if k.alg == "" {
		if k.alg, err = defaultAlg(signer.Public()); err != nil {
			return err
		}
	}
	if !slices.Contains(verify.DefaultAlgorithms(), k.alg) {
		return usageErrorf("-alg %q: want one of %s", k.alg, strings.Join(verify.DefaultAlgorithms(), ", "))
	}
	if err := verify.CheckKey(signer.Public(), k.alg, jose.MinRSABits); err != nil {
		return usageErrorf("-alg %s does not fit a %s key: %v", k.alg, *typ, err)
	}
	if k.kid == "" {
		if k.kid, err = thumbprint(signer.Public()); err != nil {
			return err
		}
	}

	priv, err := privateKeyFile(k, *format)
	if err != nil {
		return err
	}
	jwks, err := publicJWKS(k)
	if err != nil {
		return err
	}
	jwks = append(jwks, '\n')
	if err := writeNewFile(*outPrivate, priv, 0o600, *force); err != nil {
		return err
	}
	if *outJWKS == "-" {
		if _, err := std.out.Write(jwks); err != nil {
			return err
		}
	} else if err := writeNewFile(*outJWKS, jwks, 0o644, *force); err != nil {
		return err
	}
	fmt.Fprintf(std.err, "pkjwt keygen: wrote %s private key (alg %s, kid %s) to %s\n", *typ, k.alg, k.kid, *outPrivate)
	if *outJWKS != "-" {
		fmt.Fprintf(std.err, "pkjwt keygen: wrote the public JWK Set to %s\n", *outJWKS)
	}
	return nil
}
