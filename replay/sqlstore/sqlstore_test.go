package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/internal/sqltest"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/replay/replaytest"
	"github.com/pkjwt/pkjwt/replay/sqlstore"
)

// TestConformance runs the replay.Store conformance suite against a real
// PostgreSQL, a real MariaDB (also with the driver's clientFoundRows,
// which changes what MySQL reports as affected rows) and a SQLite file.
func TestConformance(t *testing.T) {
	for _, b := range backends(t) {
		type variant struct {
			dsn string
			cfg sqlstore.Config
		}
		variants := map[string]variant{b.name: {b.dsn, sqlstore.Config{Timeout: loadedTimeout}}}
		switch b.dialect {
		case sqlstore.MySQL:
			variants[b.name+"/clientFoundRows"] = variant{b.dsn + "?clientFoundRows=true", sqlstore.Config{Timeout: loadedTimeout}}
		case sqlstore.Postgres:
			// Batched by default; also one claim per statement.
			variants[b.name+"/MaxBatch=1"] = variant{b.dsn, sqlstore.Config{Timeout: loadedTimeout, MaxBatch: 1}}
		}
		for name, v := range variants {
			t.Run(name, func(t *testing.T) {
				db := openDB(t, b.dialect, v.dsn)
				newStore(t, db, b.dialect, sqlstore.Config{}) // migrate once
				replaytest.Run(t, func(t *testing.T) replay.Store {
					return newStore(t, db, b.dialect, v.cfg)
				})
			})
		}
	}
}

func TestNewRejectsBadArguments(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tc := range []struct {
		name    string
		db      *sql.DB
		dialect sqlstore.Dialect
		cfg     sqlstore.Config
		want    string
	}{
		{"nil db", nil, sqlstore.SQLite, sqlstore.Config{}, "nil *sql.DB"},
		{"unknown dialect", db, "oracle", sqlstore.Config{}, `unknown dialect "oracle"`},
		{"empty dialect", db, "", sqlstore.Config{}, `unknown dialect ""`},
		{"negative batch", db, sqlstore.SQLite, sqlstore.Config{CleanupBatch: -1}, "negative CleanupBatch"},
		{"negative MaxBatch", db, sqlstore.Postgres, sqlstore.Config{MaxBatch: -1}, "negative MaxBatch"},
		{"injection", db, sqlstore.SQLite, sqlstore.Config{Table: "jti; DROP TABLE users"}, "invalid table name"},
		{"quoted", db, sqlstore.SQLite, sqlstore.Config{Table: `"jti"`}, "invalid table name"},
		{"schema-qualified", db, sqlstore.SQLite, sqlstore.Config{Table: "public.jti"}, "invalid table name"},
		{"upper case", db, sqlstore.SQLite, sqlstore.Config{Table: "JTI"}, "invalid table name"},
		{"leading digit", db, sqlstore.SQLite, sqlstore.Config{Table: "1jti"}, "invalid table name"},
		{"too long", db, sqlstore.SQLite, sqlstore.Config{Table: strings.Repeat("a", 49)}, "invalid table name"},
		{"non-ASCII", db, sqlstore.SQLite, sqlstore.Config{Table: "jtï"}, "invalid table name"},
	} {
		s, err := sqlstore.New(tc.db, tc.dialect, tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "sqlstore: ") {
			t.Errorf("%s: New = %v, %v; want an error containing %q", tc.name, s, err, tc.want)
		}
	}
	for _, table := range []string{"a", "_", "jti_2", strings.Repeat("a", 48)} {
		s, err := sqlstore.New(db, sqlstore.SQLite, sqlstore.Config{Table: table})
		if err != nil {
			t.Errorf("table %q: %v", table, err)
			continue
		}
		s.Close()
	}
}

