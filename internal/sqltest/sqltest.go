// Package sqltest starts throwaway PostgreSQL and MariaDB servers for tests
// and benchmarks.
//
// Each server gets a fresh data directory under the system temporary
// directory, listens on a free loopback port only (no Unix socket in a
// shared place), and runs in a process group of its own, so that Stop,
// Pause and Resume reach the server and every backend process it forked.
// Started as root, the server runs as the unprivileged user nobody (both
// servers refuse to run as root). It speaks to the servers through no
// client library: readiness is read from the files the servers write.
package sqltest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/internal/servertest"
)

// startTimeout bounds how long a start waits for the server to accept
// connections.
const startTimeout = 60 * time.Second

// Server is a database server process with its own data directory.
//
// Stop and Start keep the data directory, as a crash and a restart of a real
// server would. Its methods are safe for concurrent use.
type Server struct {
	kind string // "postgres" or "mariadb"
	bin  string // postgres or mariadbd
	dir  string // removed by Close
	data string
	port int
	uid  int // -1: run as the current user
	gid  int

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	closed  bool
	backups int
}

// Postgres starts a PostgreSQL server for tb, as [StartPostgres], and
// closes it when tb ends. It skips the test, saying so, when PostgreSQL is
// not installed (on Debian: apt-get install postgresql), except under CI
// (the CI environment variable set), where that fails the test. Any other
// failure is fatal.
func Postgres(tb testing.TB) *Server {
	tb.Helper()
	return forTest(tb, "postgresql", StartPostgres)
}

// MariaDB starts a MariaDB server for tb, as [StartMariaDB], and closes it
// when tb ends. It skips the test, saying so, when MariaDB is not installed
// (on Debian: apt-get install mariadb-server), except under CI, where that
// fails the test. Any other failure is fatal.
func MariaDB(tb testing.TB) *Server {
	tb.Helper()
	return forTest(tb, "mariadb-server", StartMariaDB)
}

