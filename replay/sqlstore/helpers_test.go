package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"log"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/pkjwt/pkjwt/internal/sqltest"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/replay/sqlstore"
)

func TestMain(m *testing.M) {
	// The fault tests make the MySQL driver log broken connections; the
	// tests check the errors themselves.
	_ = mysql.SetLogger(log.New(discard{}, "", 0))
	os.Exit(m.Run())
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// maxConns bounds each test's connection pool, well below the servers'
// max_connections (200), so that 1000 concurrent claims queue for
// connections instead of being refused by the server.
const maxConns = 16

// loadedTimeout is the Config.Timeout of tests that queue many claims for
// few connections on a busy machine (with -race): long enough that a
// claim waiting its turn does not time out.
const loadedTimeout = 30 * time.Second

// openDB opens a database for dialect with the DSN, bounded to maxConns
// connections, and closes it when t ends.
func openDB(t testing.TB, dialect sqlstore.Dialect, dsn string) *sql.DB {
	t.Helper()
	driver := map[sqlstore.Dialect]string{sqlstore.Postgres: "pgx", sqlstore.MySQL: "mysql", sqlstore.SQLite: "sqlite"}[dialect]
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	t.Cleanup(func() { db.Close() })
	return db
}

// sqliteDSN is the DSN of a SQLite file in a temporary directory, as the
// package documentation recommends it: WAL, synchronous=NORMAL, and
// waiting for the write lock instead of failing with SQLITE_BUSY.
func sqliteDSN(t testing.TB) string {
	t.Helper()
	return "file:" + filepath.Join(t.TempDir(), "jti.db") + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(wal)&_pragma=synchronous(normal)"
}

// newStore returns a migrated store on db, closed when t ends.
func newStore(t testing.TB, db *sql.DB, dialect sqlstore.Dialect, cfg sqlstore.Config) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.New(db, dialect, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

// backend is one database the tests run against.
type backend struct {
	name    string
	dialect sqlstore.Dialect
	dsn     string
	srv     *sqltest.Server // nil for SQLite
}

// backends starts a PostgreSQL and a MariaDB server for t and makes a
// SQLite file.
func backends(t *testing.T) []backend {
	t.Helper()
	pg, my := sqltest.Postgres(t), sqltest.MariaDB(t)
	return []backend{
		{"postgres", sqlstore.Postgres, pg.DSN(), pg},
		{"mariadb", sqlstore.MySQL, my.DSN(), my},
		{"sqlite", sqlstore.SQLite, sqliteDSN(t), nil},
	}
}

// claim claims key until until with a background context.
func claim(s replay.Store, key string, until time.Time) error {
	_, err := s.Claim(context.Background(), key, until)
	return err
}

// wantDown checks that err is a store failure: neither nil nor a replay.
func wantDown(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil || errors.Is(err, replay.ErrReplayed) {
		t.Fatalf("%s: Claim = %v, want an error not wrapping replay.ErrReplayed", what, err)
	}
}

func wantReplayed(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, replay.ErrReplayed) {
		t.Fatalf("%s: Claim = %v, want replay.ErrReplayed", what, err)
	}
}

func wantNil(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: Claim = %v, want nil", what, err)
	}
}

// clock is a settable Config.Now.
type clock struct{ ms atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.ms.Store(t.UnixMilli()); return c }

func (c *clock) Now() time.Time      { return time.UnixMilli(c.ms.Load()) }
func (c *clock) Add(d time.Duration) { c.ms.Add(d.Milliseconds()) }
func (c *clock) Set(t time.Time)     { c.ms.Store(t.UnixMilli()) }
