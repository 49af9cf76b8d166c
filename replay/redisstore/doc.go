// Package redisstore is a [replay.Store] in Redis, for authorization servers
// that run on more than one node: every node claims jti keys in the same
// Redis, so an assertion accepted by one is refused by all.
//
// A claim is one command, SET prefix+key 1 NX PXAT until-in-milliseconds:
// Redis sets the key only if it is absent (atomic, even in a cluster, since a
// key lives on one shard) and deletes it at until. Every failure (timeout,
// lost connection, an out-of-memory refusal) is an error, so a verifier fails
// closed while Redis is unavailable.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379", ContextTimeoutEnabled: true})
//	store, err := redisstore.New(rdb, redisstore.Config{})
//	if err != nil {
//		return err
//	}
//	// Pass store to the verifier; it calls store.Claim(ctx, key, exp+leeway).
//
// # Operating Redis for replay protection
//
// A claim that Redis forgets reopens a replay window until the assertion's
// exp. Configure Redis so that it does not forget:
//
//   - maxmemory-policy noeviction. Every claim has an expiry, so the
//     volatile-* policies (and the allkeys-* ones) may evict unexpired claims;
//     with noeviction a full Redis refuses new claims instead, and the
//     verifier fails closed.
//   - Persistence (appendonly yes) if a restart must not forget the claims of
//     the last few minutes.
//   - Replication is asynchronous: a failover may lose the newest claims.
//   - A *redis.Ring sends a key to another shard while its own is marked
//     down, where earlier claims are unknown; a Redis Cluster or a single
//     primary does not.
//
// Redis expires keys by its own clock, so keep it in sync (NTP) with the
// servers that compute until.
package redisstore
