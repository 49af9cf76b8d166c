package sqlstore

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkjwt/pkjwt/replay"
)

// Dialect names the SQL dialect of a database: it selects the DDL and the
// claim statement.
type Dialect string

// The supported dialects.
const (
	// Postgres is PostgreSQL 12 or later (tested: 15, with
	// github.com/jackc/pgx/v5/stdlib).
	Postgres Dialect = "postgres"
	// MySQL is MariaDB 10.5 or later (tested: 10.11, with
	// github.com/go-sql-driver/mysql) or MySQL 8 (not tested here).
	MySQL Dialect = "mysql"
	// SQLite is SQLite 3.35 or later (tested: modernc.org/sqlite).
	SQLite Dialect = "sqlite"
)

// Defaults for the zero fields of a [Config].
const (
	DefaultTable           = "pkjwt_jti"
	DefaultTimeout         = 2 * time.Second
	DefaultCleanupInterval = time.Minute
	DefaultCleanupBatch    = 1000
	DefaultMaxBatch        = 64
)

// Errors for errors.Is.
var (
	// ErrClosed is returned by Claim after Close.
	ErrClosed = errors.New("sqlstore: store closed")

	// ErrNotMigrated is returned (wrapped) by Claim when the store's tables
	// are missing: run Migrate, or the DDL in the package documentation.
	ErrNotMigrated = errors.New("sqlstore: tables missing (run Migrate)")
)

