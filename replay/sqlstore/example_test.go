package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the driver "sqlite", without cgo

	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/replay/sqlstore"
)

// A store in a SQLite file: migrate once, then every server sharing the
// database claims keys in it. PostgreSQL and MySQL work the same, with
// their driver and dialect.
func Example() {
	dir, err := os.MkdirTemp("", "sqlstore-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "jti.db")+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(wal)")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()

	ctx := context.Background()
	store, err := sqlstore.New(db, sqlstore.SQLite, sqlstore.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		fmt.Println(err)
		return
	}

	// The verifier makes these calls: key is the client-scoped jti, until
	// the assertion's exp plus the leeway.
	until := time.Now().Add(5 * time.Minute)
	for range 2 {
		switch epoch, err := store.Claim(ctx, "2:c1:jti-1", until); {
		case err == nil:
			fmt.Println("first use, epoch zero:", epoch.IsZero())
		case errors.Is(err, replay.ErrReplayed):
			fmt.Println("replay refused")
		default:
			fmt.Println("store unavailable: fail closed")
		}
	}
	// Output:
	// first use, epoch zero: true
	// replay refused
}
