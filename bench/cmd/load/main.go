// Command load measures pkjwt serve end to end on loopback, next to a
// signature-only baseline server, in the same run.
//
// It pre-mints unique client assertions for several clients (each of
// -algs, -clients per alg), then, for -rounds rounds, runs each target
// once, in an order that rotates from round to round:
//
//	baseline      bench/cmd/baseline: ParseForm + golang-jwt Parse, no other check
//	pkjwt-memory  pkjwt serve, jti claims in process memory
//	pkjwt-redis   pkjwt serve, jti claims in a redis-server it starts on a free port
//	pkjwt-postgres  pkjwt serve, jti claims in a PostgreSQL it starts (internal/sqltest),
//	              a new table per run (not in the default -targets)
//	variant-*     the same with the -variant binary (a proposed change, say)
//
// Every run starts a fresh server process (a fresh memory store; Redis is
// flushed), sends -warmup requests, then drives POST /token with -c
// concurrent keep-alive connections for -d, each request with an
// assertion not used before in that run. It records requests/s, latency
// percentiles and the CPU time the server (and Redis) used per request,
// read from /proc. Every answer must be 200; anything else is counted
// and the first one printed.
//
//	(cd .. && go build -o /tmp/pkjwt ./cmd/pkjwt)  (from bench: the parent module)
//	go build -o /tmp/baseline ./cmd/baseline       (in bench)
//	go run ./cmd/load -pkjwt /tmp/pkjwt -baseline /tmp/baseline
//
// Only loopback addresses are used, and every run ends after -d.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pkjwt/pkjwt/bench"
	"github.com/pkjwt/pkjwt/internal/sqltest"
	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/replay/redisstore"
)

var (
	pkjwtBin    = flag.String("pkjwt", "", "pkjwt binary (go build -o FILE ./cmd/pkjwt in the parent module)")
	variantBin  = flag.String("variant", "", "another pkjwt binary, such as one built with a proposed change, for targets variant-memory and variant-redis")
	variantCfg  = flag.String("variant-config", "", "JSON object merged into the configuration of the variant targets, such as {\"metrics_listen\":\"127.0.0.1:0\"} (the variant binary may be the same as -pkjwt)")
	baselineBin = flag.String("baseline", "", "baseline binary (go build -o FILE ./cmd/baseline)")
	redisBin    = flag.String("redis-server", "redis-server", "redis-server binary; empty skips the Redis target")
	concurrency = flag.Int("c", 32, "concurrent requests (keep-alive connections)")
	duration    = flag.Duration("d", 6*time.Second, "measured duration of each run")
	warmup      = flag.Int("warmup", 1000, "unmeasured requests at the start of each run")
	rounds      = flag.Int("rounds", 5, "rounds; each runs every target once")
	algsFlag    = flag.String("algs", strings.Join(bench.Algs, ","), "algorithms of the clients, comma-separated")
	perAlg      = flag.Int("clients", 2, "clients per algorithm")
	poolSize    = flag.Int("n", 95000, "assertions minted (the most one run can send; pkjwt serve keeps at most 1000000 live access tokens)")
	targetsFlag = flag.String("targets", "baseline,pkjwt-memory,pkjwt-redis", "targets, comma-separated")
	jsonOut     = flag.String("json", "", "also write every run as JSON to `file`")
)

