package redistest_test

import (
	"testing"

	"github.com/pkjwt/pkjwt/internal/redistest"
)

// A test starts its own server and points its client at Addr; the server
// is killed when the test ends. Stop, Restart, Pause and Resume simulate
// outages.
func ExampleStart() {
	_ = func(t *testing.T) {
		srv := redistest.Start(t) // skips, saying so, without redis-server (fails under CI)
		_ = srv.Addr()            // "127.0.0.1:PORT", for redis.Options.Addr
		srv.Stop()                // the backend goes away: claims must fail closed
		srv.Restart()             // same port, empty data
	}
}
