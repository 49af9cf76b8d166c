package replay_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/pkjwt/pkjwt/replay"
)

func ExampleNewMemory() {
	store, err := replay.NewMemory(replay.MemoryConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	// The verifier claims client_id+jti until the assertion's exp plus the
	// leeway, after every other check has passed.
	ctx := context.Background()
	key := "8:client-1jti-0a1b2c"
	until := time.Now().Add(5 * time.Minute)

	_, err = store.Claim(ctx, key, until)
	fmt.Println("first use:", err)

	_, err = store.Claim(ctx, key, until)
	fmt.Println("second use replayed:", errors.Is(err, replay.ErrReplayed))

	// Output:
	// first use: <nil>
	// second use replayed: true
}

func ExampleMemoryConfig() {
	// A store for at most 10,000 live claims, cleaned every 10 seconds.
	store, err := replay.NewMemory(replay.MemoryConfig{
		MaxEntries:      10_000,
		CleanupInterval: 10 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	_, err = store.Claim(context.Background(), "8:client-1jti-0a1b2c", time.Now().Add(time.Minute))
	fmt.Println(err)

	store.Close()
	_, err = store.Claim(context.Background(), "8:client-1jti-3d4e5f", time.Now().Add(time.Minute))
	fmt.Println(errors.Is(err, replay.ErrClosed))

	// Output:
	// <nil>
	// true
}

// A store with a state file keeps its claims across a graceful restart.
func ExampleMemoryConfig_statePath() {
	dir, err := os.MkdirTemp("", "replay-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := replay.MemoryConfig{StatePath: filepath.Join(dir, "replay.state")}
	ctx := context.Background()
	until := time.Now().Add(time.Minute)

	store, err := replay.NewMemory(cfg) // first start: no file yet
	if err != nil {
		log.Fatal(err)
	}
	epoch, err := store.Claim(ctx, "8:client-1jti-0a1b2c", until)
	fmt.Println("first use:", err, "epoch zero:", epoch.IsZero())
	if err := store.Close(); err != nil { // saves the live claims
		log.Fatal(err)
	}

	store, err = replay.NewMemory(cfg) // the restarted process
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	_, err = store.Claim(ctx, "8:client-1jti-0a1b2c", until)
	fmt.Println("after a restart, replayed:", errors.Is(err, replay.ErrReplayed))

	// Output:
	// first use: <nil> epoch zero: true
	// after a restart, replayed: true
}
