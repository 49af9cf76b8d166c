package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// batchParallel is how many batch statements may run at once: more
// parallel statements mean smaller batches, fewer mean longer waits.
const batchParallel = 4

// batcher combines concurrent PostgreSQL claims into one statement: a
// claim that arrives while batchParallel statements are running waits
// for the next, which carries every claim queued by then (up to max). A
// claim that arrives when a slot is free goes at once, alone: batching
// adds no latency at low load.
//
// The multi-row upsert decides each row as the single-row one does (one
// unique index, one row lock per key); the keys a statement returns are
// the claimed ones. Two claims of one key never share a statement, which
// PostgreSQL refuses: the later one waits for the earlier's outcome and
// reports a replay if it claimed the key.
type batcher struct {
	s     *Store
	max   int
	slots chan struct{}
	wg    sync.WaitGroup

	statements atomic.Int64 // batch statements sent, for tests

	mu     sync.Mutex
	queue  []*pending
	stmts  map[int]*sql.Stmt // by number of rows, prepared on first use
	closed bool
}

// pending is one claim waiting for its batch.
type pending struct {
	k       []byte
	untilMs int64
	done    chan struct{} // closed when claimed and err are set
	claimed bool
	err     error
	dups    []*pending // later claims of the same key in the same batch
}

func newBatcher(s *Store, max int) *batcher {
	return &batcher{s: s, max: max, slots: make(chan struct{}, batchParallel), stmts: map[int]*sql.Stmt{}}
}

// claim queues a claim and waits for its outcome or ctx.
func (b *batcher) claim(ctx context.Context, k []byte, untilMs int64) (bool, error) {
	p := &pending{k: k, untilMs: untilMs, done: make(chan struct{})}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return false, ErrClosed
	}
	b.queue = append(b.queue, p)
	b.kickLocked()
	b.mu.Unlock()
	select {
	case <-p.done:
		return p.claimed, p.err
	case <-ctx.Done():
		// The statement may still record the key: the assertion is used
		// up, and refused, which fails closed.
		return false, ctx.Err()
	}
}

// kickLocked starts a flusher if a slot is free. Called with mu held, so
// that no flusher starts after close.
func (b *batcher) kickLocked() {
	select {
	case b.slots <- struct{}{}:
		b.wg.Go(b.flush)
	default: // every slot busy: a running flusher takes the queue next
	}
}

// flush runs batches until the queue is empty, then frees its slot.
func (b *batcher) flush() {
	for {
		batch := b.take()
		if len(batch) == 0 {
			<-b.slots
			// A claim queued between take and freeing the slot found no
			// free slot; take it over if nobody else has.
			b.mu.Lock()
			empty := len(b.queue) == 0
			b.mu.Unlock()
			if empty {
				return
			}
			select {
			case b.slots <- struct{}{}:
				continue
			default:
				return
			}
		}
		b.run(batch)
	}
}

// take removes up to max claims of distinct keys from the queue. A
// second claim of a key already taken rides along with the first: it
// cannot win whatever the first's outcome (a replay if the first claimed
// the key or found it live, the first's error otherwise).
func (b *batcher) take() []*pending {
	b.mu.Lock()
	defer b.mu.Unlock()
	var batch []*pending
	first := map[string]*pending{}
	rest := b.queue[:0]
	for _, p := range b.queue {
		switch f := first[string(p.k)]; {
		case f != nil:
			f.dups = append(f.dups, p)
		case len(batch) < b.max:
			first[string(p.k)] = p
			batch = append(batch, p)
		default:
			rest = append(rest, p)
		}
	}
	clear(b.queue[len(rest):])
	b.queue = rest
	return batch
}

// run sends one batch and delivers each claim's outcome.
func (b *batcher) run(batch []*pending) {
	s := b.s
	ctx := context.Background()
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	claimed, err := b.exec(ctx, batch)
	for _, p := range batch {
		if err != nil {
			p.err = err
		} else {
			p.claimed = claimed[string(p.k)]
		}
		close(p.done)
		for _, d := range p.dups {
			d.err = err // claimed stays false: a replay, or p's error
			close(d.done)
		}
	}
}

// exec runs the batch statement, running it again if it deadlocks, and
// returns the claimed keys.
func (b *batcher) exec(ctx context.Context, batch []*pending) (map[string]bool, error) {
	s := b.s
	stmt, err := b.stmt(ctx, len(batch))
	if err != nil {
		return nil, err
	}
	// Rows in key order: concurrent statements then lock common keys in
	// the same order and cannot deadlock on each other.
	slices.SortFunc(batch, func(a, b *pending) int { return bytes.Compare(a.k, b.k) })
	args := make([]any, 0, 1+2*len(batch))
	args = append(args, s.now().UnixMilli())
	for _, p := range batch {
		args = append(args, p.k, p.untilMs)
	}
	for attempt := 1; ; attempt++ {
		before := s.maxID.Load()
		b.statements.Add(1)
		claimed, low, high, err := query(ctx, stmt, args)
		if err == nil {
			if high > 0 && s.detect {
				s.rollback(ctx, before, low, high)
			}
			return claimed, nil
		}
		if attempt == maxAttempts || !deadlock(err) || ctx.Err() != nil {
			return nil, err
		}
	}
}

func query(ctx context.Context, stmt *sql.Stmt, args []any) (claimed map[string]bool, low, high int64, err error) {
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return nil, 0, 0, err
	}
	defer rows.Close()
	claimed = map[string]bool{}
	for rows.Next() {
		var (
			k  []byte
			id int64
		)
		if err := rows.Scan(&k, &id); err != nil {
			return nil, 0, 0, err
		}
		claimed[string(k)] = true
		if low == 0 || id < low {
			low = id
		}
		high = max(high, id)
	}
	return claimed, low, high, rows.Err()
}

// stmt returns the prepared batch statement for n rows.
func (b *batcher) stmt(ctx context.Context, n int) (*sql.Stmt, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if st := b.stmts[n]; st != nil {
		return st, nil
	}
	st, err := b.s.db.PrepareContext(ctx, batchSQL(b.s.table, n))
	if err != nil {
		if missingTable(err) {
			return nil, fmt.Errorf("%w: %w", ErrNotMigrated, err)
		}
		return nil, err
	}
	b.stmts[n] = st
	return st, nil
}

// batchSQL is the PostgreSQL claim of n keys: $1 is now, then a key and
// its until per row.
func batchSQL(table string, n int) string {
	var q strings.Builder
	q.WriteString(`INSERT INTO ` + table + ` AS t (k, exp_ms) VALUES `)
	for i := range n {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("($" + strconv.Itoa(2+2*i) + ", $" + strconv.Itoa(3+2*i) + ")")
	}
	q.WriteString(` ON CONFLICT (k) DO UPDATE SET exp_ms = EXCLUDED.exp_ms, id = DEFAULT WHERE t.exp_ms <= $1 RETURNING k, id`)
	return q.String()
}

// close waits for running batches and closes the statements.
func (b *batcher) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.wg.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, st := range b.stmts {
		st.Close()
	}
}
