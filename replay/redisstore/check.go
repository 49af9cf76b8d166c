package redisstore

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// nodeState is what the checker knows of the primary serving a part of the
// keyspace (a cluster slot range, or everything).
type nodeState struct {
	id      string // address, run_id and master_replid of the primary
	runID   string
	evicted int64 // INFO stats evicted_keys
}

// checker runs check every interval (never, if interval is negative) and
// bumps the markers when a claim found one lost, until Close.
func (s *Store) checker(interval time.Duration) {
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	failing := false
	run := func(f func(context.Context) error) {
		ctx, cancel := context.WithTimeout(context.Background(), max(interval, 2*time.Second))
		defer cancel()
		s.checkMu.Lock()
		defer s.checkMu.Unlock()
		err := f(ctx)
		switch {
		case err != nil && !failing:
			// Claims still fail closed while Redis is down; a check that
			// keeps failing while claims work (an ACL without INFO) leaves
			// only the markers to detect losses.
			s.logger.Warn("redisstore: cannot check Redis for lost claims", "error", err)
		case err == nil && failing:
			s.logger.Info("redisstore: checking Redis for lost claims again")
		}
		failing = err != nil
	}
	if interval > 0 {
		run(s.checkLocked)
	}
	close(s.firstCheck)
	for {
		select {
		case <-s.done:
			return
		case <-tick:
			run(s.checkLocked)
		case <-s.lost:
			s.logger.Warn("redisstore: an epoch marker was missing: Redis lost claims (a restart without persistence, a flush or an eviction) or is new; refusing assertions issued before the new epoch")
			run(func(ctx context.Context) error {
				s.needsBump = true
				return s.bumpIfNeeded(ctx)
			})
		}
	}
}

// check reads INFO from every primary and moves the epoch forward when one
// of them restarted (run_id), was replaced by a promoted replica
// (master_replid, or another address for a cluster slot range) or evicted
// keys (evicted_keys) since the last check.
func (s *Store) check(ctx context.Context) error {
	s.checkMu.Lock()
	defer s.checkMu.Unlock()
	return s.checkLocked(ctx)
}

func (s *Store) checkLocked(ctx context.Context) error {
	now, why, err := s.nodes(ctx)
	if err != nil {
		return err
	}
	for part, n := range now {
		old, ok := s.known[part]
		switch {
		case !ok:
		case old.id != n.id:
			why = "primary restarted or replaced (run_id or replication id changed)"
		case n.evicted > old.evicted:
			why = "keys evicted (maxmemory)"
		}
	}
	if s.known != nil && len(now) < len(s.known) {
		why = "primary gone from the cluster"
	}
	s.known = now
	if why != "" {
		s.logger.Warn("redisstore: Redis may have lost claims; refusing assertions issued before the new epoch", "reason", why)
		s.needsBump = true
	}
	return s.bumpIfNeeded(ctx)
}

// bumpIfNeeded moves the markers forward if a loss is pending. While that
// fails, our own claims see the loss at once through floor (by our clock);
// the markers carry it to other stores and survive our restart.
func (s *Store) bumpIfNeeded(ctx context.Context) error {
	if !s.needsBump {
		return nil
	}
	if err := s.bump(ctx); err != nil {
		s.raiseFloor(time.Now().UnixMilli())
		return err
	}
	s.needsBump = false
	return nil
}

// markerLost is called when a claim recreated its tag's marker: that tag
// lost its data (or Redis is new). It raises floor and has the other
// markers moved forward, so that claims in other tags see the loss too.
func (s *Store) markerLost(ms int64) {
	s.raiseFloor(ms)
	select {
	case s.lost <- struct{}{}:
	default: // a bump is already pending
	}
}