func forTest(tb testing.TB, pkg string, start func() (*Server, error)) *Server {
	tb.Helper()
	s, err := start()
	var nf *notInstalledError
	switch {
	case errors.As(err, &nf) && os.Getenv("CI") != "":
		// .ci/run installs the servers: in CI a missing binary is a broken
		// setup, never a reason to skip.
		tb.Fatalf("sqltest: %v in CI", err)
	case errors.As(err, &nf):
		tb.Skipf("sqltest: %v; install it (apt-get install %s) to run this test", err, pkg)
	case err != nil:
		tb.Fatalf("sqltest: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// notInstalledError reports a server binary that is not installed.
type notInstalledError struct{ what string }

func (e *notInstalledError) Error() string { return e.what + " not found" }

// StartPostgres creates a PostgreSQL cluster (initdb, superuser postgres,
// trust authentication on loopback) in a new temporary directory and starts
// it on a free loopback port. The caller must Close the server.
func StartPostgres() (*Server, error) {
	initdb, err := findPostgres("initdb")
	if err != nil {
		return nil, err
	}
	s, err := newServer("postgres", filepath.Join(filepath.Dir(initdb), "postgres"))
	if err != nil {
		return nil, err
	}
	if err := s.setup(initdb, "-D", s.data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"); err != nil {
		return nil, err
	}
	return s, s.startFresh()
}

// StartMariaDB creates a MariaDB data directory (mariadb-install-db; root
// without a password) in a new temporary directory, starts the server on a
// free loopback port and creates the database pkjwt. The caller must Close
// the server.
func StartMariaDB() (*Server, error) {
	bin, err := find("mariadbd", "/usr/sbin/mariadbd")
	if err != nil {
		return nil, err
	}
	install, err := find("mariadb-install-db", "/usr/bin/mariadb-install-db")
	if err != nil {
		return nil, err
	}
	s, err := newServer("mariadb", bin)
	if err != nil {
		return nil, err
	}
	if err := s.setup(install, "--no-defaults", "--datadir="+s.data, "--auth-root-authentication-method=normal",
		"--skip-test-db", "--skip-name-resolve"); err != nil {
		return nil, err
	}
	// The database the DSN names; mariadbd runs the file at start-up.
	initFile := filepath.Join(s.dir, "init.sql")
	if err := os.WriteFile(initFile, []byte("CREATE DATABASE IF NOT EXISTS pkjwt;\n"), 0o644); err != nil {
		s.Close()
		return nil, err
	}
	return s, s.startFresh()
}

func newServer(kind, bin string) (*Server, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, &notInstalledError{what: bin}
	}
	dir, err := os.MkdirTemp("", "sqltest-"+kind+"-")
	if err != nil {
		return nil, err
	}
	s := &Server{kind: kind, bin: bin, dir: dir, data: filepath.Join(dir, "data"), uid: -1, gid: -1}
	if os.Geteuid() == 0 {
		s.uid, s.gid = 65534, 65534
		if u, err := user.Lookup("nobody"); err == nil {
			s.uid, _ = strconv.Atoi(u.Uid)
			s.gid, _ = strconv.Atoi(u.Gid)
		}
		if err := os.Chown(dir, s.uid, s.gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	return s, nil
}

// setup runs an initialisation command as the server's user.
func (s *Server) setup(bin string, args ...string) error {
	cmd := exec.Command(bin, args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "HOME="+s.dir)
	cmd.SysProcAttr = sysProcAttr(s.uid, s.gid)
	if out, err := cmd.CombinedOutput(); err != nil {
		s.Close()
		return fmt.Errorf("%s: %v\n%s", filepath.Base(bin), err, out)
	}
	return nil
}

// startFresh starts the server on a free port, trying another port if the
// one found is taken before the server binds it.
func (s *Server) startFresh() error {
	var err error
	for range 5 {
		if s.port, err = servertest.FreePort(); err != nil {
			break
		}
		if err = s.Start(); err == nil {
			return nil
		}
		if !strings.Contains(err.Error(), "in use") {
			break
		}
	}
	s.Close()
	return err
}

// Addr returns the server's host:port.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// DSN returns a data source name for the server: for PostgreSQL a URL for
// the pgx driver (database postgres, user postgres), for MariaDB a DSN for
// github.com/go-sql-driver/mysql (database pkjwt, user root), both without
// options, so that a query string may follow.
func (s *Server) DSN() string {
	if s.kind == "postgres" {
		return "postgres://postgres@" + s.Addr() + "/postgres"
	}
	return "root@tcp(" + s.Addr() + ")/pkjwt"
}

// Start starts the stopped server again, on the same port and with the same
// data, and waits until it accepts connections. Start on a running server
// does nothing.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return errors.New("sqltest: server closed")
	case s.cmd != nil:
		return nil
	}
	deadline := time.Now().Add(startTimeout)
	for {
		err := s.startLocked(deadline)
		// A crashed PostgreSQL refuses to start while a killed backend still
		// holds its shared memory; that lasts a moment.
		if err == nil || !strings.Contains(err.Error(), "still in use") || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *Server) startLocked(deadline time.Time) error {
	logFile := filepath.Join(s.dir, "server.log")
	if err := os.WriteFile(logFile, nil, 0o666); err != nil {
		return err
	}
	if s.uid >= 0 {
		if err := os.Chown(logFile, s.uid, s.gid); err != nil {
			return err
		}
	}
	// fsync off and the like lose data only when the machine crashes, not
	// when the server is killed: a Stop keeps every committed row, as the
	// fault tests expect. (synchronous_commit=off would lose the newest
	// commits on a kill.)
	var args []string
	if s.kind == "postgres" {
		args = []string{"-D", s.data, "-p", strconv.Itoa(s.port),
			"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
			"-c", "fsync=off", "-c", "full_page_writes=off",
			"-c", "max_connections=200", "-c", "shared_buffers=32MB",
			"-c", "logging_collector=off"}
	} else {
		args = []string{"--no-defaults", "--datadir=" + s.data, "--port=" + strconv.Itoa(s.port),
			"--bind-address=127.0.0.1", "--socket=" + filepath.Join(s.dir, "mariadb.sock"),
			"--pid-file=" + filepath.Join(s.dir, "mariadb.pid"), "--log-error=" + logFile,
			"--init-file=" + filepath.Join(s.dir, "init.sql"),
			"--skip-log-bin", "--skip-name-resolve", "--innodb-buffer-pool-size=64M",
			"--innodb-flush-log-at-trx-commit=2", "--innodb-doublewrite=0", "--max-connections=200"}
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.SysProcAttr = sysProcAttr(s.uid, s.gid)
	if s.kind == "postgres" {
		f, err := os.OpenFile(logFile, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.kind, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited
	for {
		if s.ready(logFile) {
			return nil
		}
		select {
		case <-exited:
			s.cmd, s.exited = nil, nil
			return fmt.Errorf("%s on port %d exited; log:\n%s", s.kind, s.port, servertest.ReadLog(logFile))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stopLocked()
			return fmt.Errorf("%s on port %d not ready within %v; log:\n%s", s.kind, s.port, startTimeout, servertest.ReadLog(logFile))
		}
	}
}

// ready reports whether the server has bound its port and accepts
// connections. Both servers say so only after binding, and exit when the
// port is taken, so a foreign server on the port is never mistaken for ours.
func (s *Server) ready(logFile string) bool {
	if s.kind == "postgres" {
		// postmaster.pid: line 1 the pid, line 4 the port, line 8 the status.
		b, err := os.ReadFile(filepath.Join(s.data, "postmaster.pid"))
		lines := strings.Split(string(b), "\n")
		return err == nil && len(lines) >= 8 && strings.TrimSpace(lines[0]) == strconv.Itoa(s.cmd.Process.Pid) &&
			strings.TrimSpace(lines[3]) == strconv.Itoa(s.port) && strings.TrimSpace(lines[7]) == "ready"
	}
	return strings.Contains(servertest.ReadLog(logFile), "ready for connections")
}

// Stop kills the server and every process of its group (SIGKILL, as a
// crash would) and waits for the server to exit. Clients see their
// connections drop and new ones refused. Stop on a stopped server does
// nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

func (s *Server) stopLocked() {
	if s.cmd == nil {
		return
	}
	killGroup(s.cmd.Process.Pid)
	<-s.exited
	s.cmd, s.exited = nil, nil
}

// Pids returns the process ids of the running server: the server and, on
// Linux, every process it forked (PostgreSQL's backends), for reading their
// CPU time. It returns nil for a stopped server.
func (s *Server) Pids() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	return tree(s.cmd.Process.Pid)
}

// Backup copies the data directory of the stopped server (a cold backup)
// and returns the copy's path, for [Server.Restore].
func (s *Server) Backup() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return "", errors.New("sqltest: backup of a running server")
	}
	s.backups++
	dst := filepath.Join(s.dir, "backup-"+strconv.Itoa(s.backups))
	if out, err := exec.Command("cp", "-a", s.data, dst).CombinedOutput(); err != nil {
		return "", fmt.Errorf("sqltest: backup: %v: %s", err, out)
	}
	return dst, nil
}

// Restore replaces the data directory of the stopped server with a copy of
// backup: the server forgets everything written since.
func (s *Server) Restore(backup string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("sqltest: restore of a running server")
	}
	if err := os.RemoveAll(s.data); err != nil {
		return err
	}
	if out, err := exec.Command("cp", "-a", backup, s.data).CombinedOutput(); err != nil {
		return fmt.Errorf("sqltest: restore: %v: %s", err, out)
	}
	return nil
}

// Pause freezes the server and its backends (SIGSTOP to its process group):
// connections stay open but nothing answers, as with a hung server. Resume
// undoes it; Stop and Close also end a paused server.
func (s *Server) Pause() error { return s.signalGroup(true) }

// Resume lets a paused server run again (SIGCONT).
func (s *Server) Resume() error { return s.signalGroup(false) }

func (s *Server) signalGroup(stop bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return errors.New("sqltest: server not running")
	}
	return signalGroup(s.cmd.Process.Pid, stop)
}

// Close stops the server and removes its data directory. It always
// returns nil; calling it again does nothing.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.stopLocked()
	// Killed backends may still be exiting; their files go with the rest.
	for range 50 {
		if err := os.RemoveAll(s.dir); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// find returns the path of the program name, looking in PATH, then at
// fallback (sbin directories are often missing from PATH).
func find(name, fallback string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if _, err := os.Stat(fallback); err == nil {
		return fallback, nil
	}
	return "", &notInstalledError{what: name}
}

// findPostgres finds a PostgreSQL program in PATH or, as Debian installs
// them, in the newest /usr/lib/postgresql/*/bin.
func findPostgres(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if p := filepath.Join(d, name); fileExists(p) {
			return p, nil
		}
	}
	return "", &notInstalledError{what: name}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
