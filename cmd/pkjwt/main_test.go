package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// binary is the pkjwt command built by TestMain.
var binary string

// buildFlags are extra flags of the go build in TestMain; -race is added
// when the tests run with -race.
var buildFlags []string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "pkjwt-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// The memory replay store's default state files go here, not into the
	// user's home (serve children inherit it).
	if err := os.Setenv("XDG_STATE_HOME", filepath.Join(dir, "state")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	binary = filepath.Join(dir, "pkjwt")
	args := append([]string{"build", "-o", binary}, buildFlags...)
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build pkjwt:", err)
		return 1
	}
	return m.Run()
}

// result is the outcome of one run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// pkjwt runs the binary with args and stdin (may be empty) in dir (empty:
// a fresh temporary directory) and returns what it did. It fails the test
// if the binary cannot run or takes longer than a minute.
func pkjwt(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return pkjwtIn(t, t.TempDir(), stdin, args...)
}

func pkjwtIn(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	// A race-enabled binary otherwise sleeps a second at exit.
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("pkjwt %s: timed out\n%s\n%s", strings.Join(args, " "), stdout.String(), stderr.String())
	}
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("pkjwt %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// mustRun runs the binary and fails the test unless it exits 0.
func mustRun(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	r := pkjwt(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("pkjwt %s: %v", strings.Join(args, " "), r)
	}
	return r
}
