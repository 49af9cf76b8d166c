package replay

import (
	"context"
	"errors"
	"time"
)

// Store records single-use keys, such as a client's assertion jti.
//
// [Memory] keeps claims in process memory; package replay/redisstore keeps
// them in Redis, shared by every node of a cluster. Implementations must be
// safe for concurrent use. See the package documentation for the contract a
// custom backend must meet; package replay/replaytest checks it.
type Store interface {
	// Claim atomically records key as used until the time until.
	//
	// It returns nil when key was not claimed before (or its earlier claim
	// has expired); exactly one of any number of concurrent Claim calls for
	// the same key returns nil. It returns an error wrapping ErrReplayed when
	// key is still claimed, and any other error when it could not decide
	// (backend unreachable, ctx done, store full). Callers MUST treat every
	// non-nil error as a rejection.
	Claim(ctx context.Context, key string, until time.Time) error
}

// ErrReplayed is returned (wrapped) by [Store.Claim] when the key is still
// claimed: the assertion it stands for was used before.
var ErrReplayed = errors.New("replay: key already claimed")

// ErrFull is returned (wrapped) by a bounded store that cannot record a new
// claim without evicting unexpired ones, which would reopen replay windows.
var ErrFull = errors.New("replay: store full")
