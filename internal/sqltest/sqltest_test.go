package sqltest

import (
	"net"
	"testing"
	"time"
)

// dial reports whether the server accepts a TCP connection.
func dial(s *Server) error {
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err == nil {
		c.Close()
	}
	return err
}

// TestLifecycle starts each server, stops it, starts it again on the same
// port and closes it; the port is closed whenever the server is down.
func TestLifecycle(t *testing.T) {
	for name, start := range map[string]func(testing.TB) *Server{"postgres": Postgres, "mariadb": MariaDB} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := start(t)
			if err := dial(s); err != nil {
				t.Fatalf("started, but: %v", err)
			}
			s.Stop()
			if err := dial(s); err == nil {
				t.Fatal("stopped, but the port accepts connections")
			}
			if err := s.Start(); err != nil {
				t.Fatal(err)
			}
			if err := dial(s); err != nil {
				t.Fatalf("restarted, but: %v", err)
			}
			s.Close()
			if err := dial(s); err == nil {
				t.Fatal("closed, but the port accepts connections")
			}
			if err := s.Start(); err == nil {
				t.Fatal("Start after Close succeeded")
			}
		})
	}
}