// TestDDLDocumented checks that the DDL in the package documentation is
// exactly what Migrate runs, and that Migrate creates a table under
// another name (Config.Table) that works.
func TestDDLDocumented(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	// The documentation's code blocks, without the comment markers.
	var text strings.Builder
	for line := range strings.Lines(string(doc)) {
		line = strings.TrimPrefix(strings.TrimPrefix(line, "//"), "\t")
		text.WriteString(line)
	}
	for _, d := range []sqlstore.Dialect{sqlstore.Postgres, sqlstore.MySQL, sqlstore.SQLite} {
		ddl, err := sqlstore.Schema(d, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, stmt := range ddl {
			if !strings.Contains(text.String(), stmt+";") {
				t.Errorf("%s: the package documentation lacks\n%s;", d, stmt)
			}
		}
	}
}

func TestOtherTableName(t *testing.T) {
	db := openDB(t, sqlstore.SQLite, sqliteDSN(t))
	a := newStore(t, db, sqlstore.SQLite, sqlstore.Config{Table: "a_jti"})
	b := newStore(t, db, sqlstore.SQLite, sqlstore.Config{Table: "b_jti"})
	until := time.Now().Add(time.Minute)
	wantNil(t, "a", claim(a, "k", until))
	wantNil(t, "b, other table", claim(b, "k", until))
	wantReplayed(t, "a again", claim(a, "k", until))
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM a_jti`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows in a_jti: %d, %v", n, err)
	}
}

// TestNotMigrated checks that a store without its tables fails closed and
// says why.
func TestNotMigrated(t *testing.T) {
	pg := sqltest.Postgres(t)
	for _, b := range []backend{
		{"postgres", sqlstore.Postgres, pg.DSN(), pg},
		{"sqlite", sqlstore.SQLite, sqliteDSN(t), nil},
	} {
		t.Run(b.name, func(t *testing.T) {
			s, err := sqlstore.New(openDB(t, b.dialect, b.dsn), b.dialect, sqlstore.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			err = claim(s, "k", time.Now().Add(time.Minute))
			wantDown(t, "claim before Migrate", err)
			if !errors.Is(err, sqlstore.ErrNotMigrated) {
				t.Fatalf("claim before Migrate: %v, want ErrNotMigrated", err)
			}
			if err := s.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			wantNil(t, "claim after Migrate", claim(s, "k", time.Now().Add(time.Minute)))
		})
	}
}

// TestHandMadeTables runs the documented DDL by hand, without the metadata
// row, as a team with its own migrations would: the first claim creates
// the row with a zero epoch.
func TestHandMadeTables(t *testing.T) {
	db := openDB(t, sqlstore.SQLite, sqliteDSN(t))
	ddl, err := sqlstore.Schema(sqlstore.SQLite, "hand_jti")
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range ddl {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	s, err := sqlstore.New(db, sqlstore.SQLite, sqlstore.Config{Table: "hand_jti"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	epoch, err := s.Claim(context.Background(), "k", time.Now().Add(time.Minute))
	if err != nil || !epoch.IsZero() {
		t.Fatalf("first claim: epoch %v, %v; want zero, nil", epoch, err)
	}
	var ms int64
	if err := db.QueryRow(`SELECT epoch_ms FROM hand_jti_meta WHERE id = 1`).Scan(&ms); err != nil || ms != 0 {
		t.Fatalf("metadata row: %d, %v", ms, err)
	}
}

// TestMigrateIdempotent runs Migrate again, from several stores at once,
// on a table that holds claims: nothing is lost and the epoch stays.
func TestMigrateIdempotent(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			db := openDB(t, b.dialect, b.dsn)
			s := newStore(t, db, b.dialect, sqlstore.Config{})
			wantNil(t, "claim", claim(s, "k", time.Now().Add(time.Hour)))
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Go(func() {
					s2, err := sqlstore.New(db, b.dialect, sqlstore.Config{})
					if err != nil {
						errs[i] = err
						return
					}
					defer s2.Close()
					errs[i] = s2.Migrate(context.Background())
				})
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatalf("concurrent Migrate: %v", err)
				}
			}
			epoch, err := s.Claim(context.Background(), "other", time.Now().Add(time.Hour))
			if err != nil || !epoch.IsZero() {
				t.Fatalf("claim after Migrate: epoch %v, %v; want zero, nil", epoch, err)
			}
			wantReplayed(t, "claim from before the migration", claim(s, "k", time.Now().Add(time.Hour)))
		})
	}
}

// TestDatabaseStopped stops the database server mid-run (SIGKILL, as a
// crash): claims fail closed, and once the server is back they succeed
// again and the claims made before the crash still hold.
func TestDatabaseStopped(t *testing.T) {
	for _, b := range backends(t)[:2] {
		t.Run(b.name, func(t *testing.T) {
			s := newStore(t, openDB(t, b.dialect, b.dsn), b.dialect, sqlstore.Config{Timeout: 5 * time.Second})
			until := time.Now().Add(time.Hour)
			wantNil(t, "before the crash", claim(s, "before", until))

			b.srv.Stop()
			for i := range 3 {
				wantDown(t, fmt.Sprintf("server down, claim %d", i), claim(s, fmt.Sprintf("down-%d", i), until))
			}
			wantDown(t, "server down, claimed key", claim(s, "before", until))

			if err := b.srv.Start(); err != nil {
				t.Fatal(err)
			}
			// The pool may hand out a connection that died with the old
			// server once; the driver discards it and the next claim works.
			// A failed claim is never a success or a replay.
			deadline := time.Now().Add(10 * time.Second)
			for {
				err := claim(s, "after", until)
				if err == nil {
					break
				}
				wantDown(t, "reconnecting", err)
				if time.Now().After(deadline) {
					t.Fatalf("no successful claim 10s after the restart: %v", err)
				}
				time.Sleep(50 * time.Millisecond)
			}
			wantReplayed(t, "claimed before the crash", claim(s, "before", until))
			wantReplayed(t, "claimed after the restart", claim(s, "after", until))
			// The claims attempted while the server was down recorded nothing.
			for i := range 3 {
				wantNil(t, "attempted while down", claim(s, fmt.Sprintf("down-%d", i), until))
			}
		})
	}
}

// TestPausedDatabaseTimesOut freezes the server and its backends: a claim
// gives up after Config.Timeout with the deadline error, and works again
// once the server resumes.
func TestPausedDatabaseTimesOut(t *testing.T) {
	for _, b := range backends(t)[:2] {
		t.Run(b.name, func(t *testing.T) {
			s := newStore(t, openDB(t, b.dialect, b.dsn), b.dialect, sqlstore.Config{Timeout: 300 * time.Millisecond})
			until := time.Now().Add(time.Hour)
			wantNil(t, "before", claim(s, "before", until))
			if err := b.srv.Pause(); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err := claim(s, "paused", until)
			took := time.Since(start)
			if err := b.srv.Resume(); err != nil {
				t.Fatal(err)
			}
			wantDown(t, "server paused", err)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("server paused: %v, want an error wrapping context.DeadlineExceeded", err)
			}
			if took > 5*time.Second {
				t.Errorf("claim against a paused server took %v with Timeout 300ms", took)
			}
			// Close does not wait for the frozen server either.
			if err := b.srv.Pause(); err != nil {
				t.Fatal(err)
			}
			closed := make(chan struct{})
			go func() {
				s.Close()
				close(closed)
			}()
			select {
			case <-closed:
			case <-time.After(5 * time.Second):
				t.Error("Close blocks while the server is frozen")
			}
			if err := b.srv.Resume(); err != nil {
				t.Fatal(err)
			}
			<-closed
			s = newStore(t, openDB(t, b.dialect, b.dsn), b.dialect, sqlstore.Config{Timeout: 300 * time.Millisecond})
			deadline := time.Now().Add(10 * time.Second)
			for {
				err := claim(s, "resumed", until)
				if err == nil {
					break
				}
				wantDown(t, "after resume", err)
				if time.Now().After(deadline) {
					t.Fatalf("no successful claim 10s after resume: %v", err)
				}
			}
			wantReplayed(t, "claimed before the pause", claim(s, "before", until))
		})
	}
}

// TestStatementTimeout holds the row lock of a key in an open transaction
// so that a claim of the same key waits: the server's own statement (or
// lock wait) timeout ends it with an error, and so does the caller's
// deadline. Neither is a success or a replay.
func TestStatementTimeout(t *testing.T) {
	for _, b := range backends(t)[:2] {
		t.Run(b.name, func(t *testing.T) {
			db := openDB(t, b.dialect, b.dsn)
			s := newStore(t, db, b.dialect, sqlstore.Config{})
			param := "?statement_timeout=200" // PostgreSQL, ms
			if b.dialect == sqlstore.MySQL {
				param = "?innodb_lock_wait_timeout=1"
			}
			slow := newStore(t, openDB(t, b.dialect, b.dsn+param), b.dialect, sqlstore.Config{Timeout: 30 * time.Second})

			// Another session claims "held" and does not commit.
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			insert := `INSERT INTO pkjwt_jti (k, exp_ms) VALUES ($1, $2)`
			if b.dialect == sqlstore.MySQL {
				insert = `INSERT INTO pkjwt_jti (k, exp_ms) VALUES (?, ?)`
			}
			if _, err := tx.Exec(insert, sqlstore.StoredKey("held"), time.Now().Add(time.Hour).UnixMilli()); err != nil {
				t.Fatal(err)
			}
			until := time.Now().Add(time.Hour)
			err = claim(slow, "held", until)
			wantDown(t, "server statement timeout", err)
			t.Logf("server timeout: %v", err)

			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			_, err = s.Claim(ctx, "held", until)
			wantDown(t, "caller deadline", err)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("caller deadline: %v, want an error wrapping context.DeadlineExceeded", err)
			}
			// The other session gives up. A claim that timed out may still
			// have been recorded by the server (MariaDB finishes a statement
			// whose client has gone), which burns the assertion: still fail
			// closed. The store works on.
			tx.Rollback()
			if err := claim(s, "held", until); err != nil && !errors.Is(err, replay.ErrReplayed) {
				t.Fatalf("after the rollback: %v", err)
			}
			wantNil(t, "after the rollback, another key", claim(s, "other", until))
		})
	}
}

// TestReadOnly opens each database in a read-only mode: every claim fails
// closed, including that of a key claimed before, which a read-only
// database can still see but must not report as a success.
func TestReadOnly(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := newStore(t, openDB(t, b.dialect, b.dsn), b.dialect, sqlstore.Config{})
			until := time.Now().Add(time.Hour)
			wantNil(t, "read-write", claim(s, "claimed", until))
			param := map[sqlstore.Dialect]string{
				sqlstore.Postgres: "?default_transaction_read_only=on",
				sqlstore.MySQL:    "?tx_read_only=1",
				sqlstore.SQLite:   "&_pragma=query_only(1)",
			}[b.dialect]
			ro := newStoreNoMigrate(t, openDB(t, b.dialect, b.dsn+param), b.dialect)
			wantDown(t, "read-only, fresh key", claim(ro, "fresh", until))
			err := claim(ro, "claimed", until)
			wantDown(t, "read-only, claimed key", err)
			t.Logf("read-only: %v", err)
			wantNil(t, "read-write, the key the read-only store tried", claim(s, "fresh", until))
		})
	}
}

func newStoreNoMigrate(t *testing.T, db *sql.DB, d sqlstore.Dialect) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.New(db, d, sqlstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestCleanupUnderLoad fills a table with expired and live claims, then
// runs the cleanup (in small batches) while claims go on: every expired
// row is deleted, no live one is, each re-claim of an expired key is
// accepted exactly once, and every live key stays refused.
func TestCleanupUnderLoad(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock(time.Now())
			db := openDB(t, b.dialect, b.dsn)
			s := newStore(t, db, b.dialect, sqlstore.Config{Now: clk.Now, CleanupInterval: -1, CleanupBatch: 50, Timeout: loadedTimeout})
			const expired, live = 1500, 300
			short, long := clk.Now().Add(time.Second), clk.Now().Add(time.Hour)
			fill(t, s, "expired", expired, short)
			fill(t, s, "live", live, long)
			clk.Add(2 * time.Second) // the short claims expire

			ctx := context.Background()
			var (
				wg       sync.WaitGroup
				mu       sync.Mutex
				reclaims = map[string]int{}
				problems []string
				deleted  int64
			)
			wg.Go(func() {
				n, err := s.Cleanup(ctx)
				mu.Lock()
				defer mu.Unlock()
				deleted = n
				if err != nil {
					problems = append(problems, "cleanup: "+err.Error())
				}
			})
			for w := range 4 {
				wg.Go(func() {
					for i := range expired / 2 {
						// Two workers race for each of the first half of
						// the expired keys.
						k := fmt.Sprintf("expired-%d", (i+w*expired/4)%(expired/2))
						err := claim(s, k, long)
						lk := fmt.Sprintf("live-%d", (i*7+w)%live)
						lerr := claim(s, lk, long)
						fresh := claim(s, fmt.Sprintf("fresh-%d-%d", w, i), long)
						mu.Lock()
						switch {
						case err == nil:
							reclaims[k]++
						case !errors.Is(err, replay.ErrReplayed):
							problems = append(problems, k+": "+err.Error())
						}
						if !errors.Is(lerr, replay.ErrReplayed) {
							problems = append(problems, fmt.Sprintf("%s (live): %v", lk, lerr))
						}
						if fresh != nil {
							problems = append(problems, "fresh: "+fresh.Error())
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if len(problems) > 0 {
				t.Fatalf("%d problems, first: %s", len(problems), problems[0])
			}
			for i := range expired / 2 {
				k := fmt.Sprintf("expired-%d", i)
				if reclaims[k] != 1 {
					t.Fatalf("%s re-claimed %d times, want exactly once", k, reclaims[k])
				}
			}
			// What the racing cleanup left (rows it could not see yet),
			// another pass removes; the re-claimed keys are live now.
			n, err := s.Cleanup(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("cleanup under load deleted %d rows, then %d", deleted, n)
			if total := deleted + n; total < expired/2 || total > expired {
				t.Fatalf("cleanups deleted %d rows, want between %d and %d", total, expired/2, expired)
			}
			var rows int
			if err := db.QueryRow(`SELECT count(*) FROM pkjwt_jti`).Scan(&rows); err != nil {
				t.Fatal(err)
			}
			if want := expired/2 + live + 4*expired/2; rows != want {
				t.Fatalf("%d rows left, want %d (re-claimed, live and fresh)", rows, want)
			}
			for i := range live {
				wantReplayed(t, "live key after cleanup", claim(s, fmt.Sprintf("live-%d", i), long))
			}
			for i := expired / 2; i < expired; i++ {
				wantNil(t, "expired key after cleanup", claim(s, fmt.Sprintf("expired-%d", i), long))
			}
		})
	}
}

// fill claims n keys prefix-0 ... prefix-(n-1) until until, 8 at a time.
func fill(t *testing.T, s replay.Store, prefix string, n int, until time.Time) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				if err := claim(s, fmt.Sprintf("%s-%d", prefix, i), until); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("fill %s: %v", prefix, err)
	}
}

// TestCleanupGoroutine lets the store's own goroutine delete expired rows,
// then checks that Close stops it.
func TestCleanupGoroutine(t *testing.T) {
	clk := newClock(time.Now())
	db := openDB(t, sqlstore.SQLite, sqliteDSN(t))
	s := newStore(t, db, sqlstore.SQLite, sqlstore.Config{Now: clk.Now, CleanupInterval: 10 * time.Millisecond})
	fill(t, s, "k", 100, clk.Now().Add(time.Second))
	wantNil(t, "live", claim(s, "live", clk.Now().Add(time.Hour)))
	clk.Add(2 * time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM pkjwt_jti`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d rows left 10s after expiry, want 1", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	wantReplayed(t, "live claim after cleanup", claim(s, "live", clk.Now().Add(time.Hour)))

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := claim(s, "after close", clk.Now().Add(time.Hour)); !errors.Is(err, sqlstore.ErrClosed) {
		t.Fatalf("claim after Close: %v, want ErrClosed", err)
	}
	buf := make([]byte, 1<<20)
	if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, "sqlstore.(*Store).janitor") {
		t.Fatalf("the cleanup goroutine outlives Close:\n%s", stacks)
	}
}

