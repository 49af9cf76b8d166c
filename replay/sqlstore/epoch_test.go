package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/internal/sqltest"
	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/replay/replaytest"
	"github.com/pkjwt/pkjwt/replay/sqlstore"
	"github.com/pkjwt/pkjwt/verify"
)

// epochOf claims a fresh key and returns the epoch the claim reports.
func epochOf(t *testing.T, s *sqlstore.Store) time.Time {
	t.Helper()
	epoch, err := s.Claim(context.Background(), fmt.Sprintf("epoch-probe-%d", time.Now().UnixNano()), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	return epoch
}

func metaEpoch(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	var ms int64
	if err := db.QueryRow(`SELECT epoch_ms FROM pkjwt_jti_meta WHERE id = 1`).Scan(&ms); err != nil {
		t.Fatal(err)
	}
	return ms
}

// TestEpoch covers what moves the epoch on every backend: new tables have
// a zero epoch; a claims table dropped under surviving metadata makes
// Migrate move it to now; MoveEpoch moves it forward only, and the other
// stores learn of it at their next tick.
func TestEpoch(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock(time.Now().Add(-time.Hour))
			db := openDB(t, b.dialect, b.dsn)
			s := newStore(t, db, b.dialect, sqlstore.Config{Now: clk.Now})
			if e := epochOf(t, s); !e.IsZero() {
				t.Fatalf("new tables: epoch %v, want zero", e)
			}
			other := newStore(t, db, b.dialect, sqlstore.Config{CleanupInterval: 20 * time.Millisecond})

			if _, err := db.Exec(`DROP TABLE pkjwt_jti`); err != nil {
				t.Fatal(err)
			}
			if err := s.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			want := clk.Now()
			if e := epochOf(t, s); !e.Equal(want) {
				t.Fatalf("claims table re-created: epoch %v, want %v (now)", e, want)
			}
			if ms := metaEpoch(t, db); ms != want.UnixMilli() {
				t.Fatalf("metadata row: %d, want %d", ms, want.UnixMilli())
			}
			waitEpoch(t, other, want)

			later := want.Add(time.Minute)
			if err := s.MoveEpoch(context.Background(), later); err != nil {
				t.Fatal(err)
			}
			if err := s.MoveEpoch(context.Background(), want); err != nil {
				t.Fatal(err)
			}
			if e := epochOf(t, s); !e.Equal(later) {
				t.Fatalf("after MoveEpoch forward then back: epoch %v, want %v", e, later)
			}
			waitEpoch(t, other, later)
			fresh := newStore(t, db, b.dialect, sqlstore.Config{})
			if e := epochOf(t, fresh); !e.Equal(later) {
				t.Fatalf("a store started later: epoch %v, want %v", e, later)
			}
		})
	}
}

// waitEpoch waits until s reports the epoch want (its cleanup tick reads
// it).
func waitEpoch(t *testing.T, s *sqlstore.Store, want time.Time) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		e := epochOf(t, s)
		if e.Equal(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("other store: epoch %v 10s later, want %v", e, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRollbackDetected drops the claims table and creates it again by
// hand, behind the stores' backs: the ids start over, and every store
// that claimed before moves its epoch to now at its next claim, and
// records it. A store with SkipRollbackDetection does not.
func TestRollbackDetected(t *testing.T) {
	for _, b := range backends(t)[:2] {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock(time.Now())
			db := openDB(t, b.dialect, b.dsn)
			s := newStore(t, db, b.dialect, sqlstore.Config{Now: clk.Now})
			skip := newStore(t, db, b.dialect, sqlstore.Config{Now: clk.Now, SkipRollbackDetection: true})
			fill(t, s, "before", 50, clk.Now().Add(time.Hour))
			fill(t, skip, "skip-before", 50, clk.Now().Add(time.Hour))

			clk.Add(time.Minute)
			ddl, err := sqlstore.Schema(b.dialect, "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(`DROP TABLE pkjwt_jti`); err != nil {
				t.Fatal(err)
			}
			for _, stmt := range ddl {
				if _, err := db.Exec(stmt); err != nil {
					t.Fatal(err)
				}
			}
			if e := epochOf(t, skip); !e.IsZero() {
				t.Fatalf("SkipRollbackDetection: epoch %v, want zero", e)
			}
			if e := epochOf(t, s); !e.Equal(clk.Now()) {
				t.Fatalf("after the ids went back: epoch %v, want %v (now)", e, clk.Now())
			}
			if ms := metaEpoch(t, db); ms != clk.Now().UnixMilli() {
				t.Fatalf("metadata row: %d, want %d", ms, clk.Now().UnixMilli())
			}
			// The new timeline is not a rollback again.
			clk.Add(time.Minute)
			fill(t, s, "after", 10, clk.Now().Add(time.Hour))
			if e := epochOf(t, s); !e.Equal(clk.Now().Add(-time.Minute)) {
				t.Fatalf("later claims: epoch %v, want it unchanged", e)
			}
		})
	}
}

