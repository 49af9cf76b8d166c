// Package redistest starts throwaway redis-server processes for tests.
//
// Each server listens on a free loopback port, keeps nothing on disk and is
// killed when the test that started it ends. It speaks to the server only
// through raw RESP, so importing it adds no Redis client to a package.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/internal/servertest"
)

// startTimeout bounds how long Start and Restart wait for a server to
// answer.
const startTimeout = 10 * time.Second

// Server is a redis-server process owned by one test.
//
// Its methods are safe for concurrent use, but a test normally drives it from
// one goroutine.
type Server struct {
	tb    testing.TB
	bin   string
	dir   string
	port  int
	extra []string // more redis-server arguments
	conf  string   // a configuration file, given first (Sentinel needs one)

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
}

// Start starts a redis-server on a free loopback port, waits until it
// answers and registers a cleanup that kills it when tb ends.
//
// Start skips the test, saying so, when no redis-server is on the PATH (on
// Debian: apt-get install redis-server), except under CI (the CI
// environment variable set), where that fails the test. Any other failure
// is fatal.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return StartArgs(tb)
}

// StartArgs is [Start] with more redis-server arguments, such as
// "--maxmemory-policy", "allkeys-lru". Relative paths in them are relative
// to the server's own directory, which a restart keeps.
func StartArgs(tb testing.TB, args ...string) *Server {
	tb.Helper()
	return startConf(tb, "", args...)
}

// startConf is StartArgs with a configuration file, written into the
// server's directory from conf unless conf is empty.
func startConf(tb testing.TB, conf string, args ...string) *Server {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			// .ci/run installs redis-server: in CI a missing binary is a
			// broken setup, never a reason to skip.
			tb.Fatalf("redistest: redis-server not found on PATH in CI (%v)", err)
		}
		tb.Skipf("redistest: redis-server not found on PATH (%v); install it (apt-get install redis-server) to run this test", err)
	}
	s := &Server{tb: tb, bin: bin, dir: tb.TempDir(), extra: args}
	if conf != "" {
		s.conf = filepath.Join(s.dir, "redis.conf")
		if err := os.WriteFile(s.conf, []byte(conf), 0o600); err != nil {
			tb.Fatalf("redistest: %v", err)
		}
	}
	tb.Cleanup(s.Stop)

	// A free port can be taken by someone else between our probe and the
	// server's bind, so try a few.
	for attempt := 1; ; attempt++ {
		s.port, err = servertest.FreePort()
		if err != nil {
			tb.Fatalf("redistest: %v", err)
		}
		if err = s.start(); err == nil {
			return s
		}
		if attempt == 5 {
			tb.Fatalf("redistest: %v", err)
		}
	}
}

// Addr returns the server's host:port.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// Stop kills the server and waits for it to exit. The data it held is lost.
// Stop on a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

// Restart stops the server if it runs, then starts a new, empty one on the
// same port and waits until it answers. A failure is fatal to the test.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	// The port was ours a moment ago; allow a little time for it to be
	// released before giving up.
	deadline := time.Now().Add(startTimeout)
	for {
		err := s.start()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("redistest: restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *Server) stopLocked() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd, s.exited = nil, nil
}

// start launches redis-server on s.port and waits until it answers.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	logFile := filepath.Join(s.dir, "redis.log")
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--logfile", logFile,
	)
	cmd.Args = append(cmd.Args, s.extra...)
	if s.conf != "" {
		cmd.Args = slices.Insert(cmd.Args, 1, s.conf)
	}
	cmd.Dir = s.dir
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited

	deadline := time.Now().Add(startTimeout)
	for {
		err := ping(s.Addr(), cmd.Process.Pid)
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			s.cmd, s.exited = nil, nil
			return fmt.Errorf("redis-server on port %d exited: %v; log:\n%s", s.port, err, servertest.ReadLog(logFile))
		default:
		}
		if time.Now().After(deadline) {
			s.stopLocked()
			return fmt.Errorf("redis-server on port %d did not answer within %v: %v; log:\n%s", s.port, startTimeout, err, servertest.ReadLog(logFile))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ping asks the server on addr for its process id, over a fresh
// connection, and checks that it is pid: another test's server may have taken
// the port first, and would answer a plain PING just as well.
func ping(addr string, pid int) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	if _, err := conn.Write([]byte("INFO server\r\n")); err != nil {
		return err
	}
	r := bufio.NewReader(conn)
	header, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(header, "$")))
	if !strings.HasPrefix(header, "$") || err != nil || n < 0 || n > 1<<20 {
		return errors.New("unexpected reply to INFO: " + strconv.Quote(header))
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return err
	}
	want := "process_id:" + strconv.Itoa(pid)
	for line := range strings.Lines(string(body)) {
		if strings.TrimSpace(line) == want {
			return nil
		}
	}
	return fmt.Errorf("the server on %s is not the one started (want %s)", addr, want)
}
