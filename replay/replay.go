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
	// Claim atomically records key as used until the time until, and
	// returns the store's epoch as observed by this claim: the time from
	// which the store's memory of claims is complete. A zero epoch means
	// complete since forever. A store that may have lost claims (a restart
	// without its data, a flush, an eviction, a failover) moves its epoch
	// forward to no earlier than the last moment a lost claim could have
	// been made; the caller then refuses whatever may have been claimed
	// before the epoch.
	//
	// It returns a nil error when key was not claimed before (or its
	// earlier claim has expired); exactly one of any number of concurrent
	// Claim calls for the same key returns nil. It returns an error wrapping
	// ErrReplayed when key is still claimed, and any other error when it
	// could not decide (backend unreachable, ctx done, store full). Callers
	// MUST treat every non-nil error as a rejection; the epoch is meaningful
	// only with a nil error.
	Claim(ctx context.Context, key string, until time.Time) (epoch time.Time, err error)
}

// ErrReplayed is returned (wrapped) by [Store.Claim] when the key is still
// claimed: the assertion it stands for was used before.
var ErrReplayed = errors.New("replay: key already claimed")

// ErrFull is returned (wrapped) by a bounded store that cannot record a new
// claim without evicting unexpired ones, which would reopen replay windows.
var ErrFull = errors.New("replay: store full")