// lifetime of the minted assertions: under pkjwt serve's default maximum
// of 10 minutes. The pool is minted again when older than remint.
const (
	lifetime = 9 * time.Minute
	remint   = 6 * time.Minute
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("load: ")
	flag.Parse()
	targets := strings.Split(*targetsFlag, ",")
	for _, t := range targets {
		switch t {
		case "baseline":
			if *baselineBin == "" {
				log.Fatal("-baseline is required for target baseline")
			}
		case "pkjwt-memory", "pkjwt-redis", "pkjwt-postgres":
			if *pkjwtBin == "" {
				log.Fatalf("-pkjwt is required for target %s", t)
			}
		case "variant-memory", "variant-redis":
			if *variantBin == "" {
				log.Fatalf("-variant is required for target %s", t)
			}
		default:
			log.Fatalf("unknown target %q", t)
		}
	}
	if *redisBin == "" {
		targets = slices.DeleteFunc(targets, func(t string) bool { return strings.HasSuffix(t, "-redis") })
	}

	clients := bench.Clients(strings.Split(*algsFlag, ","), *perAlg)
	dir, err := os.MkdirTemp("", "pkjwt-load-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	var rds *redisServer
	if slices.ContainsFunc(targets, func(t string) bool { return strings.HasSuffix(t, "-redis") }) {
		rds, err = startRedis(*redisBin, dir)
		if err != nil {
			log.Fatal(err)
		}
		defer rds.stop()
	}
	memCfg, err := writeConfig(dir, "memory.json", clients, "", "")
	if err != nil {
		log.Fatal(err)
	}
	varMemCfg, err := writeConfig(dir, "variant-memory.json", clients, "", *variantCfg)
	if err != nil {
		log.Fatal(err)
	}
	var redisCfg, varRedisCfg string
	if rds != nil {
		if redisCfg, err = writeConfig(dir, "redis.json", clients, "redis://"+rds.addr+"/0", ""); err != nil {
			log.Fatal(err)
		}
		if varRedisCfg, err = writeConfig(dir, "variant-redis.json", clients, "redis://"+rds.addr+"/0", *variantCfg); err != nil {
			log.Fatal(err)
		}
	}

	if slices.Contains(targets, "pkjwt-postgres") {
		if pg, err = sqltest.StartPostgres(); err != nil {
			log.Fatal(err)
		}
		defer pg.Close()
	}

	log.Printf("%d CPUs (%s), load average %s", runtime.NumCPU(), cpuModel(), loadavg())
	log.Printf("%d clients (%s x %d), concurrency %d, %s per run, %d rounds", len(clients), *algsFlag, *perAlg, *concurrency, *duration, *rounds)

	var p *pool
	var all []result
	for round := range *rounds {
		order := slices.Clone(targets)
		for range round % len(order) {
			order = append(order[1:], order[0])
		}
		for _, t := range order {
			if p == nil || time.Since(p.minted) > remint {
				p = mint(clients, *poolSize)
			}
			var cmd []string
			switch t {
			case "baseline":
				cmd = []string{*baselineBin, "-config", memCfg}
			case "pkjwt-memory":
				cmd = []string{*pkjwtBin, "serve", "-config", memCfg}
			case "pkjwt-redis":
				if err := rds.flush(); err != nil {
					log.Fatal(err)
				}
				if err := rds.provision(); err != nil {
					log.Fatal(err)
				}
				cmd = []string{*pkjwtBin, "serve", "-config", redisCfg}
			case "pkjwt-postgres":
				// A table of its own per run: a new, empty store.
				pgCfg, err := writeSQLConfig(memCfg, fmt.Sprintf("postgres-%d.json", round), pg.DSN(), fmt.Sprintf("jti_run_%d", round))
				if err != nil {
					log.Fatal(err)
				}
				cmd = []string{*pkjwtBin, "serve", "-config", pgCfg}
			case "variant-memory":
				cmd = []string{*variantBin, "serve", "-config", varMemCfg}
			case "variant-redis":
				if err := rds.flush(); err != nil {
					log.Fatal(err)
				}
				if err := rds.provision(); err != nil {
					log.Fatal(err)
				}
				cmd = []string{*variantBin, "serve", "-config", varRedisCfg}
			}
			// Each run of the memory store is a first start: a state
			// directory of its own, so that no earlier run's claims (or
			// crash) carry over.
			if err := os.Setenv("XDG_STATE_HOME", filepath.Join(dir, fmt.Sprintf("state-%d-%s", round, t))); err != nil {
				log.Fatal(err)
			}
			r, err := run(t, cmd, p, rds)
			if err != nil {
				log.Fatalf("round %d, %s: %v", round+1, t, err)
			}
			r.Round = round + 1
			log.Printf("round %d %-13s %8.0f req/s  p50 %6s  p99 %6s  server CPU %5.1f µs/req%s  errors %d  (load %s)",
				r.Round, t, r.RPS, fmtDur(r.P50), fmtDur(r.P99), r.ServerCPUPerReq, redisNote(r), r.Errors, r.LoadAvg)
			all = append(all, r)
		}
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(all, "", "  ")
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	printSummary(os.Stdout, targets, all)
}

func redisNote(r result) string {
	if r.Target == "pkjwt-postgres" {
		return fmt.Sprintf(" + postgres %4.1f", r.DBCPUPerReq)
	}
	if !strings.HasSuffix(r.Target, "-redis") {
		return ""
	}
	return fmt.Sprintf(" + redis %4.1f", r.RedisCPUPerReq)
}

// pool holds pre-built request bodies, each with a distinct assertion,
// round-robin over the clients.
type pool struct {
	bodies [][]byte
	minted time.Time
}

func mint(clients []bench.Client, n int) *pool {
	start := time.Now()
	p := &pool{bodies: make([][]byte, n), minted: start}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				c := clients[i%len(clients)]
				a := c.Mint(c.Claims(start, lifetime))
				p.bodies[i] = []byte(bench.Form(a).Encode())
			}
		})
	}
	wg.Wait()
	log.Printf("minted %d assertions in %s", n, time.Since(start).Round(time.Millisecond))
	return p
}

