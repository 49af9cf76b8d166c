package sqlstore

import (
	"encoding/hex"
	"errors"
	"testing"
)

// TestStoredKeyStable pins the stored key format: a change would make
// every store forget the claims already in its table (a replay window
// during a rolling upgrade), so it must come with a new version tag and an
// epoch move, never silently.
func TestStoredKeyStable(t *testing.T) {
	// SHA-256("pkjwt/sqlstore/v1\x00" || key), computed independently.
	for key, want := range map[string]string{
		"2:c1:jti-1":               "3bd2a11189cfcba3a1cc2ddae2ce03d6ad64c735076abaa961cd4ced74495ae0",
		"\x00":                     "31cf3a4ee45af908bf1f5f0e25516c8409af932c9f8996cbd058cd0d032b9df3",
		string(make([]byte, 4096)): "e899b202f4a654a2d033aa75a311765d72037a39f55154e208a0b08c7f83ca61",
	} {
		got := hex.EncodeToString(storedKey(key))
		if got != want {
			t.Errorf("storedKey(%.20q) = %s, want %s", key, got, want)
		}
	}
}

// TestDeadlockErrors pins the texts the claim retries on: the deadlock
// errors of go-sql-driver/mysql and pgx, and nothing else.
func TestDeadlockErrors(t *testing.T) {
	for msg, want := range map[string]bool{
		"Error 1213 (40001): Deadlock found when trying to get lock; try restarting transaction": true,
		"ERROR: deadlock detected (SQLSTATE 40P01)":                                              true,
		"ERROR: could not serialize access due to concurrent update (SQLSTATE 40001)":            true,
		"Error 1205 (HY000): Lock wait timeout exceeded; try restarting transaction":             false,
		"ERROR: canceling statement due to statement timeout (SQLSTATE 57014)":                   false,
		"driver: bad connection": false,
	} {
		if got := deadlock(errors.New(msg)); got != want {
			t.Errorf("deadlock(%q) = %v, want %v", msg, got, want)
		}
	}
}
