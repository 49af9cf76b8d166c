package replay

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestStateLongAfterCrash: a start long after a crash takes the old lease
// as its epoch, not its own start, so that it refuses nothing still valid.
func TestStateLongAfterCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	lease := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	if err := writeState(path, &state{Version: stateVersion, Lease: lease.UnixNano()}); err != nil {
		t.Fatal(err)
	}
	m, err := NewMemory(MemoryConfig{StatePath: path})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !m.Epoch().Equal(lease) {
		t.Fatalf("Epoch = %v, want the old lease %v", m.Epoch(), lease)
	}

	// An epoch from an earlier crash is kept when it is later.
	m.Close()
	later := time.Now().Add(-time.Minute)
	if err := writeState(path, &state{Version: stateVersion, Epoch: later.UnixNano(), Lease: lease.UnixNano()}); err != nil {
		t.Fatal(err)
	}
	m2, err := NewMemory(MemoryConfig{StatePath: path})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if !m2.Epoch().Equal(time.Unix(0, later.UnixNano())) {
		t.Fatalf("Epoch = %v, want the earlier epoch %v", m2.Epoch(), later)
	}
}

// FuzzStateFile: whatever the state file holds, NewMemory neither fails nor
// panics, and the store either loads it or guards from its start; a clean
// file's claims that it loads are claimed.
func FuzzStateFile(f *testing.F) {
	f.Add([]byte(`{"pkjwt_replay_state":1,"clean":true,"epoch":0,"claims":[{"k":"YQ","u":9999999999999999999}]}`))
	f.Add([]byte(`{"pkjwt_replay_state":1,"clean":false,"epoch":5,"lease":7}`))
	f.Add([]byte(`{"pkjwt_replay_state":2}`))
	f.Add([]byte(`{"pkjwt_replay_state":1,"clean":true,"claims":[{"k":"!!","u":1}]}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "state")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		before := time.Now()
		m, err := NewMemory(MemoryConfig{StatePath: path, Shards: 1, MaxEntries: 16})
		if err != nil {
			t.Fatalf("NewMemory: %v", err)
		}
		defer m.Close()
		if m.Epoch().After(time.Now()) {
			t.Fatalf("state %q: Epoch = %v, in the future", data, m.Epoch())
		}
		// Only a clean save can leave the epoch zero.
		if st, err := readStateBytes(data); m.Epoch().IsZero() && (err != nil || !st.Clean) {
			t.Fatalf("state %q (%v): zero epoch without a clean save", data, err)
		}
		if _, err := readStateBytes(data); err != nil && m.Epoch().Before(before) {
			t.Fatalf("unreadable state %q: Epoch = %v, want the start or later", data, m.Epoch())
		}
		if _, err := m.Claim(context.Background(), "fuzz", time.Now().Add(time.Minute)); err != nil && !errors.Is(err, ErrFull) {
			t.Fatalf("Claim after loading %q: %v", data, err)
		}
	})
}

// readStateBytes decodes data as readState decodes a file.
func readStateBytes(data []byte) (*state, error) {
	path := filepath.Join(os.TempDir(), "pkjwt-fuzz-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return nil, err
	}
	defer os.Remove(path)
	return readState(path)
}