const issuer = "https://as.example.com"

// leeway is the verifiers' clock-skew leeway.
const leeway = 15 * time.Second

// newVerifier returns a verifier as one server of a cluster would build
// it: its own pool to the shared database, its own store.
func newVerifier(t *testing.T, dialect sqlstore.Dialect, dsn string) *verify.Verifier {
	t.Helper()
	return newVerifierAt(t, dialect, dsn, time.Now)
}

// newVerifierAt is newVerifier with the clock now for both the verifier
// and its store.
func newVerifierAt(t *testing.T, dialect sqlstore.Dialect, dsn string, now func() time.Time) *verify.Verifier {
	t.Helper()
	keys, err := verify.NewKeySet(verify.Key{ID: "k1", Public: testkeys.Public(testkeys.P256)})
	if err != nil {
		t.Fatal(err)
	}
	store := newStore(t, openDB(t, dialect, dsn), dialect, sqlstore.Config{Timeout: loadedTimeout, Now: now})
	v, err := verify.New(issuer, verify.ClientMap{"c1": {ID: "c1", Keys: keys}}, store, verify.Config{Now: now, Leeway: leeway})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mint(iat time.Time) verify.Request {
	token := testkeys.Sign(testkeys.Alg(testkeys.P256), testkeys.Signer(testkeys.P256), map[string]any{"kid": "k1"},
		testkeys.Claims("c1", issuer, iat))
	return verify.Request{AssertionType: verify.AssertionType, Assertion: token, ClientID: "c1"}
}

func wantReason(t *testing.T, what string, err error, sentinel error) {
	t.Helper()
	var verr *verify.Error
	if !errors.As(err, &verr) || !errors.Is(err, sentinel) {
		t.Fatalf("%s: Verify = %v, want a *verify.Error wrapping %v", what, err, sentinel)
	}
}

// TestTwoVerifiersRace shares one PostgreSQL between two verifiers, each
// with its own pool: 100 concurrent uses of one assertion, spread over
// both, are accepted exactly once.
func TestTwoVerifiersRace(t *testing.T) {
	pg := sqltest.Postgres(t)
	nodes := []*verify.Verifier{newVerifier(t, sqlstore.Postgres, pg.DSN()), newVerifier(t, sqlstore.Postgres, pg.DSN())}
	for round := range 3 {
		req := mint(time.Now())
		errs := make([]error, 100)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() {
				<-start
				_, errs[i] = nodes[i%2].Verify(context.Background(), req)
			})
		}
		close(start)
		wg.Wait()
		accepted := 0
		for i, err := range errs {
			if err == nil {
				accepted++
				continue
			}
			wantReason(t, fmt.Sprintf("round %d, use %d", round, i), err, verify.ErrReplayed)
		}
		if accepted != 1 {
			t.Fatalf("round %d: %d of 100 racing uses accepted, want exactly 1", round, accepted)
		}
	}
}

