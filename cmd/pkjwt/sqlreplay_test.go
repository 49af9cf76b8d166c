package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkjwt/pkjwt/internal/sqltest"
	"github.com/pkjwt/pkjwt/replay/sqlstore"
)

// TestSQLReplayConfig checks replay.sql: each mistake is refused with the
// member at fault, by the parser and by the binary (exit 2); a good one
// selects the dialect.
func TestSQLReplayConfig(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sql   any
		extra map[string]any // other replay members
		field string
		want  string
	}{
		{"no driver", map[string]any{"dsn": "x"}, nil, "replay.sql.driver", `"": want one of mysql, pgx, sqlite`},
		{"unknown driver", map[string]any{"driver": "postgres", "dsn": "x"}, nil, "replay.sql.driver", `"postgres": want one of`},
		{"no dsn", map[string]any{"driver": "pgx"}, nil, "replay.sql.dsn", "required"},
		{"bad table", map[string]any{"driver": "sqlite", "dsn": "x.db", "table": "jti; DROP TABLE x"}, nil, "replay.sql.table", "invalid table name"},
		{"two stores", map[string]any{"driver": "sqlite", "dsn": "x.db"}, map[string]any{"redis_url": "redis://127.0.0.1:6379/0"}, "replay", "give one of"},
		{"state path too", map[string]any{"driver": "sqlite", "dsn": "x.db"}, map[string]any{"state_path": "/tmp/x"}, "replay", "give one of"},
		{"not an object", "pgx", nil, "replay.sql", "want an object"},
		{"unknown member", map[string]any{"driver": "sqlite", "dsn": "x.db", "url": "y"}, nil, "replay.sql.url", "unknown field"},
		{"wrong type", map[string]any{"driver": "sqlite", "dsn": 5}, nil, "replay.sql.dsn", "want a string"},
	} {
		m := goodConfig()
		replay := map[string]any{"sql": tc.sql}
		for k, v := range tc.extra {
			replay[k] = v
		}
		m["replay"] = replay
		doc := marshalConfig(t, m)
		_, err := parseConfig(strings.NewReader(doc))
		var ce *configError
		if !errors.As(err, &ce) || !strings.HasPrefix(ce.field, tc.field) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: parseConfig = %v, want a config error at %s containing %q", tc.name, err, tc.field, tc.want)
		}
		file := writeFile(t, t.TempDir(), "config.json", []byte(doc))
		if r := pkjwt(t, "", "serve", "-config", file); r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: serve: want exit 2 and %q\n%v", tc.name, tc.want, r)
		}
	}
	for driver, want := range map[string]sqlstore.Dialect{"pgx": sqlstore.Postgres, "mysql": sqlstore.MySQL, "sqlite": sqlstore.SQLite} {
		m := goodConfig()
		m["replay"] = map[string]any{"sql": map[string]any{"driver": driver, "dsn": "x", "table": "my_jti"}}
		cfg, err := parseConfig(strings.NewReader(marshalConfig(t, m)))
		if err != nil || cfg.Replay.SQL == nil || cfg.Replay.SQL.dialect != want {
			t.Errorf("driver %s: %v, %+v", driver, err, cfg)
		}
	}
}

