package replay

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
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
)

// fullSweepBackoff is how long a full shard refuses claims without looking
// for expired entries again, after a sweep found none. It keeps a flood of
// claims against a full shard from turning into a flood of O(n) sweeps, at
// the price of refusing for at most this long a claim that could fit.
const fullSweepBackoff = 100 * time.Millisecond

// ErrClosed is returned by [Memory.Claim] after [Memory.Close].
var ErrClosed = errors.New("replay: store closed")

var (
	errEmptyKey  = errors.New("replay: empty key")
	errZeroUntil = errors.New("replay: zero until time")
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
}

// Memory is a [Store] that keeps claims in process memory, built on
// go-cache's atomic Add. It suits a single server: behind a load balancer each
// node would accept an assertion once, so a cluster needs a shared store such
// as package replay/redisstore. Claims are lost when the process exits.
//
// Memory is safe for concurrent use. It runs a cleanup goroutine; call
// [Memory.Close] to stop it.
type Memory struct {
	seed   maphash.Seed
	shards []shard

	closed    atomic.Bool
	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
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
	if cleanup > 0 {
		m.wg.Go(func() { m.janitor(cleanup) })
	}
	return m, nil
}

// Claim records key as used until the time until; see [Store.Claim].
//
// It returns nil for the first claim, [ErrReplayed] while key is claimed,
// [ErrFull] when key's shard is full of unexpired claims, [ErrClosed] after
// Close, the ctx error (wrapped) when ctx is done, and an error for an empty
// key or a zero until. An until in the past records nothing: Claim reports
// ErrReplayed if key is still claimed from before, nil otherwise.
func (m *Memory) Claim(ctx context.Context, key string, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("replay: claim: %w", err)
	}
	if m.closed.Load() {
		return ErrClosed
	}
	if key == "" {
		return errEmptyKey
	}
	if until.IsZero() {
		return errZeroUntil
	}
	// go-cache computes the expiry as its own time.Now() plus ttl, a little
	// later than here, so the claim outlives until.
	ttl := time.Until(until)
	return m.shard(key).claim(key, ttl)
}

func (m *Memory) shard(key string) *shard {
	if len(m.shards) == 1 {
		return &m.shards[0]
	}
	return &m.shards[maphash.String(m.seed, key)%uint64(len(m.shards))]
}

func (s *shard) claim(key string, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
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

// Close stops the cleanup goroutine, waits for it to exit and drops every
// claim. Later claims return [ErrClosed]. Close always returns nil; calling it
// again (or concurrently) does nothing more.
func (m *Memory) Close() error {
	m.closeOnce.Do(func() {
		m.closed.Store(true)
		close(m.done)
		m.wg.Wait()
		for i := range m.shards {
			s := &m.shards[i]
			s.mu.Lock()
			s.items.Flush()
			s.mu.Unlock()
		}
	})
	return nil
}
