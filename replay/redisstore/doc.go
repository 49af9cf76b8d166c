// Package redisstore is a [replay.Store] in Redis, for authorization servers
// that run on more than one node: every node claims jti keys in the same
// Redis (one primary, a Sentinel setup or a Redis Cluster), so an assertion
// accepted by one is refused by all. It needs Redis 7.0 or later.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379", ContextTimeoutEnabled: true})
//	store, err := redisstore.New(rdb, redisstore.Config{})
//	if err != nil {
//		return err
//	}
//	defer store.Close()
//	// Pass store to the verifier; it calls store.Claim(ctx, key, exp+leeway).
//
// # A claim
//
// A claim is one round trip, a pipeline of two commands:
//
//	SET prefix{tag}sha256(key) token NX PXAT until-in-ms GET
//	GET prefix{tag}epoch
//
// with a token unique to the claim (the store's random 128-bit id and a
// counter); the second reads the epoch marker of the
// key's hash tag (see below). Redis sets the key only if it is absent
// (atomically, even in a cluster, since a key lives on one shard) and
// deletes it at until, sent explicitly in milliseconds and rounded up. The
// GET makes a claim idempotent: go-redis resends a command after a read
// timeout or a dropped connection (a ClusterClient up to MaxRedirects
// times, which cannot be turned off as it also follows slot redirections),
// and a retry that finds its own token is the first use, not a replay.
// Every failure (timeout, lost connection, an out-of-memory refusal) is an
// error, so a verifier fails closed while Redis is unavailable.
//
// Keys are the SHA-256 of the client-scoped key under Prefix and one of 1024
// hash tags taken from that hash: keys have a bounded length, spread evenly
// over the slots of a cluster (so one busy client reaches every node), and a
// "{...}" inside a client's jti cannot pin claims to one slot. A *redis.Ring
// is refused: it sends a key to another shard while its own is down, where
// earlier claims are unknown.
//
// # What is detected, and when
//
// Each hash tag has an epoch marker key in its claims' slot, read after the
// claim, so that a loss before or during the claim shows as a missing
// marker. The store then creates it with the current time (a second round
// trip, only then), raises its epoch and moves every other marker forward,
// so all stores sharing the Redis see the loss. A checker goroutine (every CheckInterval,
// 1 s by default, and before the store's first claim) reads INFO from every
// primary and keeps, in a key of the data each primary serves, the run_id
// that data was last seen with. The store's epoch moves forward when:
//
//   - Redis restarted without its data, was flushed (FLUSHALL, FLUSHDB), or
//     evicted a marker: at the first claim in the affected tag, from the
//     same round trip; every tag follows within a few milliseconds.
//   - A primary restarted and reloaded persisted data (RDB or AOF, which may
//     miss the newest claims), or a replica was promoted (a failover, which
//     may miss writes the old primary acknowledged): its run_id differs
//     from the one recorded in its data. Seen by the next check (within
//     CheckInterval), or by the first check of a store that starts later;
//     claims made in between are accepted against the old epoch.
//   - In a cluster, a slot range moved to another primary, or a primary left:
//     within CheckInterval.
//   - Keys were evicted (INFO evicted_keys grew, under any maxmemory policy
//     but noeviction): within CheckInterval, by a store that was running
//     before the eviction. A store started later cannot know of it.
//
// Not detected: an empty Redis at first use cannot be told from one that
// lost its data, so it is guarded as one (assertions issued before its
// first claim, plus the leeway, are refused) unless [Store.Provision]
// declared it new; writes an old primary accepted after the failover was
// detected (a network partition: use min-replicas-to-write); a key deleted
// by hand; a store whose checks are disabled (negative CheckInterval) sees
// only what the markers show.
//
// # Operating Redis for replay protection
//
// Detection bounds the damage of a loss; avoiding the loss is better:
//
//   - maxmemory-policy noeviction. Every claim has an expiry, so the
//     volatile-* policies (and the allkeys-* ones) may evict unexpired
//     claims; with noeviction a full Redis refuses new claims instead, and
//     the verifier fails closed.
//   - Persistence (appendonly yes), so that a restart keeps the claims.
//   - Replication is asynchronous: a failover may lose the newest claims.
//     WaitReplicas makes each claim wait for replicas (Redis WAIT), which
//     narrows that window (it does not close it: WAIT does not make Redis
//     strongly consistent) at the cost of a replication round trip.
//   - A dedicated database or Prefix, and the ACL commands SET, GET, INFO,
//     EVAL (moving markers forward), WAIT with WaitReplicas, and CLUSTER
//     SHARDS in a cluster.
//
// Redis expires keys by its own clock, so keep it in sync (NTP) with the
// servers that compute until.
package redisstore
