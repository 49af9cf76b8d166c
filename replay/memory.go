package replay

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/patrickmn/go-cache"
)

// Defaults for the zero fields of a [MemoryConfig].
const (
	DefaultMaxEntries      = 1_000_000
	DefaultShards          = 32
	DefaultCleanupInterval = time.Minute

	// DefaultHeartbeatInterval is how often a store with a state file
	// renews it while it runs.
	DefaultHeartbeatInterval = time.Second
)

// fullSweepBackoff is how long a full shard refuses claims without looking
// for expired entries again, after a sweep found none. It keeps a flood of
// claims against a full shard from turning into a flood of O(n) sweeps, at
// the price of refusing for at most this long a claim that could fit.
const fullSweepBackoff = 100 * time.Millisecond

// ErrClosed is returned by [Memory.Claim] after [Memory.Close].
var ErrClosed = errors.New("replay: store closed")

var (
	errEmptyKey   = errors.New("replay: empty key")
	errZeroUntil  = errors.New("replay: zero until time")
	errStateInUse = errors.New("replay: state file locked by another process")
	errLease      = errors.New("replay: state file not renewed in time: refusing claims that a crash could lose unnoticed")
)

// MemoryConfig configures [NewMemory]. The zero value is ready to use.
type MemoryConfig struct {
	// MaxEntries bounds the number of claims held at once, counting expired
	// ones not yet deleted. The keys are spread over the shards and each shard
	// holds its share; when the shard of a new key is full even after its
	// expired claims are deleted, Claim refuses with ErrFull rather than
	// forget an unexpired claim. Size it above the peak number of assertions
	// per MaxLifetime (plus leeway) of the verifier.
	//
	// Zero means DefaultMaxEntries. Negative is an error.
	MaxEntries int

	// Shards is the number of independently locked parts the keys are spread
	// over (by a keyed hash, so clients cannot aim at one). More shards mean
	// less lock contention between concurrent claims; 1 gives a single lock.
	//
	// Zero means DefaultShards. Values above MaxEntries are lowered to
	// MaxEntries. Negative is an error.
	Shards int

	// CleanupInterval is how often a background goroutine deletes expired
	// claims.
	//
	// Zero means DefaultCleanupInterval. Negative disables the goroutine:
	// expired claims then stay in memory until their shard is full.
	CleanupInterval time.Duration

	// StatePath names a file (and, with ".lock" and ".tmp" appended, two
	// more beside it) in which the store keeps what lets it survive a
	// restart of the process; see [Memory] for what it guarantees. The
	// directory must exist; one path serves one store of one process at a
	// time.
	//
	// Empty means no state file: every process starts with an empty store
	// and a zero epoch, so a restart silently reopens the claims of the
	// last MaxLifetime. Use that only where one process lifetime is all
	// that matters (tests, one-shot tools).
	StatePath string

	// HeartbeatInterval is how often a store with a StatePath renews the
	// lease in its file while it runs; a lease lasts 30 intervals, and
	// claims stop when one interval is left without a renewal. After a
	// crash the store moves its epoch to its restart, or to the end of the
	// last lease if that is sooner.
	//
	// Zero means DefaultHeartbeatInterval. Negative is an error.
	HeartbeatInterval time.Duration

	// Logger receives what the store finds in its state file at start (a
	// clean shutdown, a crash, a first start) and failures to write it.
	//
	// Nil discards them.
	Logger *slog.Logger
}