// nodes returns the state of the primary of each part of the keyspace. It
// also compares each primary's run_id with the one recorded in the data it
// serves (a key written by the last check, which replicas copy and
// persistence keeps), and reports a mismatch: that primary restarted or is
// a promoted replica, even if this store never saw it before.
func (s *Store) nodes(ctx context.Context) (map[string]nodeState, string, error) {
	cc, ok := s.client.(*redis.ClusterClient)
	if !ok {
		info, err := s.client.Info(ctx, "server", "replication", "stats").Result()
		if err != nil {
			return nil, "", err
		}
		n := parseInfo("", info)
		why, err := s.recordRunID(ctx, s.tag(0)+"node", n.runID)
		return map[string]nodeState{"": n}, why, err
	}
	var mu sync.Mutex
	infos := map[string]string{}
	var why string
	if err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		info, err := c.Info(ctx, "server", "replication", "stats").Result()
		if err != nil {
			return err
		}
		addr := c.Options().Addr
		// A tag whose slot this primary serves holds its record.
		for i := range tags {
			m, err := cc.MasterForKey(ctx, s.tag(i))
			if err != nil {
				return err
			}
			if m.Options().Addr == addr {
				w, err := s.recordRunID(ctx, s.tag(i)+"node", parseInfo(addr, info).runID)
				if err != nil {
					return err
				}
				mu.Lock()
				if w != "" {
					why = w
				}
				mu.Unlock()
				break
			}
		}
		mu.Lock()
		infos[addr] = info
		mu.Unlock()
		return nil
	}); err != nil {
		return nil, "", err
	}
	shards, err := cc.ClusterShards(ctx).Result()
	if err != nil {
		return nil, "", err
	}
	out := map[string]nodeState{}
	for _, sh := range shards {
		for _, n := range sh.Nodes {
			if n.Role != "master" {
				continue
			}
			addr := net.JoinHostPort(n.Endpoint, strconv.FormatInt(n.Port, 10))
			for _, r := range sh.Slots {
				out[strconv.FormatInt(r.Start, 10)+"-"+strconv.FormatInt(r.End, 10)] = parseInfo(addr, infos[addr])
			}
		}
	}
	if len(out) == 0 {
		return nil, "", errors.New("redisstore: CLUSTER SHARDS lists no slots")
	}
	return out, why, nil
}

// recordRunID swaps runID into key and reports a loss when key held
// another run_id.
func (s *Store) recordRunID(ctx context.Context, key, runID string) (string, error) {
	if runID == "" {
		return "", errors.New("redisstore: INFO gave no run_id")
	}
	old, err := s.client.SetArgs(ctx, key, runID, redis.SetArgs{Get: true}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return "", nil
	case err != nil:
		return "", err
	case old != runID:
		return "primary restarted or replaced by a replica (its run_id differs from the one its data was last seen with)", nil
	}
	return "", nil
}

// parseInfo reads run_id, master_replid and evicted_keys from an INFO
// reply of the primary at addr.
func parseInfo(addr, info string) nodeState {
	var runID, replID string
	var evicted int64
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		switch k {
		case "run_id":
			runID = v
		case "master_replid":
			replID = v
		case "evicted_keys":
			evicted, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return nodeState{id: addr + "|" + runID + "|" + replID, runID: runID, evicted: evicted}
}

// raiseFloor moves floor forward to ms, never backward.
func (s *Store) raiseFloor(ms int64) {
	for {
		old := s.floor.Load()
		if old >= ms || s.floor.CompareAndSwap(old, ms) {
			return
		}
	}
}

// bump moves every epoch marker forward to now, in one pipeline, and
// raises floor to the latest of them.
func (s *Store) bump(ctx context.Context) error {
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	p := s.client.Pipeline()
	cmds := make([]*redis.Cmd, tags)
	for i := range cmds {
		cmds[i] = bumpScript.Eval(ctx, p, []string{s.tag(i) + "epoch"}, now)
	}
	if _, err := p.Exec(ctx); err != nil {
		return err
	}
	for _, c := range cmds {
		if ms, err := c.Int64(); err == nil {
			s.raiseFloor(ms)
		}
	}
	return nil
}
