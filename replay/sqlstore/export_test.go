package sqlstore

// StoredKey exposes storedKey to the external tests, which lock a key's
// row by hand.
var StoredKey = storedKey

// BatchStatements returns how many batch statements s has sent.
func BatchStatements(s *Store) int64 { return s.batcher.statements.Load() }

// WaitingClaims returns how many claims of s are queued or in a batch
// statement.
func WaitingClaims(s *Store) int64 { return s.batcher.waiting.Load() }