// tablePattern is what Config.Table may be: a plain lower-case SQL
// identifier that needs no quoting in any dialect, short enough that
// Table+"_meta" and the index names fit PostgreSQL's 63 bytes.
var tablePattern = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,47}$`)

// keyTag is hashed before every key: it versions the stored key format
// (a change would need a new tag, and would forget every claim) and keeps
// these hashes apart from any other use of SHA-256 on the same bytes.
const keyTag = "pkjwt/sqlstore/v1\x00"

// Config configures [New]. The zero value is ready to use.
type Config struct {
	// Table is the name of the claims table; its metadata table is
	// Table+"_meta". It must be 1 to 48 characters of a-z, 0-9 and _, not
	// starting with a digit: the name is written into SQL statements, so it
	// is checked here and never taken from request input. Stores that must
	// see each other's claims MUST use the same database and Table.
	//
	// Empty means DefaultTable.
	Table string

	// Timeout bounds each Claim on top of the deadline of its ctx, and each
	// statement of the cleanup.
	//
	// Zero means DefaultTimeout. Negative means no bound beyond ctx.
	Timeout time.Duration

	// CleanupInterval is how often a goroutine the store owns deletes
	// expired claims (in batches; see [Store.Cleanup]) and re-reads the
	// epoch that other processes or an operator may have moved.
	//
	// Zero means DefaultCleanupInterval. Negative starts no goroutine: the
	// caller then runs Cleanup itself (a cron job, one elected node).
	// Correctness never depends on cleanup; only the table's size does.
	CleanupInterval time.Duration

	// MaxBatch is the most claims one PostgreSQL statement carries.
	// Concurrent claims are combined: a claim that arrives while a few
	// statements are running waits for the next, which carries every claim
	// queued by then, so that a busy server makes one round trip and one
	// commit for many claims. A claim that finds the store idle goes at
	// once. MySQL and SQLite claim one key per statement (MySQL reports no
	// per-row outcome; SQLite has one writer).
	//
	// Zero means DefaultMaxBatch. 1 sends every claim on its own. Negative
	// is an error.
	MaxBatch int

	// CleanupBatch is the most rows one DELETE of the cleanup removes, so
	// that no statement holds locks for long.
	//
	// Zero means DefaultCleanupBatch. Negative is an error.
	CleanupBatch int

	// SkipRollbackDetection turns off the detection of a database that went
	// back in time (see "Epoch" in the package documentation). Set it only
	// when the id column does not grow monotonically, as with a
	// multi-primary cluster (Galera, BDR) whose nodes hand out interleaved
	// ids: there every claim routed to another node would look like a
	// rollback and move the epoch forward.
	SkipRollbackDetection bool

	// Now is the clock that decides whether a stored claim has expired, and
	// stamps the epoch. It must be the verifier's clock (or agree with it):
	// the until of every claim is computed from it.
	//
	// Nil means time.Now.
	Now func() time.Time

	// Logger receives what the cleanup goroutine cannot return: failed
	// cleanups and epoch changes. It never receives a key.
	//
	// Nil discards them.
	Logger *slog.Logger
}

// Store is a [replay.Store] in a SQL database, through database/sql.
//
// It is safe for concurrent use. Unless Config.CleanupInterval is
// negative it runs a cleanup goroutine; [Store.Close] stops it. The caller
// owns the *sql.DB and closes it after the store.
type Store struct {
	db      *sql.DB
	dialect Dialect
	table   string
	meta    string
	timeout time.Duration
	batch   int
	detect  bool
	now     func() time.Time
	log     *slog.Logger

	claimSQL, pastSQL, cleanupSQL string
	claimStmt                     *sql.Stmt // claimSQL on MySQL and SQLite, prepared at first use (under loadMu)
	batcher                       *batcher  // PostgreSQL with MaxBatch > 1; nil otherwise
	epochSQL, initEpochSQL        string
	moveEpochSQL                  string

	// epochMs is the epoch in Unix milliseconds; loaded tells whether it was
	// read from the database yet (under loadMu).
	epochMs atomic.Int64
	loaded  atomic.Bool
	loadMu  sync.Mutex
	// maxID is the highest id a claim of this store has seen; see
	// rollback.
	maxID atomic.Int64

	closed    atomic.Bool
	base      context.Context    // of the janitor and of batch statements; Close cancels it
	stop      context.CancelFunc // cancels base
	wg        sync.WaitGroup
	closeOnce sync.Once
}

var _ replay.Store = (*Store)(nil)

// New returns a store that claims keys in db, a database of the given
// dialect, and starts its cleanup goroutine (unless cfg.CleanupInterval
// is negative). It does not touch the database: run [Store.Migrate] (or
// the documented DDL) before the first Claim. It returns an error for a
// nil db, an unknown dialect, an invalid cfg.Table or a negative
// cfg.CleanupBatch.
func New(db *sql.DB, dialect Dialect, cfg Config) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlstore: nil *sql.DB")
	}
	table := cfg.Table
	if table == "" {
		table = DefaultTable
	}
	if !tablePattern.MatchString(table) {
		return nil, errTable(table)
	}
	if cfg.CleanupBatch < 0 {
		return nil, fmt.Errorf("sqlstore: negative CleanupBatch %d", cfg.CleanupBatch)
	}
	if cfg.MaxBatch < 0 {
		return nil, fmt.Errorf("sqlstore: negative MaxBatch %d", cfg.MaxBatch)
	}
	s := &Store{
		db:      db,
		dialect: dialect,
		table:   table,
		meta:    table + "_meta",
		timeout: cfg.Timeout,
		batch:   cfg.CleanupBatch,
		detect:  !cfg.SkipRollbackDetection && dialect != SQLite,
		now:     cfg.Now,
		log:     cfg.Logger,
	}
	if err := s.statements(); err != nil {
		return nil, err
	}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	if s.batch == 0 {
		s.batch = DefaultCleanupBatch
	}
	if maxBatch := cmp.Or(cfg.MaxBatch, DefaultMaxBatch); dialect == Postgres && maxBatch > 1 {
		s.batcher = newBatcher(s, maxBatch)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	interval := cfg.CleanupInterval
	if interval == 0 {
		interval = DefaultCleanupInterval
	}
	ctx, stop := context.WithCancel(context.Background())
	s.base, s.stop = ctx, stop
	if interval > 0 {
		s.wg.Go(func() { s.janitor(ctx, interval) })
	}
	return s, nil
}

// statements builds the dialect's SQL for s.table. Parameters are
// numbered for PostgreSQL and positional (?) for the others; see the
// package documentation for the statements as run.
func (s *Store) statements() error {
	t, m := s.table, s.meta
	switch s.dialect {
	case Postgres:
		// The upsert claims a new key, or takes over an expired row (and
		// gives it a new id, see rollback); a live row makes the WHERE false
		// and nothing is returned.
		s.claimSQL = `INSERT INTO ` + t + ` AS t (k, exp_ms) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET exp_ms = EXCLUDED.exp_ms, id = DEFAULT WHERE t.exp_ms <= $3 RETURNING id`
		s.pastSQL = `SELECT 1 FROM ` + t + ` WHERE k = $1 AND exp_ms > $2`
		s.cleanupSQL = `DELETE FROM ` + t + ` WHERE k IN (SELECT k FROM ` + t + ` WHERE exp_ms <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED) AND exp_ms <= $1`
		s.epochSQL = `SELECT epoch_ms FROM ` + m + ` WHERE id = 1`
		s.initEpochSQL = `INSERT INTO ` + m + ` (id, epoch_ms) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`
		s.moveEpochSQL = `UPDATE ` + m + ` SET epoch_ms = $1 WHERE id = 1 AND epoch_ms < $1`
	case MySQL:
		// Affected rows: 1 inserted, 2 an expired row taken over, 0 a live
		// row left alone (see claimMySQL).
		s.claimSQL = `INSERT INTO ` + t + ` (k, exp_ms) VALUES (?, ?) ON DUPLICATE KEY UPDATE exp_ms = IF(exp_ms <= ?, VALUES(exp_ms), exp_ms)`
		s.pastSQL = `SELECT 1 FROM ` + t + ` WHERE k = ? AND exp_ms > ?`
		s.cleanupSQL = `DELETE FROM ` + t + ` WHERE exp_ms <= ? ORDER BY exp_ms LIMIT ?`
		s.epochSQL = `SELECT epoch_ms FROM ` + m + ` WHERE id = 1`
		s.initEpochSQL = `INSERT INTO ` + m + ` (id, epoch_ms) VALUES (1, ?) ON DUPLICATE KEY UPDATE id = id`
		s.moveEpochSQL = `UPDATE ` + m + ` SET epoch_ms = GREATEST(epoch_ms, ?) WHERE id = 1`
	case SQLite:
		s.claimSQL = `INSERT INTO ` + t + ` AS t (k, exp_ms) VALUES (?1, ?2) ON CONFLICT (k) DO UPDATE SET exp_ms = excluded.exp_ms WHERE t.exp_ms <= ?3`
		s.pastSQL = `SELECT 1 FROM ` + t + ` WHERE k = ?1 AND exp_ms > ?2`
		s.cleanupSQL = `DELETE FROM ` + t + ` WHERE rowid IN (SELECT rowid FROM ` + t + ` WHERE exp_ms <= ?1 LIMIT ?2)`
		s.epochSQL = `SELECT epoch_ms FROM ` + m + ` WHERE id = 1`
		s.initEpochSQL = `INSERT INTO ` + m + ` (id, epoch_ms) VALUES (1, ?1) ON CONFLICT (id) DO NOTHING`
		s.moveEpochSQL = `UPDATE ` + m + ` SET epoch_ms = max(epoch_ms, ?1) WHERE id = 1`
	default:
		return errDialect(s.dialect)
	}
	return nil
}

func errTable(table string) error {
	return fmt.Errorf("sqlstore: invalid table name %q: want 1 to 48 of a-z, 0-9 and _, not starting with a digit", table)
}

func errDialect(d Dialect) error {
	return fmt.Errorf("sqlstore: unknown dialect %q: want %q, %q or %q", d, Postgres, MySQL, SQLite)
}

// storedKey is what the table stores for key: SHA-256 over a version tag
// and the key, 32 bytes whatever the key's length. The verifier's keys are
// already scoped to the client (length-prefixed client_id, then jti), so
// two clients' jtis never share a stored key; the table holds no readable
// client id or jti.
func storedKey(key string) []byte {
	h := sha256.New()
	h.Write([]byte(keyTag))
	h.Write([]byte(key))
	return h.Sum(nil)
}

// ceilMillis is t in Unix milliseconds, rounded up so that a claim never
// ends early.
func ceilMillis(t time.Time) int64 {
	ms := t.UnixMilli()
	if time.UnixMilli(ms).Before(t) {
		ms++
	}
	return ms
}

// Claim records key as used until the time until, and returns the
// store's epoch; see [replay.Store.Claim] and "Epoch" in the package
// documentation.
//
// It returns a nil error when the key was not claimed, or only by a claim
// that has expired; an error wrapping [replay.ErrReplayed] when a live
// claim holds it; [ErrClosed] after Close; an error wrapping the ctx error
// when ctx (or Config.Timeout) ends first; an error wrapping
// [ErrNotMigrated] when the tables are missing; an error for an empty key
// or a zero until; and a wrapped database error for anything else (the
// database down, a statement timeout, a read-only transaction, a lost
// connection), which never wraps replay.ErrReplayed. An until in the past
// records nothing: Claim reports ErrReplayed if key is still claimed, nil
// otherwise.
func (s *Store) Claim(ctx context.Context, key string, until time.Time) (epoch time.Time, err error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, fmt.Errorf("sqlstore: claim: %w", err)
	}
	switch {
	case s.closed.Load():
		return time.Time{}, ErrClosed
	case key == "":
		return time.Time{}, errors.New("sqlstore: empty key")
	case until.IsZero():
		return time.Time{}, errors.New("sqlstore: zero until time")
	}
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	if err := s.loadEpoch(ctx); err != nil {
		return time.Time{}, s.wrap(ctx, "claim: read epoch", err)
	}
	k, untilMs, nowMs := storedKey(key), ceilMillis(until), s.now().UnixMilli()
	if untilMs <= nowMs {
		// Nothing to record, but a live claim must be reported.
		var one int
		switch err := s.db.QueryRowContext(ctx, s.pastSQL, k, nowMs).Scan(&one); {
		case errors.Is(err, sql.ErrNoRows):
			return s.epoch(), nil
		case err != nil:
			return time.Time{}, s.wrap(ctx, "claim", err)
		}
		return time.Time{}, replay.ErrReplayed
	}

	before := s.maxID.Load()
	var (
		claimed bool
		id      int64
	)
	if s.batcher != nil {
		// The batch checks its ids itself.
		claimed, err = s.batcher.claim(ctx, k, untilMs)
	} else {
		// A deadlock victim's statement had no effect, so it is safe to run
		// again; InnoDB picks the claim (one row) over a cleanup batch.
		for attempt := 1; ; attempt++ {
			claimed, id, err = s.exec(ctx, k, untilMs, nowMs)
			if err == nil || attempt == maxAttempts || !deadlock(err) || ctx.Err() != nil {
				break
			}
		}
	}
	switch {
	case err != nil:
		return time.Time{}, s.wrap(ctx, "claim", err)
	case !claimed:
		return time.Time{}, replay.ErrReplayed
	}
	if id > 0 && s.detect {
		s.rollback(ctx, before, id, id)
	}
	return s.epoch(), nil
}

// maxAttempts bounds the runs of a claim statement that deadlocks.
const maxAttempts = 3

// exec runs the claim statement once: claimed tells whether it recorded
// the key, id is the row's id when the dialect reports one.
func (s *Store) exec(ctx context.Context, k []byte, untilMs, nowMs int64) (claimed bool, id int64, err error) {
	switch s.dialect {
	case Postgres:
		// Not prepared by hand, as the batches (see batcher.query).
		err = s.db.QueryRowContext(ctx, s.claimSQL, k, untilMs, nowMs).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return false, 0, nil
		}
		return err == nil, id, err
	case MySQL:
		return s.claimMySQL(ctx, k, untilMs, nowMs)
	}
	res, err := s.claimStmt.ExecContext(ctx, k, untilMs, nowMs)
	if err != nil {
		return false, 0, err
	}
	n, err := res.RowsAffected()
	if err == nil && n > 1 {
		err = fmt.Errorf("%d rows affected, want 0 or 1", n)
	}
	return n == 1 && err == nil, 0, err
}

// deadlock reports whether err is a deadlock (or serialization failure)
// reported by the server, by its text since the store imports no driver:
// MySQL and MariaDB error 1213, PostgreSQL SQLSTATE 40P01 or 40001.
func deadlock(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Error 1213 ") || strings.Contains(msg, "SQLSTATE 40P01") || strings.Contains(msg, "SQLSTATE 40001")
}

// claimMySQL runs the MySQL claim and reads the number of affected rows:
// 1 for an insert, 2 for an expired row taken over, 0 for a live row left
// alone. With the client flag CLIENT_FOUND_ROWS (go-sql-driver's
// clientFoundRows=true) a live row left alone also counts 1; then only the
// insert id, which MySQL sets for an inserted row alone, tells the two
// apart. id is the new row's id, or 0 when an expired row was taken over.
func (s *Store) claimMySQL(ctx context.Context, k []byte, untilMs, nowMs int64) (claimed bool, id int64, err error) {
	res, err := s.claimStmt.ExecContext(ctx, k, untilMs, nowMs)
	if err != nil {
		return false, 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, 0, err
	}
	switch n {
	case 0:
		return false, 0, nil
	case 2:
		return true, 0, nil
	case 1:
		id, err := res.LastInsertId()
		if err != nil {
			return false, 0, err
		}
		return id > 0, id, nil
	}
	return false, 0, fmt.Errorf("%d rows affected, want 0, 1 or 2", n)
}

// wrap turns a database error into the error Claim returns, naming the
// ctx error too when ctx ended (drivers report a deadline in words of their
// own).
func (s *Store) wrap(ctx context.Context, op string, err error) error {
	if errors.Is(err, ErrNotMigrated) {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("sqlstore: %s: %w: %w", op, cerr, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}
