// Package replaytest is the conformance suite for [replay.Store]
// implementations.
//
// Every store in this module runs it, and so should a custom backend:
//
//	func TestConformance(t *testing.T) {
//		replaytest.Run(t, func(t *testing.T) replay.Store {
//			s := newMyStore(t)
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
package replaytest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/replay"
)

// concurrency is the number of goroutines that race to claim one key.
const concurrency = 1000

// expiryLifetime is how long the expiry subtest claims a key for.
const expiryLifetime = 300 * time.Millisecond

// Run checks the contract documented in package replay against the stores
// newStore returns: exactly one winner among 1000 concurrent claims of a key,
// replays reported with ErrReplayed, claims that expire (no earlier than
// their until; the suite waits out a 300 ms claim), independent keys,
// arbitrary key bytes up to 4 KiB, done contexts and bad arguments rejected,
// until times in the past, and epochs that never lie in the future nor move
// backward while the store is healthy. [RunLoss] checks the epoch after a
// loss.
//
// Run calls newStore once per subtest, with the subtest's t; newStore should
// register any cleanup with t.Cleanup. The subtests run in parallel and take
// about half a second in all. Each uses keys no earlier run has used, so
// stores may share one backend, even a persistent one.
func Run(t *testing.T, newStore func(t *testing.T) replay.Store) {
	t.Helper()
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails
	prefix := "replaytest\x00" + hex.EncodeToString(nonce) + "\x00"

	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s replay.Store, key func(string) string)
	}{
		{"ClaimThenReplay", testClaimThenReplay},
		{"ConcurrentClaimsOneWinner", testConcurrentClaims},
		{"ConcurrentDistinctKeys", testConcurrentDistinctKeys},
		{"DistinctKeysIndependent", testDistinctKeys},
		{"OddKeys", testOddKeys},
		{"Expiry", testExpiry},
		{"PastUntil", testPastUntil},
		{"DoneContext", testDoneContext},
		{"BadArguments", testBadArguments},
		{"EpochSteady", testEpochSteady},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			tc.run(t, s, func(k string) string { return prefix + tc.name + "\x00" + k })
		})
	}
}

// later is the until of claims that must not expire during the suite.
func later() time.Time { return time.Now().Add(time.Minute) }

func claim(t *testing.T, s replay.Store, key string, until time.Time) error {
	t.Helper()
	_, err := s.Claim(context.Background(), key, until)
	return err
}

func wantNil(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: Claim = %v, want nil", what, err)
	}
}

func wantReplayed(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, replay.ErrReplayed) {
		t.Fatalf("%s: Claim = %v, want an error wrapping replay.ErrReplayed", what, err)
	}
}

func testClaimThenReplay(t *testing.T, s replay.Store, key func(string) string) {
	k, until := key("jti-1"), later()
	wantNil(t, "first claim", claim(t, s, k, until))
	wantReplayed(t, "second claim", claim(t, s, k, until))
	wantReplayed(t, "claim with a later until", claim(t, s, k, until.Add(time.Hour)))
	wantReplayed(t, "claim with an earlier until", claim(t, s, k, time.Now().Add(time.Second)))
}

func testConcurrentClaims(t *testing.T, s replay.Store, key func(string) string) {
	k, until := key("contended"), later()
	errs := make([]error, concurrency)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			<-start
			_, errs[i] = s.Claim(context.Background(), k, until)
		})
	}
	close(start)
	wg.Wait()

	winners := 0
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
		case !errors.Is(err, replay.ErrReplayed):
			t.Errorf("claim %d: %v, want nil or replay.ErrReplayed", i, err)
		}
	}
	if winners != 1 {
		t.Fatalf("%d of %d concurrent claims of one key returned nil, want exactly 1", winners, concurrency)
	}
	wantReplayed(t, "claim after the race", claim(t, s, k, until))
}

func testConcurrentDistinctKeys(t *testing.T, s replay.Store, key func(string) string) {
	const n = 200
	until := later()
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			<-start
			_, errs[i] = s.Claim(context.Background(), key(strings.Repeat("x", i+1)), until)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("claim of distinct key %d: %v, want nil", i, err)
		}
	}
}

