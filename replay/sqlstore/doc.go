// Package sqlstore is a [replay.Store] in the SQL database an authorization
// server already runs: PostgreSQL, MySQL or MariaDB, or SQLite. Every
// server that shares the database shares one view of which client
// assertions were used (OpenID Connect Core 1.0 §9, RFC 7523 §3).
//
// It uses database/sql only: the caller brings the driver and the *sql.DB
// (tested with github.com/jackc/pgx/v5/stdlib, github.com/go-sql-driver/mysql
// and modernc.org/sqlite).
//
//	db, err := sql.Open("pgx", "postgres://pkjwt@db.internal/auth")
//	if err != nil {
//		return err
//	}
//	db.SetMaxOpenConns(32) // below the server's max_connections
//	store, err := sqlstore.New(db, sqlstore.Postgres, sqlstore.Config{})
//	if err != nil {
//		return err
//	}
//	defer store.Close() // before db.Close
//	if err := store.Migrate(ctx); err != nil {
//		return err
//	}
//	// Pass store to the verifier; it calls store.Claim(ctx, key, exp+leeway).
//
// # The claim
//
// A claim is one statement that inserts the key's row or, when a row
// exists, leaves it alone unless it has expired; the number of rows it
// reports (affected or returned) decides first use against replay. The
// primary (or unique) key on the stored key makes it atomic: of any number
// of concurrent claims of a key, on any number of servers, the database
// lets exactly one insert. There is no read before the write and no
// transaction. With pkjwt_jti the default table name:
//
//	-- PostgreSQL: a row returned means claimed.
//	INSERT INTO pkjwt_jti AS t (k, exp_ms) VALUES ($1, $2)
//	ON CONFLICT (k) DO UPDATE SET exp_ms = EXCLUDED.exp_ms, id = DEFAULT
//	WHERE t.exp_ms <= $3 RETURNING id
//
//	-- SQLite: 1 row affected means claimed, 0 a replay.
//	INSERT INTO pkjwt_jti AS t (k, exp_ms) VALUES (?1, ?2)
//	ON CONFLICT (k) DO UPDATE SET exp_ms = excluded.exp_ms WHERE t.exp_ms <= ?3
//
//	-- MySQL, MariaDB: 1 row affected and an insert id means inserted, 2 an
//	-- expired row taken over, 0 (or 1 without an insert id, with the
//	-- driver's clientFoundRows) a replay.
//	INSERT INTO pkjwt_jti (k, exp_ms) VALUES (?, ?)
//	ON DUPLICATE KEY UPDATE exp_ms = IF(exp_ms <= ?, VALUES(exp_ms), exp_ms)
//
// On PostgreSQL, concurrent claims share a statement: a claim that arrives
// while four claim statements are running waits for the next, which
// carries every claim queued by then (Config.MaxBatch, 64 by default) as
// rows of one INSERT ... VALUES (...), (...) with the same ON CONFLICT
// clause and RETURNING k, id; the keys it returns are the claimed ones. A
// claim that finds the store idle goes at once, alone. Each row is decided
// as in the single-row statement; two claims of one key never share a
// statement (the later one shares the earlier's outcome and cannot win).
// A busy server thus makes one round trip and one commit for many claims.
//
// Claim statements are prepared once per connection. A claim that the
// server aborts as a deadlock victim (MySQL error 1213, PostgreSQL 40P01 or
// 40001; InnoDB can deadlock a claim against a cleanup batch) had no
// effect and runs again, at most three times in all.
//
// The parameters are the stored key, the claim's until and the verifier's
// now. The stored key is SHA-256 over a version tag and the verifier's key
// (the client_id, length-prefixed, then the jti): 32 bytes whatever the
// jti's length, no readable client id or jti in the table, and, since the
// verifier's key names the client, one client's jti never collides with
// another's (unlike a table of bare jtis). Times are integers, milliseconds
// since 1970 UTC, computed by the verifier from exp plus the leeway (until,
// rounded up) and from its clock (now, Config.Now): never the database's
// clock, never a type whose meaning depends on a time zone, never cut to
// whole seconds. Keep the servers' clocks in sync (NTP), as with any
// shared store.
//
// An until already past records nothing: Claim then only looks for a live
// row (SELECT 1 ... WHERE k = ? AND exp_ms > now).
//
// # Expired rows
//
// A row whose until has passed (exp_ms <= now) stands for an assertion
// whose exp plus the leeway has passed; the verifier refuses such an
// assertion on its exp before it claims anything. So an expired row can
// only meet a new assertion that reuses a client's jti after the old one
// expired, which is legitimate: the claim takes the row over (the WHERE of
// the update is true) and reports a first use. Until then the row decides
// nothing wrongly: a claim compares exp_ms with now itself and never
// trusts the row's presence. Taking over is atomic like the insert: the
// updated row is locked, and a concurrent claim of the same key then sees
// the new exp_ms and reports a replay. A live row (exp_ms > now) is never
// changed or deleted.
//
// # Cleanup
//
// Expired rows are deleted off the request path, in batches of at most
// Config.CleanupBatch rows per statement so that no statement holds many
// locks: by a goroutine the store owns (every Config.CleanupInterval; Close
// stops it), or by the caller through [Store.Cleanup] when the interval is
// negative. Correctness never depends on it, only the table's size:
//
//	-- PostgreSQL: rows a claim is taking over are skipped, not waited for.
//	DELETE FROM pkjwt_jti WHERE k IN (SELECT k FROM pkjwt_jti WHERE exp_ms <= $1
//	LIMIT $2 FOR UPDATE SKIP LOCKED) AND exp_ms <= $1
//	-- MySQL, MariaDB
//	DELETE FROM pkjwt_jti WHERE exp_ms <= ? ORDER BY exp_ms LIMIT ?
//	-- SQLite
//	DELETE FROM pkjwt_jti WHERE rowid IN (SELECT rowid FROM pkjwt_jti
//	WHERE exp_ms <= ?1 LIMIT ?2)
//
// # Schema
//
// [Store.Migrate] creates the tables if they are missing; [Schema] returns
// the same DDL for teams that run their own migrations. Config.Table
// renames pkjwt_jti (and pkjwt_jti_meta, pkjwt_jti_exp_ms, pkjwt_jti_k
// after it); it is checked against a strict pattern, never quoted or taken
// from input. The metadata table holds one row, the epoch (below); a
// missing row is created with a zero epoch at the first claim.
//
// PostgreSQL:
//
//	CREATE TABLE IF NOT EXISTS pkjwt_jti (
//		k      bytea  PRIMARY KEY,
//		exp_ms bigint NOT NULL,
//		id     bigint GENERATED ALWAYS AS IDENTITY
//	);
//	CREATE INDEX IF NOT EXISTS pkjwt_jti_exp_ms ON pkjwt_jti (exp_ms);
//	CREATE TABLE IF NOT EXISTS pkjwt_jti_meta (
//		id       integer PRIMARY KEY CHECK (id = 1),
//		epoch_ms bigint  NOT NULL
//	);
//
// MySQL and MariaDB:
//
//	CREATE TABLE IF NOT EXISTS pkjwt_jti (
//		id     BIGINT     NOT NULL AUTO_INCREMENT PRIMARY KEY,
//		k      BINARY(32) NOT NULL,
//		exp_ms BIGINT     NOT NULL,
//		UNIQUE KEY pkjwt_jti_k (k),
//		KEY pkjwt_jti_exp_ms (exp_ms)
//	) ENGINE=InnoDB;
//	CREATE TABLE IF NOT EXISTS pkjwt_jti_meta (
//		id       INT    NOT NULL PRIMARY KEY,
//		epoch_ms BIGINT NOT NULL
//	) ENGINE=InnoDB;
//
// SQLite:
//
//	CREATE TABLE IF NOT EXISTS pkjwt_jti (
//		k      BLOB    NOT NULL PRIMARY KEY,
//		exp_ms INTEGER NOT NULL
//	);
//	CREATE INDEX IF NOT EXISTS pkjwt_jti_exp_ms ON pkjwt_jti (exp_ms);
//	CREATE TABLE IF NOT EXISTS pkjwt_jti_meta (
//		id       INTEGER PRIMARY KEY CHECK (id = 1),
//		epoch_ms INTEGER NOT NULL
//	);
//
// # Epoch
//
// Claim returns the store's epoch, the time from which its memory of
// claims is complete (see package replay): the verifier refuses an
// assertion that may have been issued before it. A SQL table forgets
// nothing on its own: it is as durable as the database's commits. What
// can make it forget, and what the store sees of it:
//
//   - New tables: Migrate creating both tables records a zero epoch:
//     creating them is taken as putting a new store into service (the
//     counterpart of redisstore's Provision), in which nothing was claimed
//     and so nothing is forgotten. Switching to this store from another one
//     does not carry the other's claims over.
//   - The claims table dropped (or lost) while its metadata table survived:
//     Migrate records now as the epoch. Detected.
//   - The database went back in time while a store was running: restored
//     from an older backup, failed over to a replica that had not received
//     the newest rows, the claims table dropped and created again behind
//     the store's back. On PostgreSQL and MySQL/MariaDB each claim returns
//     its row's id (RETURNING, or the insert id, at no extra round trip),
//     drawn from a sequence that only grows; a store that gets an id not
//     above the highest it had seen before sending the claim knows the
//     sequence went back, moves its epoch to now and writes it to the
//     metadata row. Detected by every store that made a claim before the
//     event, at its first claim after it — provided the sequence went back:
//     PostgreSQL logs sequences up to 32 values ahead, so a replica or
//     backup that missed fewer than about 32 claims may not show it.
//   - An epoch moved by another store, or by an operator with
//     [Store.MoveEpoch], reaches every store at its next cleanup tick
//     (Config.CleanupInterval), and at once at its start.
//   - Not detected: a restore while every store was stopped (stores start
//     with no id to compare: run MoveEpoch after such a restore), a
//     database lost whole and replaced by an empty one (Migrate then sees
//     a first deployment; pkjwt serve runs Migrate at every start), rows
//     deleted by hand or a TRUNCATE that keeps the sequence, a lagging
//     replica that missed fewer claims than the sequence log-ahead, and
//     SQLite (no sequence is compared; a SQLite file replaced by an older
//     copy is not noticed: run MoveEpoch).
//
// Config.SkipRollbackDetection turns the id comparison off for databases
// whose ids do not grow monotonically (multi-primary clusters).
//
// # Failing closed
//
// Claim returns nil only when its statement committed a row for the key.
// A database that is down, slow (Config.Timeout or ctx ends first), read
// only, or that answers anything unexpected gives an error that does not
// wrap [replay.ErrReplayed]; the verifier fails closed with a server error
// and the client may retry with a new assertion. Bound the pool
// (db.SetMaxOpenConns) below the server's connection limit: a refused
// connection is an error, not a wait.
//
// A claim that times out may still have been recorded: MariaDB finishes a
// statement whose client has gone. The assertion is then used up although
// the verifier refused it, which fails closed; the client signs a new one.
//
// The claims are as durable as the database's commits: settings that
// acknowledge a commit before it is durable (PostgreSQL
// synchronous_commit=off, MySQL innodb_flush_log_at_trx_commit other than
// 1) lose the newest claims in a crash, which the store does not detect.
//
// For SQLite open the file with a busy timeout and WAL, such as
// "file:jti.db?_pragma=busy_timeout(5000)&_pragma=journal_mode(wal)"
// (modernc.org/sqlite), so that concurrent claims wait for the write lock
// instead of failing.
package sqlstore
