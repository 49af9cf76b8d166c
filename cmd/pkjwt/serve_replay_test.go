package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/internal/redistest"
	"github.com/pkjwt/pkjwt/internal/testkeys"
)

// epochRefusal is the description of verify.ErrReplayEpoch, as a client
// sees it.
const epochRefusal = "issued before the replay store's memory began"

// noIATMinter signs assertions without iat for c (a P-256 PEM client), which
// "pkjwt mint" always sets.
func noIATMinter(t *testing.T, c testClient) func(aud string) string {
	t.Helper()
	pemBytes, err := os.ReadFile(c.key)
	if err != nil {
		t.Fatal(err)
	}
	key, err := parseSigningKey(pemBytes, "")
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(c.jwks, &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("client JWKS: %v", err)
	}
	return func(aud string) string {
		claims := testkeys.Claims(c.id, aud, time.Now())
		delete(claims, "iat")
		return testkeys.Sign("ES256", key.signer, map[string]any{"kid": set.Keys[0].Kid}, claims)
	}
}

// TestServeMemoryRestart runs the built binary with the in-memory replay
// store, uses an assertion, restarts the server (SIGTERM, then SIGKILL) and
// sends the same assertion again.
func TestServeMemoryRestart(t *testing.T) {
	dir := t.TempDir()
	statePath := filepath.Join(dir, "replay.state")
	p, c := serveWithReplay(t, map[string]any{"state_path": statePath}, 1)
	noIAT := noIATMinter(t, c)
	if !strings.Contains(p.stderr.String(), "replay store: memory, state file "+statePath) {
		t.Errorf("serve does not report its state file:\n%s", p.stderr)
	}
	token := func(assertion string) httpResult { return tokenRequest(t, p, assertion) }
	restart := func(sig syscall.Signal) {
		t.Helper()
		code := p.stop(t, sig)
		if sig == syscall.SIGTERM && code != 0 {
			t.Fatalf("serve exit status after SIGTERM: %d\n%s", code, p.stderr)
		}
		var err error
		config := p.config
		p, err = launchServe(t, p.issuer, dir, "serve", "-config", config)
		if err != nil {
			t.Fatal(err)
		}
		p.config = config
	}

	// First start: an assertion without iat is accepted as usual.
	if r := token(noIAT(p.issuer)); r.status != http.StatusOK {
		t.Fatalf("first start, assertion without iat: %v", r)
	}
	used := c.mint(t, p.issuer)
	if r := token(used); r.status != http.StatusOK {
		t.Fatalf("first use: %v", r)
	}

	// SIGTERM: the claims are saved and loaded back; nothing else changes.
	restart(syscall.SIGTERM)
	if r := token(used); r.status != http.StatusUnauthorized || !strings.Contains(r.raw, "already used") {
		t.Fatalf("replay after SIGTERM and restart: %v, want 401 already used", r)
	}
	if r := token(c.mint(t, p.issuer)); r.status != http.StatusOK {
		t.Fatalf("fresh assertion after SIGTERM and restart: %v", r)
	}
	if r := token(noIAT(p.issuer)); r.status != http.StatusOK {
		t.Fatalf("assertion without iat after a clean restart: %v", r)
	}

	// SIGKILL: the claims are lost; the restart is told from a first start.
	used2 := c.mint(t, p.issuer)
	if r := token(used2); r.status != http.StatusOK {
		t.Fatalf("first use before SIGKILL: %v", r)
	}
	restart(syscall.SIGKILL)
	ready := time.Now()
	if !strings.Contains(p.stderr.String(), "without a clean shutdown") {
		t.Errorf("serve does not log the crash:\n%s", p.stderr)
	}
	for _, a := range []string{used2, used} {
		if r := token(a); r.status != http.StatusUnauthorized || !strings.Contains(r.raw, epochRefusal) {
			t.Fatalf("replay after SIGKILL and restart: %v, want 401 %q", r, epochRefusal)
		}
	}
	// Without iat, only exp bounds when an assertion was made: refused
	// until max_lifetime_seconds after the crash.
	if r := token(noIAT(p.issuer)); r.status != http.StatusUnauthorized || !strings.Contains(r.raw, epochRefusal) {
		t.Fatalf("assertion without iat after SIGKILL: %v, want 401 %q", r, epochRefusal)
	}
	// A fresh assertion passes once its iat (whole seconds) is past the
	// restart plus the 1 s leeway.
	time.Sleep(time.Until(ready.Add(time.Second).Truncate(time.Second).Add(time.Second)))
	if r := token(c.mint(t, p.issuer)); r.status != http.StatusOK {
		t.Fatalf("fresh assertion after SIGKILL and restart: %v", r)
	}
}

