package redisstore_test

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/replay/redisstore"
	"github.com/redis/go-redis/v9"
)

// This example needs a Redis server, so it is compiled but not run.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{
		Addr: "localhost:6379",
		// Let each claim's deadline bound the socket I/O too.
		ContextTimeoutEnabled: true,
	})
	defer rdb.Close()

	store, err := redisstore.New(rdb, redisstore.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close() // stops its checker goroutine

	// The verifier does this for each assertion, with key = client_id+jti.
	until := time.Now().Add(5 * time.Minute)
	switch _, err := store.Claim(context.Background(), "8:client-1jti-123", until); {
	case err == nil:
		// First use: accept.
	case errors.Is(err, replay.ErrReplayed):
		// Used before: reject with invalid_client.
	default:
		// Redis trouble: fail closed.
		log.Print(err)
	}
}
