package replaytest_test

import (
	"testing"

	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/replay/replaytest"
)

// A custom store proves it meets the replay.Store contract by passing the
// suite, from a test of its own package (here the in-memory store).
func ExampleRun() {
	_ = func(t *testing.T) {
		replaytest.Run(t, func(t *testing.T) replay.Store {
			s, err := replay.NewMemory(replay.MemoryConfig{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	}
}