// TestServeDefaultStatePath: without replay configuration the memory store
// keeps its state under XDG_STATE_HOME.
func TestServeDefaultStatePath(t *testing.T) {
	p, c := serveWithReplay(t, nil, 0)
	if !strings.Contains(p.stderr.String(), "replay store: memory, state file ") ||
		!strings.Contains(p.stderr.String(), filepath.Join("pkjwt", "replay-")) {
		t.Errorf("serve does not report its default state file:\n%s", p.stderr)
	}
	useThenReplay(t, p, c, 1)
}

func TestParseReplayConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		replay map[string]any
		check  func(t *testing.T, r *replayConfig)
	}{
		{"state path", map[string]any{"state_path": "/var/lib/pkjwt/replay.state"}, func(t *testing.T, r *replayConfig) {
			if r.StatePath != "/var/lib/pkjwt/replay.state" || r.redis != nil || r.cluster != nil || r.sentinel != nil {
				t.Errorf("%+v", r)
			}
		}},
		{"cluster", map[string]any{"redis_cluster_url": "redis://127.0.0.1:7000?addr=127.0.0.1:7001&addr=127.0.0.1:7002"}, func(t *testing.T, r *replayConfig) {
			if r.cluster == nil || strings.Join(r.cluster.Addrs, ",") != "127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002" {
				t.Errorf("cluster options %+v", r.cluster)
			}
		}},
		{"sentinel", map[string]any{"redis_sentinel_url": "redis://127.0.0.1:26379/1?master_name=mymaster&addr=127.0.0.1:26380"}, func(t *testing.T, r *replayConfig) {
			if o := r.sentinel; o == nil || o.MasterName != "mymaster" || o.DB != 1 || strings.Join(o.SentinelAddrs, ",") != "127.0.0.1:26379,127.0.0.1:26380" {
				t.Errorf("sentinel options %+v", o)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := goodConfig()
			m["replay"] = tc.replay
			cfg, err := parseConfig(strings.NewReader(marshalConfig(t, m)))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, cfg.Replay)
		})
	}
}

// serveWithReplay makes a P-256 client c1 in a new directory and starts
// serve for it with the given replay configuration (nil: none) and, if
// positive, leeway_seconds.
func serveWithReplay(t *testing.T, replay map[string]any, leewaySeconds int) (*serveProc, testClient) {
	t.Helper()
	c := keygenClient(t, t.TempDir(), "c1", "p256", "pem")
	var inline any
	if err := json.Unmarshal(c.jwks, &inline); err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{"clients": []any{map[string]any{"client_id": "c1", "jwks": inline}}}
	if replay != nil {
		cfg["replay"] = replay
	}
	if leewaySeconds > 0 {
		cfg["leeway_seconds"] = leewaySeconds
	}
	return startServe(t, cfg), c
}

// tokenRequest sends assertion to p's token endpoint.
func tokenRequest(t *testing.T, p *serveProc, assertion string) httpResult {
	t.Helper()
	return doHTTP(t, http.MethodPost, p.issuer+"/token", assertionForm(assertion, "grant_type", "client_credentials"))
}

