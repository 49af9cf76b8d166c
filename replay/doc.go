// Package replay makes client assertions single use.
//
// OpenID Connect Core 1.0 §9 requires a jti in every client assertion and
// says such tokens "MUST only be used once". RFC 7523 §3 lets the
// authorization server ensure that JWTs are not replayed by keeping the set
// of used jti values for as long as each JWT would be valid by its exp.
// pkjwt always does: after every other check has passed, the verifier
// claims the key client_id+jti (length-prefixed, so that two clients never
// collide) until exp plus the leeway, and rejects the assertion unless the
// claim succeeds. Because the claim comes last, a rejected assertion never
// burns its jti.
//
// A [Store] does the claiming. [NewMemory] returns one for a single server;
// package replay/redisstore shares one across every node of a cluster. Use
// one store for every endpoint that authenticates clients (token,
// introspection, PAR, revocation): an assertion used at one must not work at
// another.
//
// # Happy path
//
//	store, err := replay.NewMemory(replay.MemoryConfig{})
//	if err != nil {
//		return err
//	}
//	defer store.Close()
//
//	switch err := store.Claim(ctx, key, exp.Add(leeway)); {
//	case err == nil: // first use: accept
//	case errors.Is(err, replay.ErrReplayed): // used before: invalid_client
//	default: // the store could not decide: fail closed (server error)
//	}
//
// In practice the verifier makes that call; you create the store, hand it
// over and Close it on shutdown.
//
// # Configuration
//
// NewMemory and redisstore.New follow pkjwt's configuration rule (see
// package verify): the policy is a value MemoryConfig or redisstore.Config
// whose zero value is the default, copied and validated. A negative count
// is an error; a negative MemoryConfig.CleanupInterval turns the cleanup
// goroutine off, and a negative redisstore.Config.Timeout leaves only the
// caller's ctx as a bound.
//
// # Writing a store
//
// A custom backend (a SQL database, a different cache) MUST meet this
// contract; package replay/replaytest checks it, and a new backend should
// pass replaytest.Run:
//
//   - Atomic: of any number of concurrent Claim calls for one key, from any
//     number of processes sharing the store, exactly one returns nil.
//   - Durable: after Claim(ctx, key, until) returned nil, every
//     Claim of key before until fails, with an error wrapping [ErrReplayed]
//     when the store is healthy. The record may live longer (rounding up,
//     cleanup lag), never shorter. Round until up, never down, when the
//     backend has a coarser clock.
//   - Fail closed: return nil only when the key is known to be recorded.
//     Timeouts, lost connections, full storage and unexpected replies are
//     errors, and do not wrap ErrReplayed (so that callers can tell store
//     trouble from a replay). When in doubt, return an error.
//   - Context: a ctx that is already done gives an error (wrap ctx.Err()),
//     never nil; a ctx that ends during the call should abort it.
//   - Arguments: an empty key or a zero until is a caller bug and gives an
//     error. An until in the past needs no record: return an error wrapping
//     ErrReplayed if key is still claimed, otherwise nil (or any error).
//   - Keys are opaque byte strings compared exactly: any byte may appear,
//     including NUL and invalid UTF-8, and lengths up to at least 4 KiB.
//     Store them as bytes, or as a cryptographic hash of the bytes.
//   - Safe for concurrent use.
//
// In SQL, a primary key gives atomicity:
//
//	CREATE TABLE pkjwt_jti (key bytea PRIMARY KEY, until timestamptz NOT NULL);
//
//	-- Claim: first drop an expired record of this key, then insert.
//	DELETE FROM pkjwt_jti WHERE key = $1 AND until < now();
//	INSERT INTO pkjwt_jti (key, until) VALUES ($1, $2);
//	-- unique violation (SQLSTATE 23505) -> ErrReplayed; any other error -> that error
//
//	-- A periodic job keeps the table small:
//	DELETE FROM pkjwt_jti WHERE until < now();
//
// Two concurrent claims may both delete, but only one insert succeeds. If
// $2 is already past, skip the insert and report ErrReplayed when a row with
// until >= now() exists. The database clock and the servers' clocks must agree
// (NTP), since until is an absolute time.
package replay
