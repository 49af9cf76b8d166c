package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	// The SQL drivers replay.sql may name; the library itself imports none.
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/replay/sqlstore"
)

// sqlReplayConfig is replay.sql: jti claims in a SQL database
// (replay/sqlstore).
type sqlReplayConfig struct {
	// Driver is the database/sql driver: pgx (PostgreSQL), mysql (MySQL,
	// MariaDB) or sqlite (a file, modernc.org/sqlite).
	Driver string `json:"driver"`
	// DSN is the driver's data source name.
	DSN string `json:"dsn"`
	// Table is the claims table (empty: sqlstore.DefaultTable).
	Table string `json:"table"`

	dialect sqlstore.Dialect // derived by validate
}

// UnmarshalJSON decodes replay.sql strictly, so that errors name their
// member under replay.sql.
func (c *sqlReplayConfig) UnmarshalJSON(b []byte) error {
	type plain sqlReplayConfig
	return decodeStrict(b, (*plain)(c), "replay.sql")
}

// sqlDrivers maps the driver names replay.sql accepts to their dialect.
var sqlDrivers = map[string]sqlstore.Dialect{
	"pgx":    sqlstore.Postgres,
	"mysql":  sqlstore.MySQL,
	"sqlite": sqlstore.SQLite,
}

// Settings of the SQL store that the configuration does not carry.
const (
	sqlPingTimeout    = 5 * time.Second
	sqlMaxConnections = 32 // per server process; below any server's default limit
)

// validate checks replay.sql; errors name the member at fault.
func (c *sqlReplayConfig) validate() error {
	d, ok := sqlDrivers[c.Driver]
	if !ok {
		names := slices.Sorted(func(yield func(string) bool) {
			for n := range sqlDrivers {
				if !yield(n) {
					return
				}
			}
		})
		return configErrorf("replay.sql.driver", "%q: want one of %s", c.Driver, strings.Join(names, ", "))
	}
	if c.DSN == "" {
		return configErrorf("replay.sql.dsn", "required (such as postgres://user@host/db, user:pass@tcp(host:3306)/db or a file path)")
	}
	if _, err := sqlstore.Schema(d, c.Table); err != nil {
		return configErrorf("replay.sql.table", "%v", strings.TrimPrefix(err.Error(), "sqlstore: "))
	}
	c.dialect = d
	return nil
}

// name describes the store for the start-up line and errors: the driver
// and where the database is, never a user, password or option.
func (c *sqlReplayConfig) name() string {
	where := "(dsn not shown)"
	dsn, _, _ := strings.Cut(c.DSN, "?")
	if u, err := url.Parse(dsn); err == nil && u.Host != "" {
		where = u.Scheme + "://" + u.Host + u.Path // postgres://host:port/db
	} else if at := strings.LastIndexByte(dsn, '@'); at >= 0 {
		where = dsn[at+1:] // user:pass@tcp(host:port)/db
	} else if c.dialect == sqlstore.SQLite {
		where = strings.TrimPrefix(dsn, "file:")
	}
	return "sql " + c.Driver + " " + where
}

// sqlReplayStore opens the database, checks that it answers, creates the
// tables if missing and returns the store; the server closes both.
func (s *server) sqlReplayStore(ctx context.Context, c *sqlReplayConfig, logger *slog.Logger) (replay.Store, error) {
	db, err := sql.Open(c.Driver, c.DSN)
	if err != nil {
		return nil, fmt.Errorf("replay: %s: %w", c.name(), err)
	}
	s.closers = append(s.closers, db.Close)
	db.SetMaxOpenConns(sqlMaxConnections)
	db.SetMaxIdleConns(sqlMaxConnections)
	if c.dialect == sqlstore.SQLite {
		// One writer at a time in any case; one connection also avoids
		// SQLITE_BUSY between this process's own connections.
		db.SetMaxOpenConns(1)
	}
	pingCtx, cancel := context.WithTimeout(ctx, sqlPingTimeout)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		return nil, fmt.Errorf("replay: %s does not answer: %w", c.name(), err)
	}
	store, err := sqlstore.New(db, c.dialect, sqlstore.Config{Table: c.Table, Logger: logger})
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, store.Close)
	if err := store.Migrate(pingCtx); err != nil {
		return nil, fmt.Errorf("replay: %s: %w", c.name(), err)
	}
	return store, nil
}
