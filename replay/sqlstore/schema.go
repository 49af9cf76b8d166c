package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Schema returns the DDL that Migrate runs for the dialect and table (""
// means DefaultTable), one statement per element, for teams that run their
// own migrations; for DefaultTable it is the DDL of the package
// documentation. It returns an error for an unknown dialect or an invalid
// table name (see Config.Table).
func Schema(d Dialect, table string) ([]string, error) {
	if table == "" {
		table = DefaultTable
	}
	if !tablePattern.MatchString(table) {
		return nil, errTable(table)
	}
	ddl := schema(d)
	if ddl == nil {
		return nil, errDialect(d)
	}
	for i := range ddl {
		ddl[i] = strings.ReplaceAll(ddl[i], DefaultTable, table)
	}
	return ddl, nil
}

// schema returns the DDL of the dialect for DefaultTable, or nil for an
// unknown dialect.
func schema(d Dialect) []string {
	var ddl []string
	switch d {
	case Postgres:
		ddl = []string{
			`CREATE TABLE IF NOT EXISTS pkjwt_jti (
	k      bytea  PRIMARY KEY,
	exp_ms bigint NOT NULL,
	id     bigint GENERATED ALWAYS AS IDENTITY
)`,
			`CREATE INDEX IF NOT EXISTS pkjwt_jti_exp_ms ON pkjwt_jti (exp_ms)`,
			`CREATE TABLE IF NOT EXISTS pkjwt_jti_meta (
	id       integer PRIMARY KEY CHECK (id = 1),
	epoch_ms bigint  NOT NULL
)`,
		}
	case MySQL:
		ddl = []string{
			`CREATE TABLE IF NOT EXISTS pkjwt_jti (
	id     BIGINT     NOT NULL AUTO_INCREMENT PRIMARY KEY,
	k      BINARY(32) NOT NULL,
	exp_ms BIGINT     NOT NULL,
	UNIQUE KEY pkjwt_jti_k (k),
	KEY pkjwt_jti_exp_ms (exp_ms)
) ENGINE=InnoDB`,
			`CREATE TABLE IF NOT EXISTS pkjwt_jti_meta (
	id       INT    NOT NULL PRIMARY KEY,
	epoch_ms BIGINT NOT NULL
) ENGINE=InnoDB`,
		}
	case SQLite:
		ddl = []string{
			`CREATE TABLE IF NOT EXISTS pkjwt_jti (
	k      BLOB    NOT NULL PRIMARY KEY,
	exp_ms INTEGER NOT NULL
)`,
			`CREATE INDEX IF NOT EXISTS pkjwt_jti_exp_ms ON pkjwt_jti (exp_ms)`,
			`CREATE TABLE IF NOT EXISTS pkjwt_jti_meta (
	id       INTEGER PRIMARY KEY CHECK (id = 1),
	epoch_ms INTEGER NOT NULL
)`,
		}
	}
	return ddl
}

// Migrate creates the claims table, its index and the metadata table if
// they do not exist, as the DDL in the package documentation does, and
// reads the epoch. New tables start with a zero epoch: nothing was claimed
// in them before, so nothing can be forgotten. A claims table created while
// its metadata table survived was dropped (or lost) and is new: the epoch
// moves to now (Config.Now). Migrate is safe to run on every start and
// from several processes at once. It returns the database's error, wrapped,
// if any statement fails.
func (s *Store) Migrate(ctx context.Context) error {
	if err := s.migrate(ctx); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	if err := s.readEpoch(ctx); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	if err := s.prepare(ctx); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	s.loaded.Store(true)
	return nil
}

// querier is what migrate needs of a *sql.DB or *sql.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// migrate creates the tables and records the epoch. On PostgreSQL it runs
// in a transaction under an advisory lock: concurrent CREATE TABLE IF NOT
// EXISTS of one table can fail there ("already exists"), and two stores
// starting together must not take each other's new tables for re-created
// ones. On SQLite it is one BEGIN IMMEDIATE transaction. MySQL creates a
// table at most once by itself, and the checks below read the metadata
// table before the claims table, which is created first, so a concurrent
// first migration never looks like a claims table dropped under surviving
// metadata.
func (s *Store) migrate(ctx context.Context) (err error) {
	var (
		q         querier = s.db
		existsSQL string
	)
	switch s.dialect {
	case Postgres:
		var tx *sql.Tx
		if tx, err = s.db.BeginTx(ctx, nil); err != nil {
			return err
		}
		// err is the named result: a failure below rolls back, success
		// commits and reports the commit's error.
		defer func() {
			if err != nil {
				tx.Rollback()
			} else {
				err = tx.Commit()
			}
		}()
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "pkjwt/sqlstore/migrate/"+s.table); err != nil {
			return err
		}
		q = tx
		existsSQL = `SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = $1`
	case MySQL:
		existsSQL = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?`
	case SQLite:
		// One write transaction, taken at once (waiting with the busy
		// timeout): DDL in autocommit mode reads the schema before it
		// writes, and a concurrent writer then makes it fail with
		// SQLITE_BUSY at once.
		var conn *sql.Conn
		if conn, err = s.db.Conn(ctx); err != nil {
			return err
		}
		defer conn.Close()
		if _, err = conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
			return err
		}
		defer func() {
			if err != nil {
				conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
			} else {
				_, err = conn.ExecContext(ctx, `COMMIT`)
			}
		}()
		q = conn
		existsSQL = `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1`
	}
	var claims, meta int
	if err := q.QueryRowContext(ctx, existsSQL, s.meta).Scan(&meta); err != nil {
		return err
	}
	if err := q.QueryRowContext(ctx, existsSQL, s.table).Scan(&claims); err != nil {
		return err
	}
	ddl, err := Schema(s.dialect, s.table)
	if err != nil {
		return err
	}
	for _, stmt := range ddl {
		if _, err := q.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	if _, err := q.ExecContext(ctx, s.initEpochSQL, 0); err != nil {
		return err
	}
	if claims == 0 && meta > 0 {
		if _, err := q.ExecContext(ctx, s.moveEpochSQL, ceilMillis(s.now())); err != nil {
			return err
		}
	}
	return nil
}

// epoch returns the time from which the store's memory is complete; zero
// for a store that has forgotten nothing.
func (s *Store) epoch() time.Time {
	if ms := s.epochMs.Load(); ms > 0 {
		return time.UnixMilli(ms)
	}
	return time.Time{}
}

// loadEpoch reads the epoch from the database on first use. A missing
// metadata row (tables made by hand without it) is created with a zero
// epoch.
func (s *Store) loadEpoch(ctx context.Context) error {
	if s.loaded.Load() {
		return nil
	}
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	if s.loaded.Load() {
		return nil
	}
	err := s.readEpoch(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err = s.db.ExecContext(ctx, s.initEpochSQL, 0); err == nil {
			err = s.readEpoch(ctx)
		}
	}
	if err == nil {
		err = s.prepare(ctx)
	}
	if err != nil {
		return err
	}
	s.loaded.Store(true)
	return nil
}

// prepare prepares the claim statement of MySQL and SQLite once
// (database/sql prepares it again on each connection as needed):
// go-sql-driver/mysql would otherwise prepare and close it on every claim,
// an extra round trip. Closing it does not wait for the server (MySQL's
// COM_STMT_CLOSE has no reply), so Close stays prompt. PostgreSQL's
// statements are left to pgx's statement cache. Called with loadMu held.
func (s *Store) prepare(ctx context.Context) error {
	if s.claimStmt != nil || s.dialect == Postgres {
		return nil
	}
	stmt, err := s.db.PrepareContext(ctx, s.claimSQL)
	if err != nil {
		if missingTable(err) {
			return fmt.Errorf("%w: %w", ErrNotMigrated, err)
		}
		return err
	}
	s.claimStmt = stmt
	return nil
}

// readEpoch reads the metadata row and moves the epoch forward to it.
func (s *Store) readEpoch(ctx context.Context) error {
	var ms int64
	if err := s.db.QueryRowContext(ctx, s.epochSQL).Scan(&ms); err != nil {
		if missingTable(err) {
			return fmt.Errorf("%w: %w", ErrNotMigrated, err)
		}
		return err
	}
	s.raiseEpoch(ms)
	return nil
}

// raiseEpoch moves the in-memory epoch forward to ms (never back) and
// reports whether it moved.
func (s *Store) raiseEpoch(ms int64) bool {
	for {
		old := s.epochMs.Load()
		if ms <= old {
			return false
		}
		if s.epochMs.CompareAndSwap(old, ms) {
			return true
		}
	}
}

// missingTable reports whether err is a database's "no such table" error,
// by its text, since the store imports no driver: PostgreSQL (SQLSTATE
// 42P01, in English), MySQL and MariaDB (error 1146), SQLite.
func missingTable(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "42P01") || strings.Contains(msg, "Error 1146") || strings.Contains(msg, "no such table")
}

// MoveEpoch moves the epoch forward to t (Config.Now when t is zero), in
// the database and in this store: claims made before t may have been
// forgotten. Run it after restoring the database from a backup while every
// verifier was stopped, which the store cannot see (see "Epoch" in the
// package documentation). Other stores sharing the table pick the new epoch
// up within their CleanupInterval; restart them for it to apply at once.
// An epoch never moves back: a t before the current epoch changes nothing.
func (s *Store) MoveEpoch(ctx context.Context, t time.Time) error {
	if t.IsZero() {
		t = s.now()
	}
	ms := ceilMillis(t)
	if _, err := s.db.ExecContext(ctx, s.moveEpochSQL, ms); err != nil {
		return s.wrap(ctx, "move epoch", err)
	}
	s.raiseEpoch(ms)
	return nil
}

// rollback checks the ids of a claim statement, low to high, for a
// database that went back in time.
//
// Ids come from a sequence (PostgreSQL identity, MySQL AUTO_INCREMENT)
// that only grows, and before is the highest id any claim of this store
// had seen when this statement was sent; a new row is numbered after that.
// An id not above before means the sequence went back: the database was
// restored from an older backup, failed over to a replica that had not
// received the newest rows, or the table was dropped and created again.
// Claims it held may be lost, so the epoch moves to now, here and in the
// metadata row.
func (s *Store) rollback(ctx context.Context, before, low, high int64) {
	if low > before {
		for {
			old := s.maxID.Load()
			if high <= old || s.maxID.CompareAndSwap(old, high) {
				return
			}
		}
	}
	id := low
	s.maxID.Store(high) // the new timeline
	s.maxID.Store(id)   // the new timeline
	now := s.now()
	nowMs := ceilMillis(now)
	if s.raiseEpoch(nowMs) {
		s.log.Warn("sqlstore: the database went back in time (a claim got an id below one seen before): claims may be lost; epoch moved to now",
			"table", s.table, "id", id, "seen", before, "epoch", now)
	}
	if _, err := s.db.ExecContext(ctx, s.moveEpochSQL, nowMs); err != nil {
		s.log.Error("sqlstore: could not record the new epoch; other stores learn of the rollback by themselves", "table", s.table, "err", err)
	}
}

// Cleanup deletes expired claims, at most Config.CleanupBatch rows per
// statement, until none is left or ctx ends, and returns how many it
// deleted. A row is expired once its until has passed by Config.Now; a live
// claim is never deleted. The store's goroutine calls it every
// CleanupInterval; call it yourself when that is negative. Each statement
// is bounded by Config.Timeout.
func (s *Store) Cleanup(ctx context.Context) (int64, error) {
	var total int64
	for {
		n, err := s.cleanupBatch(ctx)
		total += n
		if err != nil {
			return total, s.wrap(ctx, "cleanup", err)
		}
		if n < int64(s.batch) {
			return total, nil
		}
	}
}

func (s *Store) cleanupBatch(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	res, err := s.db.ExecContext(ctx, s.cleanupSQL, s.now().UnixMilli(), s.batch)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// janitor re-reads the epoch and cleans up every interval until Close.
func (s *Store) janitor(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s.loaded.Load() {
			old := s.epochMs.Load()
			if err := s.refresh(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("sqlstore: reading the epoch failed", "table", s.table, "err", err)
			} else if s.epochMs.Load() != old {
				s.log.Warn("sqlstore: epoch moved by another store or an operator", "table", s.table, "epoch", s.epoch())
			}
		}
		if n, err := s.Cleanup(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("sqlstore: cleanup failed", "table", s.table, "deleted", n, "err", err)
		}
	}
}

func (s *Store) refresh(ctx context.Context) error {
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	return s.readEpoch(ctx)
}

// Close stops the cleanup goroutine and waits for it to exit. Later claims
// return [ErrClosed]. It does not close the *sql.DB. Close always returns
// nil; calling it again (or concurrently) does nothing more.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.stop()
		s.wg.Wait()
		if s.batcher != nil {
			s.batcher.close()
		}
		s.loadMu.Lock()
		defer s.loadMu.Unlock()
		if s.claimStmt != nil {
			s.claimStmt.Close()
		}
	})
	return nil
}
