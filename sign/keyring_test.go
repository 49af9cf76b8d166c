package sign_test

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/jwksfetch"
	"github.com/pkjwt/pkjwt/sign"
	"github.com/pkjwt/pkjwt/verify"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_900_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// keysFrom returns a Generate that hands out the named testkeys in turn.
func keysFrom(names ...string) func() (crypto.Signer, error) {
	var mu sync.Mutex
	return func() (crypto.Signer, error) {
		mu.Lock()
		defer mu.Unlock()
		if len(names) == 0 {
			return nil, errors.New("out of keys")
		}
		k := testkeys.Signer(names[0])
		names = names[1:]
		return k, nil
	}
}

// jwksOf fetches the ring's JWK Set over HTTP and returns it raw.
func jwksOf(t *testing.T, h http.Handler) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/jwks.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("JWKS: %d", rec.Code)
	}
	return rec.Body.Bytes()
}

// kidsOf returns the kids of a JWK Set, sorted.
func kidsOf(t *testing.T, jwks []byte) []string {
	t.Helper()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	slices.Sort(kids)
	return kids
}

// verifyAgainst verifies an assertion of the ring with its own JWK Set, as
// a server holding that document would.
func verifyAgainst(t *testing.T, jwks []byte, now func() time.Time, a string) error {
	t.Helper()
	keys, err := jwksfetch.NewInline(jwks, jwksfetch.InlineConfig{})
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, issuer, clientID, verify.Config{Now: now}, keys.Keys()...)
	_, err = verifyAssertion(v, a)
	return err
}

func states(infos []sign.KeyInfo) map[string]string {
	m := map[string]string{}
	for _, k := range infos {
		m[k.ID] = k.State
	}
	return m
}

