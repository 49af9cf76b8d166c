package verify_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

type mapStore struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func (s *mapStore) Claim(_ context.Context, key string, until time.Time) error {
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

func TestSmoke(t *testing.T) {
	now := time.Now()
	for _, name := range []string{testkeys.RSA2048, testkeys.P256, testkeys.P384, testkeys.P521, testkeys.Ed25519} {
		keys, err := verify.NewKeySet(verify.Key{ID: "k1", Public: testkeys.Public(name)})
		if err != nil {
			t.Fatal(err)
		}
		v, err := verify.New("https://as.example", verify.ClientMap{"c1": {ID: "c1", Keys: keys}}, &mapStore{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		a := testkeys.Sign(testkeys.Alg(name), testkeys.Signer(name), map[string]any{"kid": "k1"}, testkeys.Claims("c1", "https://as.example", now))
		req := verify.Request{AssertionType: verify.AssertionType, Assertion: a}
		res, err := v.Verify(context.Background(), req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%+v", res)
		if _, err := v.Verify(context.Background(), req); err == nil {
			t.Fatal("replay accepted")
		} else {
			t.Log(err)
		}
	}
}
