package sign_test

import (
	"context"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/sign"
)

// FuzzECDSASignature feeds arbitrary bytes as what a crypto.Signer (a KMS,
// say) returns for an ECDSA key: the assertion is either refused with
// ErrSign or has a well-formed r||s signature.
func FuzzECDSASignature(f *testing.F) {
	key := testkeys.Signer(testkeys.P256)
	good, _ := key.Sign(nil, make([]byte, 32), nil)
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01})
	f.Add(derSig(big.NewInt(1), new(big.Int).Lsh(big.NewInt(1), 256)))
	f.Fuzz(func(t *testing.T, sig []byte) {
		s, err := sign.NewSigner(clientID, opaqueSigner{key: key, sig: sig}, issuer, nil)
		if err != nil {
			t.Fatal(err)
		}
		a, err := s.Assertion(context.Background())
		if err != nil {
			if !errors.Is(err, sign.ErrSign) {
				t.Fatalf("error %v does not wrap ErrSign", err)
			}
			return
		}
		if got := len(a) - strings.LastIndexByte(a, '.') - 1; got != 86 { // 64 bytes base64url
			t.Fatalf("signature of %d characters", got)
		}
	})
}

// FuzzDirStoreLoad feeds arbitrary content as a key file: Load returns a
// key or an error wrapping ErrStore, and never echoes the content.
func FuzzDirStoreLoad(f *testing.F) {
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nActivate-At: 2026-01-01T00:00:00Z\n\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("garbage"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, content []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "k1.pem"), content, 0o600); err != nil {
			t.Fatal(err)
		}
		store, err := sign.NewDirStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := store.Load(context.Background())
		if err != nil {
			if !errors.Is(err, sign.ErrStore) {
				t.Fatalf("error %v does not wrap ErrStore", err)
			}
			if len(content) > 16 && strings.Contains(err.Error(), string(content)) {
				t.Fatal("the error echoes the file")
			}
			return
		}
		if len(keys) != 1 || keys[0].ID != "k1" || keys[0].Key == nil {
			t.Fatalf("Load = %+v", keys)
		}
	})
}