// wantRefusedAsBeforeEpoch sends a fresh assertion and wants it refused as
// issued before the replay store's epoch.
func wantRefusedAsBeforeEpoch(t *testing.T, what string, p *serveProc, c testClient) {
	t.Helper()
	if r := tokenRequest(t, p, c.mint(t, p.issuer)); r.status != http.StatusUnauthorized || !strings.Contains(r.raw, epochRefusal) {
		t.Fatalf("%s: %v, want 401 %q", what, r, epochRefusal)
	}
}

// useThenReplay uses n fresh assertions once each, then sends each again.
func useThenReplay(t *testing.T, p *serveProc, c testClient, n int) {
	t.Helper()
	var used []string
	for range n {
		a := c.mint(t, p.issuer)
		if r := tokenRequest(t, p, a); r.status != http.StatusOK {
			t.Fatalf("first use: %v", r)
		}
		used = append(used, a)
	}
	for _, a := range used {
		if r := tokenRequest(t, p, a); r.status != http.StatusUnauthorized || !strings.Contains(r.raw, "already used") {
			t.Fatalf("replay: %v, want 401 already used", r)
		}
	}
}

// TestServeStateUnwritable: a state path that cannot be written does not
// stop the server; it guards from its start and says so.
func TestServeStateUnwritable(t *testing.T) {
	p, c := serveWithReplay(t, map[string]any{"state_path": filepath.Join(t.TempDir(), "no", "such", "dir", "replay.state")}, 0)
	if !strings.Contains(p.stderr.String(), "refusing assertions issued before this start") {
		t.Errorf("serve does not say it guards from its start:\n%s", p.stderr)
	}
	// Minted now, within the leeway of the start: it may have been used by
	// an earlier run the server cannot know of.
	wantRefusedAsBeforeEpoch(t, "assertion issued at the start", p, c)
}

// TestServeRedisCluster runs serve against a real three-node Redis Cluster
// given as a redis_cluster_url.
func TestServeRedisCluster(t *testing.T) {
	cluster := redistest.StartCluster(t, 3)
	addrs := cluster.Addrs()
	p, c := serveWithReplay(t, map[string]any{"redis_cluster_url": "redis://" + addrs[0] + "?addr=" + addrs[1] + "&addr=" + addrs[2]}, 1)
	if !strings.Contains(p.stderr.String(), "replay store: redis cluster "+strings.Join(addrs, ",")) {
		t.Errorf("serve does not report the cluster:\n%s", p.stderr)
	}
	// A new cluster is guarded like one that lost its data, for the 1 s
	// leeway after its first use.
	wantRefusedAsBeforeEpoch(t, "first use of an empty cluster", p, c)
	time.Sleep(time.Until(time.Now().Add(time.Second).Truncate(time.Second).Add(time.Second)))
	useThenReplay(t, p, c, 20) // enough that claims land on every node
}

// TestServeRedisSentinel runs serve against a primary found through a real
// Redis Sentinel, given as a redis_sentinel_url.
func TestServeRedisSentinel(t *testing.T) {
	primary := redistest.Start(t)
	sentinel := redistest.StartSentinel(t, "mymaster", primary)
	p, c := serveWithReplay(t, map[string]any{"redis_sentinel_url": "redis://" + sentinel.Addr() + "?master_name=mymaster"}, 1)
	if !strings.Contains(p.stderr.String(), "replay store: redis sentinel mymaster at "+sentinel.Addr()) {
		t.Errorf("serve does not report the Sentinel setup:\n%s", p.stderr)
	}
	wantRefusedAsBeforeEpoch(t, "first use of an empty Redis", p, c)
	time.Sleep(time.Until(time.Now().Add(time.Second).Truncate(time.Second).Add(time.Second)))
	useThenReplay(t, p, c, 1)
	// The claims are in the primary Sentinel named.
	if n, err := primary.Do("DBSIZE"); err != nil || n == "0" {
		t.Fatalf("primary DBSIZE = %s, %v; want the claims there", n, err)
	}
}
