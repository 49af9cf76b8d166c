package replay

import (
	"path/filepath"
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
