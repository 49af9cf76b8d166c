package sign

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// StoredKey is one key of a [KeyRing] as a [KeyStore] keeps it. The ring
// derives everything else (which key signs, which are retired) from the
// keys' activation times.
type StoredKey struct {
	// ID is the key's kid: its RFC 7638 thumbprint for keys the ring
	// generates.
	ID string
	// Key is the private key.
	Key crypto.Signer
	// ActivateAt is when the ring starts signing with the key.
	ActivateAt time.Time
}

// KeyStore keeps the keys of a [KeyRing] across restarts. The ring loads
// them once, in NewKeyRing, and is the store's only writer afterwards.
// Implementations must be safe for concurrent use. [MemoryStore] and
// [DirStore] are two; one backed by a KMS would store key references.
type KeyStore interface {
	// Load returns every stored key, in any order; none for a new store.
	Load(ctx context.Context) ([]StoredKey, error)
	// Save stores k, replacing a key with the same ID.
	Save(ctx context.Context, k StoredKey) error
	// Delete removes the key with ID id. Deleting an absent key is not an
	// error.
	Delete(ctx context.Context, id string) error
}

var (
	_ KeyStore = (*MemoryStore)(nil)
	_ KeyStore = (*DirStore)(nil)
)

// MemoryStore is a KeyStore in memory: keys are lost when the process
// ends, so a restarted client starts with a new key that its servers do
// not know yet. Use it for tests, or with a [Config.KeyID] scheme the
// servers learn some other way. It is safe for concurrent use.
type MemoryStore struct {
	mu   sync.Mutex
	keys map[string]StoredKey
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{keys: map[string]StoredKey{}} }

// Load implements KeyStore.
func (m *MemoryStore) Load(context.Context) ([]StoredKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]StoredKey, 0, len(m.keys))
	for _, k := range m.keys {
		out = append(out, k)
	}
	return out, nil
}

// Save implements KeyStore.
func (m *MemoryStore) Save(_ context.Context, k StoredKey) error {
	if k.ID == "" || k.Key == nil {
		return fmt.Errorf("%w: key without ID or private key", ErrStore)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys[k.ID] = k
	return nil
}

// Delete implements KeyStore.
func (m *MemoryStore) Delete(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.keys, id)
	return nil
}

// DirStore is a KeyStore in a directory: one file per key, named ID.pem,
// holding the key as PKCS #8 PEM with its activation time in a PEM header,
// written atomically with mode 0600. Load refuses a key file that others
// than its owner may read or write. It stores only keys that
// x509.MarshalPKCS8PrivateKey can encode (not keys held in a KMS). It is
// safe for concurrent use by one process.
type DirStore struct {
	dir string
}

// pemActivateAt is the PEM header with the key's activation time.
const pemActivateAt = "Activate-At"

// storeIDPattern restricts IDs to what is safe as a file name everywhere.
var storeIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// NewDirStore returns a DirStore in dir, which it creates (mode 0700) if
// missing. It returns an error wrapping [ErrStore] if dir cannot be
// created or is not a directory.
func NewDirStore(dir string) (*DirStore, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w: empty directory name", ErrInvalidConfig)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStore, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStore, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a directory", ErrStore, dir)
	}
	return &DirStore{dir: dir}, nil
}

// Load implements KeyStore. Files not named *.pem are ignored.
func (d *DirStore) Load(context.Context) ([]StoredKey, error) {
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStore, err)
	}
	var keys []StoredKey
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".pem")
		if !ok || e.IsDir() || !storeIDPattern.MatchString(id) {
			continue
		}
		k, err := d.load(id)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrStore, e.Name(), err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func (d *DirStore) load(id string) (StoredKey, error) {
	name := filepath.Join(d.dir, id+".pem")
	fi, err := os.Lstat(name)
	if err != nil {
		return StoredKey{}, err
	}
	if !fi.Mode().IsRegular() {
		return StoredKey{}, errors.New("not a regular file")
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return StoredKey{}, fmt.Errorf("mode %v: a private key must not be accessible to others than its owner (chmod 600)", fi.Mode().Perm())
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return StoredKey{}, err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return StoredKey{}, errors.New("no PKCS #8 PEM private key")
	}
	at, err := time.Parse(time.RFC3339Nano, block.Headers[pemActivateAt])
	if err != nil {
		return StoredKey{}, fmt.Errorf("PEM header %s: %w", pemActivateAt, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return StoredKey{}, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return StoredKey{}, fmt.Errorf("unsupported key type %T", k)
	}
	return StoredKey{ID: id, Key: s, ActivateAt: at}, nil
}

// Save implements KeyStore. The file appears whole or not at all.
func (d *DirStore) Save(_ context.Context, k StoredKey) error {
	if !storeIDPattern.MatchString(k.ID) {
		return fmt.Errorf("%w: key ID %q is not 1-128 characters of A-Z a-z 0-9 _ -", ErrStore, k.ID)
	}
	if k.Key == nil {
		return fmt.Errorf("%w: no private key", ErrStore)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.Key)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	data := pem.EncodeToMemory(&pem.Block{
		Type:    "PRIVATE KEY",
		Headers: map[string]string{pemActivateAt: k.ActivateAt.UTC().Format(time.RFC3339Nano)},
		Bytes:   der,
	})
	f, err := os.CreateTemp(d.dir, ".tmp-*.pem")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	tmp := f.Name()
	err = f.Chmod(0o600) // CreateTemp uses 0600 already; be explicit
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(d.dir, k.ID+".pem"))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	return nil
}

// Delete implements KeyStore.
func (d *DirStore) Delete(_ context.Context, id string) error {
	if !storeIDPattern.MatchString(id) {
		return nil // no such file can exist
	}
	if err := os.Remove(filepath.Join(d.dir, id+".pem")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	return nil
}

// sortByActivation sorts keys by activation time, then ID.
func sortByActivation(keys []StoredKey) {
	slices.SortFunc(keys, func(a, b StoredKey) int {
		if c := a.ActivateAt.Compare(b.ActivateAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