// Memory is a [Store] that keeps claims in process memory, built on
// go-cache's atomic Add. It suits a single server: behind a load balancer each
// node would accept an assertion once, so a cluster needs a shared store such
// as package replay/redisstore.
//
// Without a state file (MemoryConfig.StatePath) claims are lost when the
// process exits and the epoch is always zero. With one:
//
//   - A graceful stop ([Memory.Close]) saves every live claim, and the next
//     start loads them back: nothing is lost, the epoch does not move.
//   - While the store runs, a heartbeat renews a lease in the file every
//     HeartbeatInterval (written and synced to disk before it counts);
//     the store refuses claims when its lease runs short, so every claim
//     it accepted lies before the lease on disk. A start that finds a lease
//     instead of a clean save knows the process died (SIGKILL, a crash, a
//     power loss) and sets its epoch to the earlier of that lease and its
//     own start: assertions that may have been used before are refused by
//     the verifier, fresh ones pass.
//   - A first start (no file) has a zero epoch: nothing is refused. A
//     start long after a crash (more than the lease, 30 heartbeat
//     intervals, plus MaxLifetime plus twice the leeway of the verifier)
//     refuses nothing valid either, as every assertion issued before the
//     old lease has expired by then.
//   - A state file that cannot be read, or written at start, makes the
//     store guard from its own start (epoch = start time) and log why; it
//     still runs. A lock on StatePath+".lock" keeps a second process from
//     using the same path: NewMemory then fails.
//
// The epoch a store reports does not change while it runs.
//
// Memory is safe for concurrent use. It runs a cleanup goroutine and, with a
// state file, a heartbeat goroutine; call [Memory.Close] to stop them.
type Memory struct {
	seed   maphash.Seed
	shards []shard

	epoch  time.Time
	logger *slog.Logger

	// With a usable state file: its path, the lock held on it, and the
	// time (monotonic) from which claims are refused for want of a renewed
	// lease.
	statePath string
	lockFile  *os.File
	lease     atomic.Pointer[time.Time]

	closed    atomic.Bool
	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

var _ Store = (*Memory)(nil)

// shard is one independently locked part of a Memory.
type shard struct {
	// mu makes the capacity check and the Add one step, so that concurrent
	// claims cannot overfill the shard. go-cache's own lock still guards
	// items against the cleanup goroutine, which does not take mu.
	mu            sync.Mutex
	items         *cache.Cache
	max           int
	noSweepBefore time.Time // guarded by mu

	_ [64]byte // keep hot fields of neighbouring shards off one cache line
}

// NewMemory returns an in-memory store configured by cfg and starts its
// cleanup goroutine (unless cfg.CleanupInterval is negative). It returns an
// error if cfg.MaxEntries or cfg.Shards is negative.
func NewMemory(cfg MemoryConfig) (*Memory, error) {
	switch {
	case cfg.MaxEntries < 0:
		return nil, fmt.Errorf("replay: negative MaxEntries %d", cfg.MaxEntries)
	case cfg.Shards < 0:
		return nil, fmt.Errorf("replay: negative Shards %d", cfg.Shards)
	case cfg.HeartbeatInterval < 0:
		return nil, fmt.Errorf("replay: negative HeartbeatInterval %v", cfg.HeartbeatInterval)
	}
	maxEntries := cfg.MaxEntries
	if maxEntries == 0 {
		maxEntries = DefaultMaxEntries
	}
	n := cfg.Shards
	if n == 0 {
		n = DefaultShards
	}
	n = min(n, maxEntries)
	cleanup := cfg.CleanupInterval
	if cleanup == 0 {
		cleanup = DefaultCleanupInterval
	}

	m := &Memory{
		seed:   maphash.MakeSeed(),
		shards: make([]shard, n),
		done:   make(chan struct{}),
		logger: cfg.Logger,
	}
	if m.logger == nil {
		m.logger = slog.New(slog.DiscardHandler)
	}
	for i := range m.shards {
		// No expiry by default and no go-cache janitor: every Add passes its
		// own lifetime, and our goroutine, which Close can stop, cleans up.
		m.shards[i].items = cache.New(cache.NoExpiration, 0)
		m.shards[i].max = maxEntries / n
		if i < maxEntries%n {
			m.shards[i].max++
		}
	}
	if cfg.StatePath != "" {
		heartbeat := cfg.HeartbeatInterval
		if heartbeat == 0 {
			heartbeat = DefaultHeartbeatInterval
		}
		if err := m.openState(cfg.StatePath, heartbeat); err != nil {
			return nil, err
		}
	}
	if cleanup > 0 {
		m.wg.Go(func() { m.janitor(cleanup) })
	}
	return m, nil
}

// Claim records key as used until the time until; see [Store.Claim].
//
// It returns the store's epoch (see [Memory.Epoch]) and a nil error for the
// first claim, [ErrReplayed] while key is claimed, [ErrFull] when key's
// shard is full of unexpired claims, [ErrClosed] after Close, the ctx error
// (wrapped) when ctx is done, an error when the state file's lease could not
// be renewed in time, and an error for an empty key or a zero until. An
// until in the past records nothing: Claim reports ErrReplayed if key is
// still claimed from before, nil otherwise.
func (m *Memory) Claim(ctx context.Context, key string, until time.Time) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return m.epoch, fmt.Errorf("replay: claim: %w", err)
	}
	if key == "" {
		return m.epoch, errEmptyKey
	}
	if until.IsZero() {
		return m.epoch, errZeroUntil
	}
	now := time.Now()
	if lease := m.lease.Load(); lease != nil && !now.Before(*lease) {
		return m.epoch, errLease
	}
	// go-cache computes the expiry as its own time.Now() plus ttl, a little
	// later than here, so the claim outlives until.
	return m.epoch, m.shard(key).claim(key, until.Sub(now), &m.closed)
}