func testDistinctKeys(t *testing.T, s replay.Store, key func(string) string) {
	until := later()
	// Each key differs from the others in a way a careless backend might
	// fold away: prefixes, case, trailing bytes, separators.
	keys := []string{"a", "ab", "A", "a ", "a\x00", "\x00a", "b", "a:b", "a\x00b", "ab\x00"}
	for _, k := range keys {
		wantNil(t, "first claim of "+quote(k), claim(t, s, key(k), until))
	}
	for _, k := range keys {
		wantReplayed(t, "second claim of "+quote(k), claim(t, s, key(k), until))
	}
}

func testOddKeys(t *testing.T, s replay.Store, key func(string) string) {
	var all [256]byte
	for i := range all {
		all[i] = byte(i)
	}
	long := make([]byte, 4096)
	for i := range long {
		long[i] = byte(i*131 + i/256) // every byte value, no simple period
	}
	longOther := append([]byte(nil), long...)
	longOther[len(longOther)-1] ^= 1

	for _, tc := range []struct{ name, key string }{
		{"all byte values", string(all[:])},
		{"NUL only", "\x00"},
		{"CRLF and RESP syntax", "\r\n*1\r\n$4\r\nPING\r\n"},
		{"invalid UTF-8", "\xff\xfe\xc0\x80"},
		{"glob characters", "*?[a-z]\\"},
		{"SQL quoting", "'; DROP TABLE pkjwt_jti; --"},
		{"unicode", "clïent\u202e\U0001F511"},
		{"4 KiB", string(long)},
		{"4 KiB differing in the last byte", string(longOther)},
	} {
		k := key(tc.key)
		wantNil(t, tc.name+": first claim", claim(t, s, k, later()))
		wantReplayed(t, tc.name+": second claim", claim(t, s, k, later()))
	}
}

func testExpiry(t *testing.T, s replay.Store, key func(string) string) {
	k := key("short")
	until := time.Now().Add(expiryLifetime)
	wantNil(t, "first claim", claim(t, s, k, until))

	// Shortly before until the claim must still hold. A loaded machine may
	// oversleep; only answers given before until count.
	time.Sleep(time.Until(until.Add(-expiryLifetime / 3)))
	err := claim(t, s, k, time.Now().Add(time.Minute))
	if time.Now().Before(until) {
		wantReplayed(t, "claim before until", err)
	} else if err != nil && !errors.Is(err, replay.ErrReplayed) {
		t.Fatalf("claim near until: %v, want nil or replay.ErrReplayed", err)
	}
	if err == nil {
		return // answered after until and reclaimed: expiry works
	}

	// After until the key must become claimable again, within a grace
	// period for stores that expire lazily or round up.
	time.Sleep(time.Until(until))
	deadline := until.Add(2 * time.Second)
	for {
		err := claim(t, s, k, later())
		if err == nil {
			break
		}
		if !errors.Is(err, replay.ErrReplayed) {
			t.Fatalf("claim after until: %v, want nil or replay.ErrReplayed", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("claim still refused %v after its until", time.Since(until).Round(time.Millisecond))
		}
		time.Sleep(20 * time.Millisecond)
	}
	wantReplayed(t, "claim after reclaiming", claim(t, s, k, later()))
}

func testPastUntil(t *testing.T, s replay.Store, key func(string) string) {
	past := time.Now().Add(-time.Minute)

	k := key("claimed")
	wantNil(t, "first claim", claim(t, s, k, later()))
	wantReplayed(t, "claimed key, until in the past", claim(t, s, k, past))
	wantReplayed(t, "claimed key after a past-until claim", claim(t, s, k, later()))

	// A fresh key with a past until may be refused or accepted, but must not
	// be reported as a replay, and must not block a real claim afterwards.
	fresh := key("fresh")
	if err := claim(t, s, fresh, past); errors.Is(err, replay.ErrReplayed) {
		t.Fatalf("fresh key, until in the past: %v, want nil or an error not wrapping replay.ErrReplayed", err)
	}
	if err := claim(t, s, key("fresh, long ago"), time.Unix(1, 0)); errors.Is(err, replay.ErrReplayed) {
		t.Fatalf("fresh key, until in 1970: %v, want nil or an error not wrapping replay.ErrReplayed", err)
	}
	wantNil(t, "fresh key claimed properly after a past-until claim", claim(t, s, fresh, later()))
}

func testDoneContext(t *testing.T, s replay.Store, key func(string) string) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()

	claimed := key("claimed")
	wantNil(t, "claim", claim(t, s, claimed, later()))

	for _, tc := range []struct {
		name string
		ctx  context.Context
	}{
		{"cancelled", cancelled},
		{"deadline exceeded", expired},
	} {
		_, err := s.Claim(tc.ctx, key("fresh "+tc.name), later())
		if !errors.Is(err, tc.ctx.Err()) || errors.Is(err, replay.ErrReplayed) {
			t.Errorf("%s ctx, fresh key: Claim = %v, want an error wrapping %v and not replay.ErrReplayed", tc.name, err, tc.ctx.Err())
		}
		if _, err := s.Claim(tc.ctx, claimed, later()); err == nil {
			t.Errorf("%s ctx, claimed key: Claim = nil, want an error", tc.name)
		}
	}
}