func TestKeyRingRotation(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	var logs bytes.Buffer
	store := sign.NewMemoryStore()
	ring, err := sign.NewKeyRing(ctx, clientID, issuer, store, &sign.KeyRingConfig{
		PublishLead: 10 * time.Minute,
		Generate:    keysFrom(testkeys.P256, testkeys.Ed25519, testkeys.RSA2048),
		Logger:      slog.New(slog.NewTextHandler(&logs, nil)),
		Now:         clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := sign.Thumbprint(testkeys.Public(testkeys.P256))
	second, _ := sign.Thumbprint(testkeys.Public(testkeys.Ed25519))
	third, _ := sign.Thumbprint(testkeys.Public(testkeys.RSA2048))

	signedBy := func() (kid string, a string) {
		t.Helper()
		a, err := ring.Assertion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := decode(t, a)
		return h["kid"].(string), a
	}
	if kid, a := signedBy(); kid != first {
		t.Errorf("first key: signed by %s", kid)
	} else if err := verifyAgainst(t, jwksOf(t, ring), clk.Now, a); err != nil {
		t.Errorf("first key's assertion: %v", err)
	}

	// Rotate: the new key is published at once but does not sign yet.
	info, err := ring.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.ID != second || info.State != sign.StateNext || !info.ActivateAt.Equal(clk.Now().Add(10*time.Minute)) {
		t.Errorf("Rotate = %+v", info)
	}
	if got := kidsOf(t, jwksOf(t, ring)); !slices.Equal(got, sorted(first, second)) {
		t.Errorf("JWKS after Rotate: %v", got)
	}
	if kid, _ := signedBy(); kid != first {
		t.Errorf("signed by %s before the lead passed", kid)
	}
	if _, err := ring.Rotate(ctx); !errors.Is(err, sign.ErrRotationPending) {
		t.Errorf("second Rotate: %v, want ErrRotationPending", err)
	}
	// An assertion signed just before the switch.
	clk.Add(10*time.Minute - time.Second)
	_, late := signedBy()

	// The lead has passed: the new key signs, the old one is previous.
	clk.Add(time.Second)
	kid, a := signedBy()
	if kid != second {
		t.Errorf("signed by %s after the lead", kid)
	}
	jwks := jwksOf(t, ring)
	if err := verifyAgainst(t, jwks, clk.Now, a); err != nil {
		t.Errorf("new key's assertion: %v", err)
	}
	if err := verifyAgainst(t, jwks, clk.Now, late); err != nil {
		t.Errorf("old key's last assertion while previous: %v", err)
	}
	want := map[string]string{first: sign.StatePrevious, second: sign.StateCurrent}
	infos := ring.Keys(ctx)
	if got := states(infos); !equalMaps(got, want) {
		t.Errorf("states %v, want %v", got, want)
	}
	if retire := infos[0].RetireAt; !retire.Equal(clk.Now().Add(sign.DefaultLifetime + sign.DefaultLeeway)) {
		t.Errorf("previous key retires at %v", retire)
	}

	// Until its last assertion has expired (plus the leeway) the previous
	// key stays; then it leaves the set and the store.
	clk.Add(sign.DefaultLifetime + sign.DefaultLeeway - time.Second)
	if got := kidsOf(t, jwksOf(t, ring)); !slices.Equal(got, sorted(first, second)) {
		t.Errorf("JWKS 1 s before retirement: %v", got)
	}
	clk.Add(time.Second)
	if got := kidsOf(t, jwksOf(t, ring)); !slices.Equal(got, []string{second}) {
		t.Errorf("JWKS after retirement: %v", got)
	}
	if stored, _ := store.Load(ctx); len(stored) != 1 || stored[0].ID != second {
		t.Errorf("store after retirement holds %d keys", len(stored))
	}

	// Revoke: not the current key; a pending one goes at once.
	if err := ring.Revoke(ctx, second); !errors.Is(err, sign.ErrCurrentKey) {
		t.Errorf("Revoke(current) = %v", err)
	}
	if err := ring.Revoke(ctx, "nope"); !errors.Is(err, sign.ErrKeyNotFound) {
		t.Errorf("Revoke(unknown) = %v", err)
	}
	if _, err := ring.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ring.Revoke(ctx, third); err != nil {
		t.Fatal(err)
	}
	if got := kidsOf(t, jwksOf(t, ring)); !slices.Equal(got, []string{second}) {
		t.Errorf("JWKS after Revoke: %v", got)
	}

	for _, msg := range []string{"key published", "key activated", "key retired", "key revoked"} {
		if !strings.Contains(logs.String(), msg) {
			t.Errorf("no %q in the log:\n%s", msg, logs.String())
		}
	}
	if strings.Contains(logs.String(), "PRIVATE") {
		t.Error("key material in the log")
	}
}

func sorted(s ...string) []string { slices.Sort(s); return s }

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// privateMembers are the JWK members of private and symmetric keys (RFC
// 7518 §6.2.2, §6.3.2, §6.4; RFC 8037).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"}

// TestJWKSNeverPrivate serves a ring holding every key type and checks the
// document member by member.
func TestJWKSNeverPrivate(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	ring, err := sign.NewKeyRing(ctx, clientID, issuer, sign.NewMemoryStore(), &sign.KeyRingConfig{
		PublishLead: time.Second,
		Generate:    keysFrom(keyNames...),
		Now:         clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	for range len(keyNames) - 1 {
		if _, err := ring.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Second)
	}
	body := jwksOf(t, ring)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	kty := map[string]bool{}
	for _, k := range set.Keys {
		kty[k["kty"].(string)+"/"+k["alg"].(string)] = true
		for _, m := range privateMembers {
			if _, ok := k[m]; ok {
				t.Errorf("JWK %v has private member %q", k["kid"], m)
			}
		}
		if k["use"] != "sig" || k["kid"] == "" {
			t.Errorf("JWK %v lacks use or kid", k)
		}
	}
	if len(kty) != len(keyNames) {
		t.Errorf("JWKS holds %v, want all %d key types", kty, len(keyNames))
	}
	// The document is what a server accepts: jwksfetch's strict checks
	// refuse private members too.
	if _, err := jwksfetch.NewInline(body, jwksfetch.InlineConfig{}); err != nil {
		t.Errorf("jwksfetch refuses the ring's JWKS: %v", err)
	}
}

func TestJWKSHandler(t *testing.T) {
	ctx := context.Background()
	ring, err := sign.NewKeyRing(ctx, clientID, issuer, sign.NewMemoryStore(), &sign.KeyRingConfig{PublishLead: 20 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ring)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/jwk-set+json" ||
		resp.Header.Get("Cache-Control") != "public, max-age=300" || len(body) == 0 {
		t.Errorf("GET: %d %v", resp.StatusCode, resp.Header)
	}
	etag := resp.Header.Get("ETag")
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("If-None-Match", etag)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNotModified {
		t.Errorf("conditional GET: %v %v", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}
	// A rotation changes the document and its ETag.
	if _, err := ring.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == etag {
		t.Errorf("conditional GET after Rotate: %v %v", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}
	if resp, err := http.Head(srv.URL); err != nil || resp.StatusCode != 200 || resp.ContentLength <= 0 {
		t.Errorf("HEAD: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	resp, err = http.Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d %v", resp.StatusCode, resp.Header)
	}
	// A short lead allows no caching at all.
	short, err := sign.NewKeyRing(ctx, clientID, issuer, sign.NewMemoryStore(), &sign.KeyRingConfig{PublishLead: 2500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	short.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if got := rec.Header().Get("Cache-Control"); got != "public, max-age=0" {
		t.Errorf("Cache-Control with a 2.5 s lead: %q", got)
	}
}

func TestDirStore(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "keys")
	store, err := sign.NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	cfg := &sign.KeyRingConfig{PublishLead: time.Minute, Generate: keysFrom(testkeys.P384, testkeys.RSA2048), Now: clk.Now, Signer: &sign.Config{Algorithm: "PS256"}}
	ring, err := sign.NewKeyRing(ctx, clientID, issuer, store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ring.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	before := ring.Keys(ctx)

	// Files of mode 0600 in a 0700 directory.
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v %v", fi.Mode().Perm(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("%d files, want 2", len(entries))
	}
	for _, e := range entries {
		fi, _ := e.Info()
		if fi.Mode().Perm() != 0o600 || !strings.HasSuffix(e.Name(), ".pem") {
			t.Errorf("%s: mode %v", e.Name(), fi.Mode().Perm())
		}
	}

	// A restarted ring resumes: same keys, same states, the RSA key with
	// the configured PS256.
	restarted, err := sign.NewKeyRing(ctx, clientID, issuer, store, &sign.KeyRingConfig{PublishLead: time.Minute, Now: clk.Now, Signer: &sign.Config{Algorithm: "PS256"}})
	if err != nil {
		t.Fatal(err)
	}
	after := restarted.Keys(ctx)
	if len(after) != 2 {
		t.Fatalf("restarted ring: %+v", after)
	}
	for i := range before {
		if before[i].ID != after[i].ID || before[i].State != after[i].State || !before[i].ActivateAt.Equal(after[i].ActivateAt) || before[i].Algorithm != after[i].Algorithm {
			t.Errorf("key %d: before %+v, after %+v", i, before[i], after[i])
		}
	}
	if after[1].Algorithm != "PS256" {
		t.Errorf("RSA key signs with %s", after[1].Algorithm)
	}
	clk.Add(time.Minute)
	a, err := restarted.Assertion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyAgainst(t, jwksOf(t, restarted), clk.Now, a); err != nil {
		t.Errorf("restarted ring's assertion: %v", err)
	}

	// A key file others may read is refused.
	name := filepath.Join(dir, entries[0].Name())
	if err := os.Chmod(name, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Load(ctx); !errors.Is(err, sign.ErrStore) || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("Load with a 0644 key file: %v", err)
	}
	if err := os.Chmod(name, 0o600); err != nil {
		t.Fatal(err)
	}
	// A damaged file is refused, naming the file and never its content.
	if err := os.WriteFile(filepath.Join(dir, "broken.pem"), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Load(ctx); !errors.Is(err, sign.ErrStore) || !strings.Contains(err.Error(), "broken.pem") || strings.Contains(err.Error(), "AAAA") {
		t.Errorf("Load with a damaged file: %v", err)
	}
	os.Remove(filepath.Join(dir, "broken.pem"))

	// Keys that cannot be exported (a KMS key) cannot be stored here.
	err = store.Save(ctx, sign.StoredKey{ID: "kms", Key: opaqueSigner{key: testkeys.Signer(testkeys.P256)}, ActivateAt: clk.Now()})
	if !errors.Is(err, sign.ErrStore) {
		t.Errorf("Save(opaque key) = %v", err)
	}
	if err := store.Save(ctx, sign.StoredKey{ID: "../escape", Key: testkeys.Signer(testkeys.P256)}); !errors.Is(err, sign.ErrStore) {
		t.Errorf("Save(../escape) = %v", err)
	}
	if err := store.Delete(ctx, "absent"); err != nil {
		t.Errorf("Delete(absent) = %v", err)
	}
	if _, err := sign.NewDirStore(name); !errors.Is(err, sign.ErrStore) {
		t.Errorf("NewDirStore(a file) = %v", err)
	}
}

// failingStore fails Save or Load on demand.
type failingStore struct {
	*sign.MemoryStore
	failSave, failLoad bool
}

var errDisk = errors.New("disk full")

func (f *failingStore) Save(ctx context.Context, k sign.StoredKey) error {
	if f.failSave {
		return errDisk
	}
	return f.MemoryStore.Save(ctx, k)
}

func (f *failingStore) Load(ctx context.Context) ([]sign.StoredKey, error) {
	if f.failLoad {
		return nil, errDisk
	}
	return f.MemoryStore.Load(ctx)
}

func TestKeyRingErrors(t *testing.T) {
	ctx := context.Background()
	store := &failingStore{MemoryStore: sign.NewMemoryStore()}
	ring, err := sign.NewKeyRing(ctx, clientID, issuer, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := ring.Keys(ctx)
	store.failSave = true
	if _, err := ring.Rotate(ctx); !errors.Is(err, sign.ErrStore) || !errors.Is(err, errDisk) {
		t.Errorf("Rotate with a failing store: %v", err)
	}
	if after := ring.Keys(ctx); len(after) != len(before) {
		t.Errorf("a failed Rotate changed the ring: %+v", after)
	}
	store.failLoad = true
	if _, err := sign.NewKeyRing(ctx, clientID, issuer, store, nil); !errors.Is(err, sign.ErrStore) {
		t.Errorf("NewKeyRing with a failing store: %v", err)
	}
	for name, tc := range map[string]struct {
		store sign.KeyStore
		cfg   sign.KeyRingConfig
		want  error
	}{
		"nil store":      {nil, sign.KeyRingConfig{}, sign.ErrInvalidConfig},
		"negative lead":  {sign.NewMemoryStore(), sign.KeyRingConfig{PublishLead: -1}, sign.ErrInvalidConfig},
		"negative skew":  {sign.NewMemoryStore(), sign.KeyRingConfig{Leeway: -1}, sign.ErrInvalidConfig},
		"KeyID":          {sign.NewMemoryStore(), sign.KeyRingConfig{Signer: &sign.Config{KeyID: "k"}}, sign.ErrInvalidConfig},
		"bad lifetime":   {sign.NewMemoryStore(), sign.KeyRingConfig{Signer: &sign.Config{Lifetime: time.Hour}}, sign.ErrInvalidConfig},
		"small RSA key":  {sign.NewMemoryStore(), sign.KeyRingConfig{Generate: keysFrom(testkeys.RSA1024)}, sign.ErrUnsuitableKey},
		"generate fails": {sign.NewMemoryStore(), sign.KeyRingConfig{Generate: keysFrom()}, sign.ErrUnsuitableKey},
	} {
		if _, err := sign.NewKeyRing(ctx, clientID, issuer, tc.store, &tc.cfg); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	if _, err := sign.NewKeyRing(ctx, "", issuer, sign.NewMemoryStore(), nil); !errors.Is(err, sign.ErrInvalidConfig) {
		t.Errorf("empty client_id: %v", err)
	}
	// A stored key that activates in the future only: nothing signs yet.
	future := sign.NewMemoryStore()
	future.Save(ctx, sign.StoredKey{ID: "f", Key: testkeys.Signer(testkeys.P256), ActivateAt: time.Now().Add(time.Hour)})
	r, err := sign.NewKeyRing(ctx, clientID, issuer, future, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Assertion(ctx); !errors.Is(err, sign.ErrNoKey) {
		t.Errorf("Assertion with no active key: %v", err)
	}
	if _, err := ring.RotateEvery(sign.DefaultPublishLead); !errors.Is(err, sign.ErrInvalidConfig) {
		t.Errorf("RotateEvery(lead): %v", err)
	}
}

// TestRotateEvery runs the scheduler on the wall clock with short times:
// keys rotate, each signs for about the interval, and stop ends it.
func TestRotateEvery(t *testing.T) {
	ctx := context.Background()
	var logs syncBuffer
	ring, err := sign.NewKeyRing(ctx, clientID, issuer, sign.NewMemoryStore(), &sign.KeyRingConfig{
		PublishLead: 100 * time.Millisecond,
		Signer:      &sign.Config{Lifetime: time.Second},
		Leeway:      time.Millisecond,
		Logger:      slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	stop, err := ring.RotateEvery(300 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for len(seen) < 4 && time.Now().Before(deadline) {
		s, err := ring.Signer(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seen[s.KeyID()] = true
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	stop() // idempotent
	if len(seen) < 4 {
		t.Fatalf("%d keys signed in 10 s with a 300 ms interval", len(seen))
	}
	// Retired keys left the set: at most the current, a next and the
	// previous ones whose 1 s assertions may live.
	if n := len(ring.Keys(ctx)); n > 6 {
		t.Errorf("%d keys kept", n)
	}
	n := strings.Count(logs.String(), "key published")
	time.Sleep(400 * time.Millisecond)
	if m := strings.Count(logs.String(), "key published"); m != n {
		t.Errorf("rotations after stop: %d, then %d", n, m)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