// writeConfig writes a pkjwt serve configuration for clients, each with
// its one key inline, listening on a free loopback port (":0"), with the
// default policy. A non-empty redisURL selects the Redis replay store;
// extra, a JSON object, adds members.
func writeConfig(dir, name string, clients []bench.Client, redisURL, extra string) (string, error) {
	type jsonClient struct {
		ClientID string          `json:"client_id"`
		Alg      string          `json:"token_endpoint_auth_signing_alg"`
		JWKS     json.RawMessage `json:"jwks"`
	}
	cfg := map[string]any{"listen": "127.0.0.1:0", "issuer": bench.Issuer}
	var cs []jsonClient
	for _, c := range clients {
		cs = append(cs, jsonClient{c.ID, c.Alg, testkeys.JWKS(testkeys.JWK(c.Public(), c.KID, c.Alg, "sig"))})
	}
	cfg["clients"] = cs
	if redisURL != "" {
		cfg["replay"] = map[string]string{"redis_url": redisURL}
	}
	if extra != "" {
		if err := json.Unmarshal([]byte(extra), &cfg); err != nil {
			return "", fmt.Errorf("-variant-config: %w", err)
		}
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return "", err
	}
	file := filepath.Join(dir, name)
	return file, os.WriteFile(file, b, 0o600)
}

// result is one run of one target.
type result struct {
	Target          string
	Round           int
	Requests        int
	Errors          int
	Seconds         float64
	RPS             float64
	P50, P90, P99   time.Duration
	Max             time.Duration
	ServerCPUPerReq float64 // µs of user+system CPU of the server per measured request
	RedisCPUPerReq  float64 // the same for redis-server, pkjwt-redis only
	DBCPUPerReq     float64 // the same for PostgreSQL (server and backends), pkjwt-postgres only
	LoadAvg         string  // /proc/loadavg after the run
	PoolExhausted   bool
}

var listening = regexp.MustCompile(`listening on ([0-9.:\[\]]+)`)

