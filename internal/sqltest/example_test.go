package sqltest_test

import (
	"testing"

	"github.com/pkjwt/pkjwt/internal/sqltest"
)

// A test starts its own server and opens it with the DSN; the server is
// killed and its data removed when the test ends. Stop, Start, Pause and
// Resume simulate outages.
func ExamplePostgres() {
	_ = func(t *testing.T) {
		pg := sqltest.Postgres(t) // skips, saying so, without PostgreSQL (fails under CI)
		_ = pg.DSN()              // "postgres://postgres@127.0.0.1:PORT/postgres", for the pgx driver
		pg.Stop()                 // a crash: connections drop, claims must fail closed
		if err := pg.Start(); err != nil {
			t.Fatal(err) // same port, same data
		}
	}
}