// TestRestoreFromBackup restores PostgreSQL from a cold backup taken
// before an assertion was used, as an operator would after a disk loss.
// The table has forgotten the use, but the verifier, through the store's
// epoch, refuses the assertion anyway; assertions issued after the restore
// work.
func TestRestoreFromBackup(t *testing.T) {
	pg := sqltest.Postgres(t)
	v := newVerifier(t, sqlstore.Postgres, pg.DSN())
	ctx := context.Background()
	if _, err := v.Verify(ctx, mint(time.Now())); err != nil {
		t.Fatalf("before the backup: %v", err)
	}

	pg.Stop()
	backup, err := pg.Backup()
	if err != nil {
		t.Fatal(err)
	}
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	// Used after the backup: the restore will forget it. More than the 32
	// sequence values PostgreSQL logs ahead are used after the backup.
	used := mint(time.Now())
	var err2 error
	for range 3 { // the first claims may meet connections the stop broke
		if _, err2 = v.Verify(ctx, used); err2 == nil {
			break
		}
		wantReason(t, "after the restart", err2, verify.ErrReplayUnavailable)
	}
	if err2 != nil {
		t.Fatal(err2)
	}
	for i := range 40 {
		if _, err := v.Verify(ctx, mint(time.Now())); err != nil {
			t.Fatalf("use %d after the backup: %v", i, err)
		}
	}

	pg.Stop()
	if err := pg.Restore(backup); err != nil {
		t.Fatal(err)
	}
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	var verr error
	for range 3 {
		if _, verr = v.Verify(ctx, used); !errors.Is(verr, verify.ErrReplayUnavailable) {
			break
		}
	}
	wantReason(t, "the forgotten assertion after the restore", verr, verify.ErrReplayEpoch)
	if _, err := v.Verify(ctx, used); !errors.Is(err, verify.ErrReplayed) {
		t.Fatalf("the forgotten assertion, again: %v, want ErrReplayed", err)
	}
	// Verifiers refuse assertions issued up to the leeway after the
	// detection, which the database now records; one issued later works,
	// at a verifier (here a new one, its clock 20 s ahead) that learnt
	// the epoch from the database.
	ahead := func() time.Time { return time.Now().Add(leeway + 5*time.Second) }
	v2 := newVerifierAt(t, sqlstore.Postgres, pg.DSN(), ahead)
	if _, err := v2.Verify(ctx, mint(time.Now())); !errors.Is(err, verify.ErrReplayEpoch) {
		t.Fatalf("an assertion issued at the detection, at another verifier: %v, want ErrReplayEpoch", err)
	}
	if _, err := v2.Verify(ctx, mint(ahead())); err != nil {
		t.Fatalf("an assertion issued after the epoch: %v", err)
	}
}

// TestLossConformance runs replaytest.RunLoss on PostgreSQL and MariaDB:
// the loss is a restore from a cold backup taken before the store's claim,
// while the store stays in use. (SQLite compares no ids: a replaced file
// is not detected, as the package documentation says.)
func TestLossConformance(t *testing.T) {
	for _, b := range backends(t)[:2] {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			newStore(t, openDB(t, b.dialect, b.dsn), b.dialect, sqlstore.Config{}) // the tables
			b.srv.Stop()
			backup, err := b.srv.Backup()
			if err != nil {
				t.Fatal(err)
			}
			if err := b.srv.Start(); err != nil {
				t.Fatal(err)
			}
			replaytest.RunLoss(t, func(t *testing.T) replay.Store {
				return newStore(t, openDB(t, b.dialect, b.dsn), b.dialect, sqlstore.Config{})
			}, func(t *testing.T) {
				b.srv.Stop()
				if err := b.srv.Restore(backup); err != nil {
					t.Fatal(err)
				}
				if err := b.srv.Start(); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}