// run starts cmd, waits until it says where it listens, drives it and
// stops it.
func run(target string, cmd []string, p *pool, rds *redisServer) (result, error) {
	res := result{Target: target}
	c := exec.Command(cmd[0], cmd[1:]...)
	stderr, err := c.StderrPipe()
	if err != nil {
		return res, err
	}
	c.Stdout = io.Discard
	if err := c.Start(); err != nil {
		return res, err
	}
	exited := make(chan error, 1)
	addrc := make(chan string, 1)
	var out bytes.Buffer // the first lines, for errors
	var outMu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		logged := 0
		for sc.Scan() {
			line := sc.Text()
			outMu.Lock()
			if out.Len() < 8<<10 {
				out.WriteString(line + "\n")
			}
			outMu.Unlock()
			// Why a request failed is in the server's log; show the first few.
			if strings.Contains(line, "level=ERROR") && logged < 3 {
				logged++
				log.Printf("%s: server: %s", target, line)
			}
			if m := listening.FindStringSubmatch(line); m != nil {
				select {
				case addrc <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() { exited <- c.Wait() }()
	defer func() {
		c.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			c.Process.Kill()
			<-exited
		}
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-exited:
		outMu.Lock()
		defer outMu.Unlock()
		return res, fmt.Errorf("%s exited (%v):\n%s", cmd[0], err, out.String())
	case <-time.After(20 * time.Second):
		return res, errors.New("server did not say where it listens within 20s")
	}

	url := "http://" + addr + "/token"
	tr := &http.Transport{
		MaxIdleConns:        *concurrency,
		MaxIdleConnsPerHost: *concurrency,
		MaxConnsPerHost:     *concurrency,
		DisableCompression:  true,
		IdleConnTimeout:     time.Minute,
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	var next atomic.Int64
	var errCount atomic.Int64
	var firstErr atomic.Value
	send := func(i int) (time.Duration, bool) {
		t0 := time.Now()
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(p.bodies[i]))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := hc.Do(req)
		if err != nil {
			firstErr.CompareAndSwap(nil, err.Error())
			errCount.Add(1)
			return 0, false
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"access_token"`)) {
			firstErr.CompareAndSwap(nil, fmt.Sprintf("%s: %s", resp.Status, body))
			errCount.Add(1)
			return d, false
		}
		return d, true
	}
	// Warm up: connections, the server's caches, the JIT-less Go runtime's
	// heap size; unmeasured.
	var wg sync.WaitGroup
	for range *concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= *warmup || i >= len(p.bodies) {
					return
				}
				send(i)
			}
		})
	}
	wg.Wait()
	if n := errCount.Load(); n > 0 {
		return res, fmt.Errorf("%d errors in warm-up, first: %v", n, firstErr.Load())
	}

	pid := c.Process.Pid
	cpu0, err := procCPU(pid)
	if err != nil {
		return res, err
	}
	var rcpu0 time.Duration
	if strings.HasSuffix(target, "-redis") {
		if rcpu0, err = procCPU(rds.cmd.Process.Pid); err != nil {
			return res, err
		}
	}
	var dbcpu0 time.Duration
	if target == "pkjwt-postgres" {
		if dbcpu0, err = treeCPU(pg.Pids()); err != nil {
			return res, err
		}
	}
	lat := make([][]time.Duration, *concurrency)
	start := time.Now()
	deadline := start.Add(*duration)
	var exhausted atomic.Bool
	for w := range *concurrency {
		lat[w] = make([]time.Duration, 0, 1<<14)
		wg.Go(func() {
			for time.Now().Before(deadline) {
				i := int(next.Add(1) - 1)
				if i >= len(p.bodies) {
					exhausted.Store(true)
					return
				}
				if d, ok := send(i); ok {
					lat[w] = append(lat[w], d)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, err := procCPU(pid)
	if err != nil {
		return res, err
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	res.Requests = len(all)
	res.Errors = int(errCount.Load())
	res.Seconds = elapsed.Seconds()
	res.PoolExhausted = exhausted.Load()
	if len(all) == 0 {
		return res, fmt.Errorf("no successful request; first error: %v", firstErr.Load())
	}
	res.RPS = float64(len(all)) / elapsed.Seconds()
	res.P50, res.P90, res.P99, res.Max = pct(all, 0.50), pct(all, 0.90), pct(all, 0.99), all[len(all)-1]
	res.ServerCPUPerReq = float64((cpu1 - cpu0).Microseconds()) / float64(len(all))
	if strings.HasSuffix(target, "-redis") {
		rcpu1, err := procCPU(rds.cmd.Process.Pid)
		if err != nil {
			return res, err
		}
		res.RedisCPUPerReq = float64((rcpu1 - rcpu0).Microseconds()) / float64(len(all))
	}
	if target == "pkjwt-postgres" {
		dbcpu1, err := treeCPU(pg.Pids())
		if err != nil {
			return res, err
		}
		res.DBCPUPerReq = float64((dbcpu1 - dbcpu0).Microseconds()) / float64(len(all))
	}
	res.LoadAvg = loadavg()
	if res.Errors > 0 {
		log.Printf("%s: %d errors, first: %v", target, res.Errors, firstErr.Load())
	}
	if res.PoolExhausted {
		log.Printf("%s: the pool of %d assertions ran out after %s; raise -n", target, len(p.bodies), elapsed.Round(time.Millisecond))
	}
	return res, nil
}

func pct(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// procCPU returns the user+system CPU time of process pid (Linux).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 of the whole line.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clkTck, nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func fmtDur(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000)
}

// printSummary prints, per target, the medians over the rounds and the
// median of the per-round ratios to the baseline of the same round.
func printSummary(w io.Writer, targets []string, all []result) {
	byRound := map[int]map[string]result{}
	for _, r := range all {
		if byRound[r.Round] == nil {
			byRound[r.Round] = map[string]result{}
		}
		byRound[r.Round][r.Target] = r
	}
	fmt.Fprintf(w, "\n| target | req/s vs baseline (same round) | CPU/req vs baseline (same round) | req/s | p50 | p90 | p99 | server CPU µs/req | errors |\n")
	fmt.Fprintf(w, "|---|---|---|---|---|---|---|---|---|\n")
	for _, t := range targets {
		var rps, ratio, cpuRatio, cpu, rcpu []float64
		var p50, p90, p99 []time.Duration
		errs := 0
		for _, rr := range byRound {
			r, ok := rr[t]
			if !ok {
				continue
			}
			rps = append(rps, r.RPS)
			p50, p90, p99 = append(p50, r.P50), append(p90, r.P90), append(p99, r.P99)
			cpu = append(cpu, r.ServerCPUPerReq)
			rcpu = append(rcpu, r.RedisCPUPerReq+r.DBCPUPerReq)
			errs += r.Errors
			if b, ok := rr["baseline"]; ok {
				ratio = append(ratio, r.RPS/b.RPS)
				cpuRatio = append(cpuRatio, (r.ServerCPUPerReq+r.RedisCPUPerReq+r.DBCPUPerReq)/b.ServerCPUPerReq)
			}
		}
		if len(rps) == 0 {
			continue
		}
		ratioCell, cpuRatioCell := "-", "-"
		if len(ratio) > 0 {
			ratioCell = fmt.Sprintf("**%.2fx** (%s)", median(ratio), spread(ratio))
			cpuRatioCell = fmt.Sprintf("%.2fx (%s)", median(cpuRatio), spread(cpuRatio))
		}
		cpuCell := fmt.Sprintf("%.0f", median(cpu))
		if strings.HasSuffix(t, "-redis") {
			cpuCell += fmt.Sprintf(" + redis %.0f", median(rcpu))
		}
		if t == "pkjwt-postgres" {
			cpuCell += fmt.Sprintf(" + postgres %.0f", median(rcpu))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %.0f | %s | %s | %s | %s | %d |\n", t, ratioCell, cpuRatioCell, median(rps),
			fmtDur(medianDur(p50)), fmtDur(medianDur(p90)), fmtDur(medianDur(p99)), cpuCell, errs)
	}
	fmt.Fprintf(w, "\nMedians of %d rounds; ratios are per round, then the median (min-max in brackets).\n", len(byRound))
	fmt.Fprintf(w, "CPU/req counts the server's user+system CPU per successful request (plus redis-server's for pkjwt-redis, PostgreSQL's for pkjwt-postgres).\n")
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func medianDur(v []time.Duration) time.Duration {
	f := make([]float64, len(v))
	for i, d := range v {
		f[i] = float64(d)
	}
	return time.Duration(median(f))
}

func spread(v []float64) string {
	return fmt.Sprintf("%.2f-%.2f", slices.Min(v), slices.Max(v))
}

// redisServer is a redis-server on a free loopback port, without
// persistence, with the eviction policy redisstore's docs ask for.
type redisServer struct {
	cmd  *exec.Cmd
	addr string
	rdb  *redis.Client // for PING, FLUSHALL and Provision
}

func startRedis(bin, dir string) (*redisServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--maxmemory-policy", "noeviction", "--dir", dir)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &redisServer{cmd: cmd, addr: "127.0.0.1:" + port}
	r.rdb = redis.NewClient(&redis.Options{Addr: r.addr})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		if err := r.rdb.Ping(ctx).Err(); err == nil {
			return r, nil
		}
		select {
		case <-ctx.Done():
			r.stop()
			return nil, fmt.Errorf("redis-server on %s does not answer", r.addr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (r *redisServer) flush() error {
	return r.rdb.FlushAll(context.Background()).Err()
}

// provision tells the replay store that the flushed Redis is new to it
// (redisstore's Store.Provision): the pool's assertions, minted before the
// flush, are not refused as after a loss.
func (r *redisServer) provision() error {
	s, err := redisstore.New(r.rdb, redisstore.Config{CheckInterval: -1})
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Provision(context.Background())
}

func (r *redisServer) stop() {
	r.rdb.Close()
	r.cmd.Process.Kill()
	r.cmd.Wait()
}

// pg is the PostgreSQL of target pkjwt-postgres.
var pg *sqltest.Server

// writeSQLConfig writes a copy of the configuration file base with the
// replay store in PostgreSQL (dsn, table) and returns its path.
func writeSQLConfig(base, name, dsn, table string) (string, error) {
	b, err := os.ReadFile(base)
	if err != nil {
		return "", err
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		return "", err
	}
	cfg["replay"] = map[string]any{"sql": map[string]string{"driver": "pgx", "dsn": dsn, "table": table}}
	if b, err = json.MarshalIndent(cfg, "", "  "); err != nil {
		return "", err
	}
	file := filepath.Join(filepath.Dir(base), name)
	return file, os.WriteFile(file, b, 0o600)
}

// treeCPU sums the CPU time of pids (Linux).
func treeCPU(pids []int) (time.Duration, error) {
	var sum time.Duration
	for _, pid := range pids {
		d, err := procCPU(pid)
		if err != nil && pid == pids[0] {
			return 0, err
		}
		sum += d // a backend that exited meanwhile counts 0
	}
	return sum, nil
}