// Epoch returns the store's epoch: the time from which its memory of claims
// is complete. It is zero without a state file, and after a first start or a
// clean restart that followed only clean restarts; see [Memory].
func (m *Memory) Epoch() time.Time { return m.epoch }

func (m *Memory) shard(key string) *shard {
	if len(m.shards) == 1 {
		return &m.shards[0]
	}
	return &m.shards[maphash.String(m.seed, key)%uint64(len(m.shards))]
}

func (s *shard) claim(key string, ttl time.Duration, closed *atomic.Bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Checked under the lock: Close saves each shard under its lock after
	// setting closed, so a claim is either saved or refused.
	if closed.Load() {
		return ErrClosed
	}
	if ttl <= 0 {
		// Nothing to remember, but a live claim must still be reported.
		// go-cache's Get ignores expired items.
		if _, found := s.items.Get(key); found {
			return ErrReplayed
		}
		return nil
	}
	if s.items.ItemCount() >= s.max {
		// ItemCount includes expired items the cleanup has not reached yet.
		if _, found := s.items.Get(key); found {
			return ErrReplayed
		}
		now := time.Now()
		if now.Before(s.noSweepBefore) {
			return ErrFull
		}
		s.items.DeleteExpired()
		if s.items.ItemCount() >= s.max {
			s.noSweepBefore = now.Add(fullSweepBackoff)
			return ErrFull
		}
	}
	// Add fails only if an unexpired item holds key; its error text
	// would echo the key, so it is not passed on.
	if s.items.Add(key, struct{}{}, ttl) != nil {
		return ErrReplayed
	}
	return nil
}

// janitor deletes expired claims every interval until Close.
func (m *Memory) janitor(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-m.done:
			return
		case <-t.C:
		}
		for i := range m.shards {
			select {
			case <-m.done:
				return
			default:
			}
			m.shards[i].items.DeleteExpired()
		}
	}
}

// Close stops the store's goroutines, waits for them to exit and drops
// every claim; with a state file it first saves the live claims there (see
// [Memory]) and releases the file. Later claims return [ErrClosed]. Close
// returns an error only when the state could not be saved; calling it again
// (or concurrently) does nothing more and returns the same error.
func (m *Memory) Close() error {
	m.closeOnce.Do(func() {
		m.closed.Store(true)
		close(m.done)
		m.wg.Wait()
		var saved []savedClaim
		for i := range m.shards {
			s := &m.shards[i]
			s.mu.Lock()
			if m.statePath != "" {
				for k, it := range s.items.Items() {
					saved = append(saved, savedClaim{Key: encodeKey(k), Until: it.Expiration})
				}
			}
			s.items.Flush()
			s.mu.Unlock()
		}
		if m.statePath != "" {
			m.closeErr = m.saveClean(saved)
		}
	})
	return m.closeErr
}