// TestServeSQL runs the built binary on each SQL store: an assertion gets a
// token, its replay is refused; two servers on one PostgreSQL refuse each
// other's assertions, as a cluster's nodes would; the database going away
// fails closed with a server error, and a database that does not answer
// at start-up stops the server (exit 1).
func TestServeSQL(t *testing.T) {
	pg, my := sqltest.Postgres(t), sqltest.MariaDB(t)
	dir := t.TempDir()
	c := keygenClient(t, dir, "c1", "p256", "pem")
	var inline any
	json.Unmarshal(c.jwks, &inline)
	for _, tc := range []struct {
		name, driver, dsn string
		srv               *sqltest.Server
	}{
		{"postgres", "pgx", "postgres://postgres:secret@" + pg.Addr() + "/postgres", pg},
		{"mariadb", "mysql", my.DSN(), my},
		{"sqlite", "sqlite", "file:" + filepath.Join(dir, "jti.db") + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(wal)", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := func() map[string]any {
				return map[string]any{
					"replay":  map[string]any{"sql": map[string]any{"driver": tc.driver, "dsn": tc.dsn}},
					"clients": []any{map[string]any{"client_id": "c1", "jwks": inline}},
				}
			}
			a, b := startServe(t, cfg()), startServe(t, cfg())
			if !strings.Contains(a.stderr.String(), "replay store: sql "+tc.driver) {
				t.Errorf("serve does not report the SQL store:\n%s", a.stderr)
			}
			if strings.Contains(a.stderr.String(), "secret") {
				t.Errorf("serve prints the database password:\n%s", a.stderr)
			}
			token := func(p *serveProc, assertion string) httpResult {
				return doHTTP(t, http.MethodPost, p.issuer+"/token", assertionForm(assertion, "grant_type", "client_credentials"))
			}
			assertion := c.mint(t, a.issuer)
			if r := token(a, assertion); r.status != http.StatusOK || r.json["access_token"] == nil {
				t.Fatalf("first use: %v", r)
			}
			if r := token(a, assertion); r.status != http.StatusUnauthorized || !strings.Contains(r.raw, "already used") {
				t.Errorf("replay at the same server: %v", r)
			}
			// The same client and jti, minted for server b: refused there,
			// because a claimed it in the shared database.
			again := c.mint(t, b.issuer, "-jti", jtiOf(t, assertion))
			if r := token(b, again); r.status != http.StatusUnauthorized || !strings.Contains(r.raw, "already used") {
				t.Errorf("jti reused at the other server: %v", r)
			}
			if r := token(b, c.mint(t, b.issuer)); r.status != http.StatusOK {
				t.Errorf("fresh assertion at the other server: %v", r)
			}
			if tc.srv == nil {
				return
			}

			tc.srv.Stop()
			fresh := c.mint(t, a.issuer)
			if r := token(a, fresh); r.status != http.StatusServiceUnavailable || r.json["error"] != "server_error" {
				t.Errorf("database down: %v", r)
			}
			if err := tc.srv.Start(); err != nil {
				t.Fatal(err)
			}
			// The first request may meet a connection the crash broke; it
			// fails closed too. Then the same assertion works: the failed
			// attempt recorded nothing.
			var r httpResult
			for range 3 {
				if r = token(a, fresh); r.status != http.StatusServiceUnavailable {
					break
				}
			}
			if r.status != http.StatusOK {
				t.Errorf("database back: %v", r)
			}
			if r := token(b, assertion); r.status != http.StatusUnauthorized {
				t.Errorf("replay after the database restart: %v", r)
			}

			tc.srv.Stop()
			file := writeFile(t, dir, "dead.json", []byte(marshalConfig(t, func() map[string]any {
				m := cfg()
				m["listen"], m["issuer"] = "127.0.0.1:0", "http://127.0.0.1:1"
				return m
			}())))
			if r := pkjwt(t, "", "serve", "-config", file); r.code != 1 || !strings.Contains(r.stderr, "does not answer") || strings.Contains(r.stderr, "secret") {
				t.Errorf("dead database at start-up: %v", r)
			}
		})
	}
}

// TestSQLReplayName checks that the start-up line never shows a user,
// password or option.
func TestSQLReplayName(t *testing.T) {
	for _, tc := range []struct{ driver, dsn, want string }{
		{"pgx", "postgres://u:pw@db:5432/auth?password=pw", "sql pgx postgres://db:5432/auth"},
		{"pgx", "host=db user=u password=pw dbname=a", "sql pgx (dsn not shown)"},
		{"mysql", "u:pw@tcp(db:3306)/auth?tls=true", "sql mysql tcp(db:3306)/auth"},
		{"sqlite", "file:/var/lib/jti.db?_pragma=x(1)", "sql sqlite /var/lib/jti.db"},
	} {
		c := &sqlReplayConfig{Driver: tc.driver, DSN: tc.dsn, dialect: sqlDrivers[tc.driver]}
		if got := c.name(); got != tc.want {
			t.Errorf("name(%q) = %q, want %q", tc.dsn, got, tc.want)
		}
	}
}
