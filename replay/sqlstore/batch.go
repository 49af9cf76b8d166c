package sqlstore

import (
	"bytes"
	"context"
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
// PostgreSQL refuses: the later one shares the earlier's outcome and
// cannot win (a replay, or the earlier's error). Rows go in key order, so
// that concurrent statements cannot deadlock on common keys.
type batcher struct {
	s     *Store
	max   int
	slots chan struct{}
	wg    sync.WaitGroup

	statements atomic.Int64 // batch statements sent, for tests
	waiting    atomic.Int64 // claims queued or in a statement, for tests

	mu     sync.Mutex
	queue  []*pending
	closed bool

	sqlMu sync.Mutex
	sql   map[int]string // batchSQL by number of rows, built on first use
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
	return &batcher{s: s, max: max, slots: make(chan struct{}, batchParallel), sql: map[int]string{}}
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
	b.waiting.Add(1)
	defer b.waiting.Add(-1)
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
	// Not a claimer's ctx: the statement serves them all. Close cancels
	// it, so that no statement outlives the store.
	ctx := s.base
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
	query := b.text(len(batch))
	// Rows in key order (see batcher).
	slices.SortFunc(batch, func(a, b *pending) int { return bytes.Compare(a.k, b.k) })
	args := make([]any, 0, 1+2*len(batch))
	args = append(args, s.now().UnixMilli())
	for _, p := range batch {
		args = append(args, p.k, p.untilMs)
	}
	for attempt := 1; ; attempt++ {
		before := s.maxID.Load()
		b.statements.Add(1)
		claimed, low, high, err := b.query(ctx, query, args)
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

// query runs a batch statement. It is not prepared by hand: pgx caches
// the statements it is sent, per connection, and a *sql.Stmt would wait for
// the database when closed, which Close must not do.
func (b *batcher) query(ctx context.Context, query string, args []any) (claimed map[string]bool, low, high int64, err error) {
	rows, err := b.s.db.QueryContext(ctx, query, args...)
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

// text returns the batch statement for n rows.
func (b *batcher) text(n int) string {
	b.sqlMu.Lock()
	defer b.sqlMu.Unlock()
	q, ok := b.sql[n]
	if !ok {
		q = batchSQL(b.s.table, n)
		b.sql[n] = q
	}
	return q
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

// close waits for running batches; the store has cancelled their ctx.
func (b *batcher) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.wg.Wait()
}