// TestBatching freezes PostgreSQL while 104 claims arrive, so that at most
// four claim statements wait on it and the other claims queue: once it
// resumes, the queued claims go in a few multi-row statements, and each is
// decided as alone (fresh keys claimed, a key claimed before refused, ten racing
// claims of one key won once).
func TestBatching(t *testing.T) {
	pg := sqltest.Postgres(t)
	s := newStore(t, openDB(t, sqlstore.Postgres, pg.DSN()), sqlstore.Postgres, sqlstore.Config{Timeout: loadedTimeout})
	until := time.Now().Add(time.Hour)
	wantNil(t, "before", claim(s, "claimed", until))
	sent := sqlstore.BatchStatements(s)

	if err := pg.Pause(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(map[string][]error)
	var mu sync.Mutex
	do := func(key string) {
		wg.Go(func() {
			err := claim(s, key, until)
			mu.Lock()
			errs[key] = append(errs[key], err)
			mu.Unlock()
		})
	}
	for i := range 4 { // statements the paused server holds
		do(fmt.Sprintf("first-%d", i))
	}
	for i := range 89 {
		do(fmt.Sprintf("queued-%d", i))
	}
	do("claimed")
	for range 10 {
		do("contended")
	}
	for deadline := time.Now().Add(10 * time.Second); sqlstore.WaitingClaims(s) < 104; {
		if time.Now().After(deadline) {
			t.Fatalf("%d claims waiting after 10s, want 104", sqlstore.WaitingClaims(s))
		}
		time.Sleep(time.Millisecond)
	}
	if err := pg.Resume(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	for key, es := range errs {
		switch key {
		case "claimed":
			wantReplayed(t, key, es[0])
		case "contended":
			won := 0
			for _, err := range es {
				if err == nil {
					won++
				} else {
					wantReplayed(t, key, err)
				}
			}
			if won != 1 {
				t.Errorf("%d of 10 racing claims of one key won, want 1", won)
			}
		default:
			wantNil(t, key, es[0])
		}
	}
	// At most 4 statements held by the frozen server, then the queued
	// claims in 64-row statements (racing claims of one key ride along).
	if n := sqlstore.BatchStatements(s) - sent; n > 8 {
		t.Errorf("%d statements for 104 claims, want at most 8", n)
	} else {
		t.Logf("%d statements for 104 claims", n)
	}

	// Close ends a statement stuck on a hung server (no Timeout here) and
	// leaves no goroutine behind.
	hung := newStore(t, openDB(t, sqlstore.Postgres, pg.DSN()), sqlstore.Postgres, sqlstore.Config{Timeout: -1})
	wantNil(t, "before the hang", claim(hung, "hung-before", until))
	if err := pg.Pause(); err != nil {
		t.Fatal(err)
	}
	defer pg.Resume()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := hung.Claim(ctx, "hung", until); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("claim against a hung server: %v, want context.DeadlineExceeded", err)
	}
	closed := make(chan struct{})
	go func() {
		hung.Close()
		s.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		buf := make([]byte, 1<<20)
		t.Fatalf("Close blocks on a statement to a hung server:\n%s", buf[:runtime.Stack(buf, true)])
	}
	buf := make([]byte, 1<<20)
	if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, "sqlstore.(*batcher)") {
		t.Fatalf("a batch goroutine outlives Close:\n%s", stacks)
	}
}

// TestConcurrentFirstMigrate starts eight stores at once on databases
// without the tables, as a fleet's first deployment does: every Migrate
// succeeds and the tables are made once.
func TestConcurrentFirstMigrate(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			db := openDB(t, b.dialect, b.dsn)
			for round := range 5 {
				cfg := sqlstore.Config{Table: fmt.Sprintf("fresh_%d", round)}
				errs := make([]error, 8)
				var wg sync.WaitGroup
				for i := range errs {
					wg.Go(func() {
						s, err := sqlstore.New(db, b.dialect, cfg)
						if err != nil {
							errs[i] = err
							return
						}
						defer s.Close()
						errs[i] = s.Migrate(context.Background())
					})
				}
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Fatalf("round %d, Migrate %d: %v", round, i, err)
					}
				}
				s := newStore(t, db, b.dialect, cfg)
				if e := epochOf(t, s); !e.IsZero() {
					t.Fatalf("round %d: epoch %v after the first migration, want zero", round, e)
				}
			}
		})
	}
}
