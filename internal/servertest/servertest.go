// Package servertest holds what the packages that start real server
// processes for tests (internal/redistest, internal/sqltest) share: a free
// loopback port to listen on, and the server's log for error messages.
package servertest

import (
	"fmt"
	"net"
	"os"
)

// FreePort returns a loopback TCP port that was free a moment ago. Another
// process may take it before the caller's server binds it; callers start
// the server and retry on a new port if it fails to bind.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ReadLog returns the contents of the log file name, or a note saying why
// it could not be read, for an error message about a server that failed.
func ReadLog(name string) string {
	b, err := os.ReadFile(name)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return string(b)
}
