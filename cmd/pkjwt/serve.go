package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/pkjwt/pkjwt/verify"
)

const serveHelp = `
Run the reference authorization server: a token endpoint for the
client_credentials grant, token introspection (RFC 7662) and the RFC 8414
metadata, every client authenticated with private_key_jwt.

  GET  /.well-known/oauth-authorization-server   metadata
  POST /token        grant_type=client_credentials [scope=...]
  POST /introspect   token=...
  GET  /healthz      200 while the process serves
  GET  /readyz       200 when the replay store answers, else 503

The configuration is JSON; unknown fields are errors:

  {
    "listen": "127.0.0.1:18080",
    "issuer": "http://127.0.0.1:18080",        the aud of client assertions
    "audience_policy": "rfc7523bis",           strict | rfc7523bis (default) | legacy
    "allow_insecure_jwks_uri": false,          true allows http:// and loopback jwks_uri (dev only)
    "leeway_seconds": 15,                      optional, default 15
    "max_lifetime_seconds": 600,               optional, default 600
    "jwks_refresh_seconds": 300,               optional, default 300
    "replay": {"redis_url": "redis://127.0.0.1:6379/0"},   optional; see below
    "metrics_listen": "127.0.0.1:9090",        optional: Prometheus /metrics, /healthz, /readyz
    "access_log": false,                       optional: one log record per request
    "clients": [
      {"client_id": "c1", "jwks_uri": "https://c1.example/jwks.json",
       "token_endpoint_auth_signing_alg": "ES256"},
      {"client_id": "c2", "jwks": {"keys": [ ...public JWKs... ]}}
    ]
  }

The replay store (jti single use) is one of:

  (absent), {} or {"state_path": "/var/lib/pkjwt/replay.state"}
      process memory; claims are saved to the state file on shutdown and a
      crash is detected from it at the next start (default file:
      $XDG_STATE_HOME/pkjwt/replay-<issuer hash>.state, or under
      ~/.local/state)
  {"redis_url": "redis://host:6379/0"}                 one Redis
  {"redis_cluster_url": "redis://h1:7000?addr=h2:7001&addr=h3:7002"}
                                                       a Redis Cluster
  {"redis_sentinel_url": "redis://s1:26379?master_name=mymaster&addr=s2:26379"}
                                                       Sentinel failover
  {"sql": {"driver": "pgx", "dsn": "postgres://user:pass@host/db"}}
  {"sql": {"driver": "mysql", "dsn": "user:pass@tcp(host:3306)/db"}}
  {"sql": {"driver": "sqlite", "dsn": "file:/var/lib/pkjwt/jti.db?_pragma=busy_timeout(5000)&_pragma=journal_mode(wal)"}}
      a SQL database (PostgreSQL, MySQL/MariaDB, SQLite); the tables
      pkjwt_jti and pkjwt_jti_meta ("table": "name" renames them) are
      created at start if missing

After the store lost claims (a crash, a Redis restart or flush), the server
refuses for a while the assertions that may have been used before: those
with an iat before the loss plus the leeway, or without iat, an exp before
the loss plus max_lifetime_seconds. An empty Redis cannot be told from one
that lost its claims: its first use counts as such a loss.

Without -config the server runs a built-in demo configuration and prints
how to try it. SIGINT or SIGTERM shuts it down gracefully.
`

func runServe(ctx context.Context, std stdio, args []string) error {
	fs := newFlagSet(std, "serve", "[-config FILE]", serveHelp)
	configFile := fs.String("config", "", "configuration `file` (default: the built-in demo configuration)")
	check := fs.Bool("check", false, "validate the configuration and exit")
	printConfig := fs.Bool("print-demo-config", false, "print the built-in demo configuration and exit")
	if err := parseOptions(fs, args); err != nil {
		return err
	}
	if *printConfig {
		_, err := std.out.Write(demoConfigJSON)
		return err
	}

	var (
		cfg *serverConfig
		err error
	)
	if *configFile != "" {
		cfg, err = loadConfigFile(*configFile)
	} else {
		cfg, err = parseConfig(bytes.NewReader(demoConfigJSON))
	}
	if err != nil {
		return err
	}
	if *check {
		fmt.Fprintf(std.err, "pkjwt serve: configuration OK (%d clients)\n", len(cfg.Clients))
		return nil
	}

	logger := slog.New(slog.NewTextHandler(std.err, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s, err := newServer(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(std.err, "pkjwt serve: listening on %s (issuer %s, clients: %d, audience policy: %s, replay store: %s)\n",
		ln.Addr(), cfg.Issuer, len(cfg.Clients), cfg.audience, replayName(cfg))
	stopMetrics, err := s.startMetrics(ctx, std, logger)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopMetrics()
	if *configFile == "" {
		printServeDemoHelp(std, cfg)
	}
	err = s.serve(ctx, ln, logger)
	if err != nil {
		return err
	}
	fmt.Fprintln(std.err, "pkjwt serve: shut down")
	return s.Close()
}

func replayName(cfg *serverConfig) string {
	rc := cfg.Replay
	switch {
	case rc != nil && rc.SQL != nil:
		return rc.SQL.name()
	case rc == nil || rc.StatePath == "" && rc.redis == nil && rc.cluster == nil && rc.sentinel == nil:
		return "memory, state file " + defaultStatePath(cfg.Issuer)
	case rc.redis != nil:
		return "redis " + rc.redis.Addr
	case rc.cluster != nil:
		return "redis cluster " + strings.Join(rc.cluster.Addrs, ",")
	case rc.sentinel != nil:
		return "redis sentinel " + rc.sentinel.MasterName + " at " + strings.Join(rc.sentinel.SentinelAddrs, ",")
	}
	return "memory, state file " + rc.StatePath
}

// printServeDemoHelp tells how to try the server with the demo client.
func printServeDemoHelp(std stdio, cfg *serverConfig) {
	me := self()
	fmt.Fprintf(std.err, `
No -config given: this is the built-in demo configuration (print it with
'%[1]s serve -print-demo-config'). Its client %[2]q signs with a demo key
that ships with pkjwt (public, never use it for anything real).

Try it from another terminal:

  curl -s %[3]s%[4]s

  A=$(%[1]s mint -demo-key -aud %[3]s)
  curl -s %[3]s/token -d grant_type=client_credentials \
    -d client_assertion_type=%[5]s \
    -d client_assertion=$A

Run the curl again with the same $A to see replay protection. To see why
an assertion is refused:

  %[1]s serve -print-demo-config > demo.json
  %[1]s verify -config demo.json $A

Press Ctrl-C to stop.

`, me, demoClientID, cfg.Issuer, metadataPath, verify.AssertionType)
}
