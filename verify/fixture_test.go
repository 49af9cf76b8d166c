package verify_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

const (
	issuer        = "https://as.example.com"
	tokenEndpoint = "https://as.example.com/token"
)

// now is the fixed time of the tests.
var now = time.Unix(1_800_000_000, 0)

// mapStore is a minimal replay.Store for these tests, so that verify's
// tests do not depend on replay's implementations.
type mapStore struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func (s *mapStore) Claim(ctx context.Context, key string, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]time.Time{}
	}
	if _, ok := s.m[key]; ok {
		return replay.ErrReplayed
	}
	s.m[key] = until
	return nil
}

type failingStore struct{}

func (failingStore) Claim(context.Context, string, time.Time) error {
	return errors.New("connection refused")
}

// downClients answers like a client registry whose database is down.
type downClients struct{}

func (downClients) Client(context.Context, string) (*verify.Client, error) {
	return nil, errors.New("database is down")
}

// downKeys answers like a key source whose jwks_uri is unreachable.
type downKeys struct{}

func (downKeys) Key(context.Context, string, string) (verify.Key, error) {
	return verify.Key{}, errors.New("jwks_uri unreachable")
}

// clientsOr looks up in m, and fails for "down".
type clientsOr struct{ m verify.ClientMap }

func (c clientsOr) Client(ctx context.Context, id string) (*verify.Client, error) {
	if id == "down" {
		return downClients{}.Client(ctx, id)
	}
	return c.m.Client(ctx, id)
}

var secret = []byte("0123456789abcdef0123456789abcdef") // 32 bytes

func mustKeySet(t testing.TB, keys ...verify.Key) *verify.KeySet {
	t.Helper()
	s, err := verify.NewKeySet(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testClients registers one client per situation the tests need.
func testClients(t testing.TB) verify.Clients {
	t.Helper()
	pub := testkeys.Public
	m := verify.ClientMap{
		"rsa":      {ID: "rsa", Keys: mustKeySet(t, verify.Key{ID: "r1", Public: pub(testkeys.RSA2048)})},
		"rsa2":     {ID: "rsa2", Keys: mustKeySet(t, verify.Key{ID: "r1", Public: pub(testkeys.RSA2048Alt)})},
		"ec":       {ID: "ec", Keys: mustKeySet(t, verify.Key{ID: "e1", Public: pub(testkeys.P256)})},
		"p384":     {ID: "p384", Keys: mustKeySet(t, verify.Key{ID: "e1", Public: pub(testkeys.P384)})},
		"p521":     {ID: "p521", Keys: mustKeySet(t, verify.Key{Public: pub(testkeys.P521)})},
		"ed":       {ID: "ed", Keys: mustKeySet(t, verify.Key{Public: pub(testkeys.Ed25519)})},
		"edpinned": {ID: "edpinned", Keys: mustKeySet(t, verify.Key{Algorithm: "EdDSA", Public: pub(testkeys.Ed25519)})},
		"weak":     {ID: "weak", Keys: mustKeySet(t, verify.Key{ID: "w1", Public: pub(testkeys.RSA1024)})},
		"nokid":    {ID: "nokid", Keys: mustKeySet(t, verify.Key{Public: pub(testkeys.RSA2048)})},
		"multi": {ID: "multi", Keys: mustKeySet(t,
			verify.Key{ID: "m1", Public: pub(testkeys.RSA2048)},
			verify.Key{ID: "m2", Public: pub(testkeys.RSA2048Alt)},
			verify.Key{ID: "m3", Public: pub(testkeys.P256)})},
		"pinned":      {ID: "pinned", SigningAlg: "PS256", Keys: mustKeySet(t, verify.Key{ID: "p1", Public: pub(testkeys.RSA2048)})},
		"keyalg":      {ID: "keyalg", Keys: mustKeySet(t, verify.Key{ID: "k1", Algorithm: "RS384", Public: pub(testkeys.RSA2048)})},
		"keysdown":    {ID: "keysdown", Keys: downKeys{}},
		"secret":      {ID: "secret", Method: verify.MethodClientSecretJWT, Secret: secret},
		"shortsecret": {ID: "shortsecret", Method: verify.MethodClientSecretJWT, Secret: secret[:31]},
		"liar":        {ID: "someone-else", Keys: mustKeySet(t, verify.Key{Public: pub(testkeys.RSA2048)})},
	}
	return clientsOr{m}
}

// newVerifier returns a Verifier over testClients at the fixed time, with
// cfg's policy (nil: defaults).
func newVerifier(t testing.TB, cfg *verify.Config, store replay.Store) *verify.Verifier {
	t.Helper()
	var c verify.Config
	if cfg != nil {
		c = *cfg
	}
	if c.Now == nil {
		c.Now = func() time.Time { return now }
	}
	if store == nil {
		store = &mapStore{}
	}
	v, err := verify.New(issuer, testClients(t), store, c)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// claimsFor returns valid claims of client at the fixed time.
func claimsFor(client string) map[string]any {
	return testkeys.Claims(client, issuer, now)
}

func req(assertion string) verify.Request {
	return verify.Request{AssertionType: verify.AssertionType, Assertion: assertion}
}
