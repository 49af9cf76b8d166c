package replay_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/replay/replaytest"
)

// helperEnv makes the test binary act as a process that holds a store with
// a state file (see TestMain), so that tests can kill it for real.
const helperEnv = "PKJWT_REPLAY_STATE_HELPER"

func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		os.Exit(runHelper(path))
	}
	os.Exit(m.Run())
}

// runHelper opens a store on path, claims each line of stdin (for an hour)
// and answers "ok", "replayed" or the error, then exits after Close at EOF.
func runHelper(path string) int {
	m, err := replay.NewMemory(replay.MemoryConfig{StatePath: path, HeartbeatInterval: 50 * time.Millisecond})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("ready")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		_, err := m.Claim(context.Background(), sc.Text(), time.Now().Add(time.Hour))
		switch {
		case err == nil:
			fmt.Println("ok")
		case errors.Is(err, replay.ErrReplayed):
			fmt.Println("replayed")
		default:
			fmt.Println("error:", err)
		}
	}
	if err := m.Close(); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	return 0
}

// helper is a running helper process.
type helper struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startHelper(t *testing.T, path string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	h := &helper{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	if got := h.line(t); got != "ready" {
		t.Fatalf("helper: %q, want ready", got)
	}
	return h
}

func (h *helper) line(t *testing.T) string {
	t.Helper()
	if !h.out.Scan() {
		t.Fatalf("helper exited: %v", h.out.Err())
	}
	return h.out.Text()
}

func (h *helper) claim(t *testing.T, key, want string) {
	t.Helper()
	fmt.Fprintln(h.in, key)
	if got := h.line(t); got != want {
		t.Fatalf("helper: Claim(%q) = %q, want %q", key, got, want)
	}
}

func openState(t *testing.T, path string, logger *slog.Logger) *replay.Memory {
	t.Helper()
	m, err := replay.NewMemory(replay.MemoryConfig{StatePath: path, HeartbeatInterval: 50 * time.Millisecond, Logger: logger})
	if err != nil {
		t.Fatalf("NewMemory: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func claimAt(t *testing.T, m *replay.Memory, key string) (time.Time, error) {
	t.Helper()
	return m.Claim(context.Background(), key, time.Now().Add(time.Hour))
}

// syncLog is a log sink safe for the store's goroutines.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLog() (*syncLog, *slog.Logger) {
	l := &syncLog{}
	return l, slog.New(slog.NewTextHandler(l, nil))
}

func TestStateConformance(t *testing.T) {
	dir := t.TempDir()
	n := 0
	var mu sync.Mutex
	replaytest.Run(t, func(t *testing.T) replay.Store {
		mu.Lock()
		n++
		path := filepath.Join(dir, fmt.Sprint(n))
		mu.Unlock()
		return openState(t, path, nil)
	})
}

func TestStateFirstStartThenCleanRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	m, err := replay.NewMemory(replay.MemoryConfig{StatePath: path})
	if err != nil {
		t.Fatal(err)
	}
	epoch, err := claimAt(t, m, "a\x00\xff")
	if err != nil || !epoch.IsZero() {
		t.Fatalf("first start: Claim = %v, %v; want a zero epoch and nil", epoch, err)
	}
	if _, err := m.Claim(context.Background(), "short", time.Now().Add(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	time.Sleep(150 * time.Millisecond) // let "short" expire while stopped

	m2 := openState(t, path, nil)
	if !m2.Epoch().IsZero() {
		t.Fatalf("after a clean restart: Epoch = %v, want zero", m2.Epoch())
	}
	if _, err := claimAt(t, m2, "a\x00\xff"); !errors.Is(err, replay.ErrReplayed) {
		t.Fatalf("claim saved before a clean restart: Claim = %v, want replay.ErrReplayed", err)
	}
	if epoch, err := claimAt(t, m2, "short"); err != nil || !epoch.IsZero() {
		t.Fatalf("claim that expired while stopped: Claim = %v, %v; want a zero epoch and nil", epoch, err)
	}
}

func TestStateSIGKILL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	h := startHelper(t, path)
	h.claim(t, "k1", "ok")
	h.claim(t, "k1", "replayed")
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = h.cmd.Wait()
	killed := time.Now()

	log, logger := newLog()
	m := openState(t, path, logger)
	start := time.Now()
	epoch, err := claimAt(t, m, "k1")
	if err != nil {
		t.Fatalf("after SIGKILL: Claim = %v, want nil (the claim is lost)", err)
	}
	if epoch.Before(killed.Add(-time.Second)) || epoch.After(start) {
		t.Fatalf("after SIGKILL at %v, start at %v: epoch %v, want between the last heartbeat before the kill and the start",
			killed.Format(time.StampMilli), start.Format(time.StampMilli), epoch.Format(time.StampMilli))
	}
	if !strings.Contains(log.String(), "without a clean shutdown") {
		t.Errorf("log does not report the crash:\n%s", log)
	}

	// A clean restart after that keeps the epoch: the lost claims are
	// still unknown.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m2 := openState(t, path, nil)
	if got := m2.Epoch(); !got.Equal(epoch) {
		t.Fatalf("clean restart after a crash: Epoch = %v, want %v", got, epoch)
	}
}

func TestStateSIGTERMLikeExit(t *testing.T) {
	// The helper closes the store at EOF on stdin, as serve does on SIGTERM.
	path := filepath.Join(t.TempDir(), "state")
	h := startHelper(t, path)
	h.claim(t, "k1", "ok")
	h.in.Close()
	if err := h.cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	m := openState(t, path, nil)
	if epoch, err := claimAt(t, m, "k1"); !errors.Is(err, replay.ErrReplayed) || !epoch.IsZero() {
		t.Fatalf("after a clean exit: Claim = %v, %v; want a zero epoch and replay.ErrReplayed", epoch, err)
	}
}

func TestStateLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	openState(t, path, nil)
	if m, err := replay.NewMemory(replay.MemoryConfig{StatePath: path}); err == nil {
		m.Close()
		t.Fatal("second NewMemory on a state path in use: nil error, want an error")
	}
}

func TestStateUnusable(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt")
	if err := os.WriteFile(corrupt, []byte(`{"pkjwt_replay_state":1,"clean":tru`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, path, log string }{
		{"corrupt file", corrupt, "cannot read the state file"},
		{"missing directory", filepath.Join(dir, "no", "such", "dir", "state"), "cannot lock the state file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, logger := newLog()
			before := time.Now()
			m := openState(t, tc.path, logger)
			if m.Epoch().Before(before) || m.Epoch().After(time.Now()) {
				t.Fatalf("Epoch = %v, want the store's start (guard from start)", m.Epoch())
			}
			if epoch, err := claimAt(t, m, "k"); err != nil || !epoch.Equal(m.Epoch()) {
				t.Fatalf("Claim = %v, %v; want the start epoch and nil", epoch, err)
			}
			if !strings.Contains(log.String(), tc.log) {
				t.Errorf("log does not say %q:\n%s", tc.log, log)
			}
		})
	}
}

func TestStateLeaseNotRenewed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	log, logger := newLog()
	m := openState(t, path, logger)
	if _, err := claimAt(t, m, "before"); err != nil {
		t.Fatal(err)
	}
	// A directory where the store writes its new state makes every renewal
	// fail, even for root.
	if err := os.Mkdir(path+".tmp", 0o700); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	var err error
	for err == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		_, err = claimAt(t, m, fmt.Sprint("during-", time.Now().UnixNano()))
	}
	if err == nil || errors.Is(err, replay.ErrReplayed) {
		t.Fatalf("Claim while the state file cannot be renewed = %v, want an error not wrapping replay.ErrReplayed", err)
	}
	if !strings.Contains(log.String(), "cannot renew the state file") {
		t.Errorf("log does not report the failed renewal:\n%s", log)
	}
	if err := os.Remove(path + ".tmp"); err != nil {
		t.Fatal(err)
	}
	for {
		_, err = claimAt(t, m, fmt.Sprint("after-", time.Now().UnixNano()))
		if err == nil {
			break
		}
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatalf("Claim still refused after the state file became writable: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkClaimDetection compares, in one run, the claim of a store that
// detects a crash (a state file: a lease check per claim, a heartbeat
// every second) with today's claim of a store without one, in the steady
// mode of BenchmarkMemoryClaim (default sharding, parallel goroutines).
func BenchmarkClaimDetection(b *testing.B) {
	dir := b.TempDir()
	n := 0
	for _, tc := range []struct {
		name  string
		state bool
	}{{"no-state", false}, {"state-file", true}} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := replay.MemoryConfig{MaxEntries: 1 << 30, CleanupInterval: -1}
			if tc.state {
				n++
				cfg.StatePath = filepath.Join(dir, fmt.Sprint(n))
			}
			m, err := replay.NewMemory(cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = m.Close() })
			cpu := processCPU()
			benchSteady(b, m.Claim)
			b.StopTimer()
			// On a shared machine, wall time per claim mostly measures the
			// neighbours; the process's CPU time per claim much less so.
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU returns the user+system CPU time of this process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
