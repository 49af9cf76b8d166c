package verify_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/verify"
)

// TestReplayEpoch sends assertions on both sides of the boundary a replay
// store's epoch draws: after a store lost claims, an assertion that may have
// been issued (and used) before its epoch is refused; a later one passes.
func TestReplayEpoch(t *testing.T) {
	const (
		leeway = 15 * time.Second // the default
		maxLT  = 10 * time.Minute // the default
	)
	whole := now.Add(-30 * time.Second)                     // an epoch on a whole second
	half := now.Add(-30*time.Second + 500*time.Millisecond) // and one between two
	noIAT := set("iat", nil)
	iat := func(t time.Time) func(map[string]any) { return set("iat", t.Unix()) }
	exp := func(t time.Time) func(map[string]any) {
		return func(c map[string]any) { delete(c, "iat"); c["exp"] = t.Unix() }
	}

	for _, tc := range []struct {
		name   string
		epoch  time.Time
		cfg    *verify.Config
		mod    func(map[string]any)
		refuse bool
	}{
		{"zero epoch, iat", time.Time{}, nil, nil, false},
		{"zero epoch, no iat", time.Time{}, nil, noIAT, false},
		{"iat long before the epoch", whole, nil, iat(whole.Add(-time.Minute)), true},
		{"iat at the epoch", whole, nil, iat(whole), true},
		{"iat a second short of epoch+leeway", whole, nil, iat(whole.Add(leeway - time.Second)), true},
		{"iat at epoch+leeway", whole, nil, iat(whole.Add(leeway)), false},
		{"iat after epoch+leeway", whole, nil, iat(whole.Add(leeway + time.Second)), false},
		{"iat half a second short of epoch+leeway", half, nil, iat(half.Add(leeway).Truncate(time.Second)), true},
		{"iat half a second after epoch+leeway", half, nil, iat(half.Add(leeway + time.Second).Truncate(time.Second)), false},
		{"no leeway, iat a second before the epoch", whole, &verify.Config{Leeway: -1}, iat(whole.Add(-time.Second)), true},
		{"no leeway, iat at the epoch", whole, &verify.Config{Leeway: -1}, iat(whole), false},
		{"no iat, exp a second short of epoch+MaxLifetime", whole, nil, exp(whole.Add(maxLT - time.Second)), true},
		{"no iat, exp at epoch+MaxLifetime", whole, nil, exp(whole.Add(maxLT)), false},
		{"no iat, shorter MaxLifetime, exp short of it", whole, &verify.Config{MaxLifetime: time.Minute}, exp(whole.Add(time.Minute - time.Second)), true},
		{"no iat, shorter MaxLifetime, exp at it", whole, &verify.Config{MaxLifetime: time.Minute}, exp(whole.Add(time.Minute)), false},
		{"epoch just now, fresh iat", now, nil, nil, true},
		{"epoch just now, iat one leeway ahead", now, nil, iat(now.Add(leeway)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &mapStore{epoch: tc.epoch}
			v := newVerifier(t, tc.cfg, store)
			r := req(mint(testkeys.RSA2048, "RS256", r1, "rsa", tc.mod))
			_, err := v.Verify(context.Background(), r)
			if !tc.refuse {
				if err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
				return
			}
			var verr *verify.Error
			if !errors.As(err, &verr) || !errors.Is(err, verify.ErrReplayEpoch) || verr.Reason != "replay_epoch" ||
				verr.Code != verify.CodeInvalidClient || verr.Infrastructure() {
				t.Fatalf("Verify = %v, want an invalid_client *verify.Error wrapping ErrReplayEpoch with reason replay_epoch", err)
			}
			// The refused assertion's jti is claimed all the same: sending
			// it again is a plain replay.
			if _, err := v.Verify(context.Background(), r); !errors.Is(err, verify.ErrReplayed) {
				t.Fatalf("second Verify = %v, want ErrReplayed", err)
			}
		})
	}
}