func testBadArguments(t *testing.T, s replay.Store, key func(string) string) {
	if err := claim(t, s, "", later()); err == nil || errors.Is(err, replay.ErrReplayed) {
		t.Errorf("empty key: Claim = %v, want an error not wrapping replay.ErrReplayed", err)
	}
	if err := claim(t, s, key("zero until"), time.Time{}); err == nil || errors.Is(err, replay.ErrReplayed) {
		t.Errorf("zero until: Claim = %v, want an error not wrapping replay.ErrReplayed", err)
	}
	// Neither mistake may have recorded anything.
	wantNil(t, "claim after a zero-until claim", claim(t, s, key("zero until"), later()))
}

// quote shortens and quotes a key for a failure message.
func quote(k string) string {
	if len(k) > 40 {
		return strconv.Quote(k[:40]) + "..."
	}
	return strconv.Quote(k)
}

// clockSlack is how far a store's epoch may lie ahead of the test's clock:
// a backend that stamps epochs with its own clock (Redis TIME, a database's
// now()) may run a little ahead.
const clockSlack = time.Second

func testEpochSteady(t *testing.T, s replay.Store, key func(string) string) {
	var last time.Time
	for i := range 20 {
		epoch, err := s.Claim(context.Background(), key(strconv.Itoa(i)), later())
		if err != nil {
			t.Fatalf("claim %d: %v", i, err)
		}
		if epoch.After(time.Now().Add(clockSlack)) {
			t.Fatalf("claim %d: epoch %v lies in the future", i, epoch)
		}
		if epoch.Before(last) {
			t.Fatalf("claim %d: epoch %v is earlier than the one before, %v, with no loss between", i, epoch, last)
		}
		last = epoch
	}
}

// RunLoss checks that a store notices when its backend forgets claims:
// newStore returns a store (as for [Run]); lose makes the backend forget
// every claim while that store stays in use (restart it without its data,
// flush it, truncate its table). After lose, a Claim of a key claimed
// before must either still report [replay.ErrReplayed] or return an epoch no
// earlier than the moment that claim was made, so that the verifier refuses
// what the store forgot. Claims that fail while the backend comes back are
// retried for up to 10 seconds.
//
// Call RunLoss with a backend of the test's own: lose destroys its data.
func RunLoss(t *testing.T, newStore func(t *testing.T) replay.Store, lose func(t *testing.T)) {
	t.Helper()
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	k := "replaytest\x00loss\x00" + hex.EncodeToString(nonce)
	s := newStore(t)
	wantNil(t, "claim before the loss", claim(t, s, k, later()))
	claimed := time.Now()

	lose(t)

	deadline := time.Now().Add(10 * time.Second)
	for {
		epoch, err := s.Claim(context.Background(), k, later())
		switch {
		case errors.Is(err, replay.ErrReplayed):
			return
		case err == nil:
			if epoch.Before(claimed.Add(-time.Millisecond)) {
				t.Fatalf("claim after the loss: nil error with epoch %v, before the lost claim (%v): a replay would pass", epoch, claimed)
			}
			if epoch.After(time.Now().Add(clockSlack)) {
				t.Fatalf("claim after the loss: epoch %v lies in the future", epoch)
			}
			return
		case time.Now().After(deadline):
			t.Fatalf("claim after the loss still failing after 10s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
