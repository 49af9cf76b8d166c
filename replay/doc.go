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
//	store, err := replay.NewMemory(replay.MemoryConfig{StatePath: "/var/lib/myas/replay.state"})
//	if err != nil {
//		return err
//	}
//	defer store.Close() // saves the live claims to the state file
//
//	switch epoch, err := store.Claim(ctx, key, exp.Add(leeway)); {
//	case err == nil && issuedBefore(epoch): // the store may have forgotten it: refuse
//	case err == nil: // first use: accept
//	case errors.Is(err, replay.ErrReplayed): // used before: invalid_client
//	default: // the store could not decide: fail closed (server error)
//	}
//
// In practice the verifier makes that call; you create the store, hand it
// over and Close it on shutdown.
//
// # When a store forgets: the epoch
//
// A store that loses claims (the process restarts, Redis restarts without
// its data, is flushed, evicts keys or fails over to a replica that missed
// writes) would silently accept again every assertion it forgot, until its
// exp. So every Claim also returns the store's epoch: the time from which
// its memory of claims is complete (zero: since forever). When a store may
// have lost claims it moves its epoch forward, to no earlier than the last
// moment a lost claim could have been made. The verifier then refuses, with
// invalid_client and the reason replay_epoch (verify.ErrReplayEpoch), every
// assertion that may have been issued before the epoch: one whose iat is
// earlier than the epoch plus the leeway (a client clock running ahead
// makes iat later than the true issue time), and one without iat whose exp
// is earlier than the epoch plus MaxLifetime (nothing else bounds when it
// was made). The jti is claimed all the same.
//
// The price is paid only by assertions that could have been used before
// the loss: for one leeway after it, assertions with iat; for MaxLifetime
// after it, those without. Clients that mint an assertion per request with
// iat never notice, past the leeway. A first start is not a loss: [Memory]
// with a state file tells a crash from a first start; see [Memory] and
// package replay/redisstore for what each detects and when.
//
// # Configuration
//
// NewMemory and redisstore.New follow pkjwt's configuration rule (see
// package verify): the policy is a value MemoryConfig or redisstore.Config
// whose zero value is the default, copied and validated. A negative count
// is an error; a negative MemoryConfig.CleanupInterval turns the cleanup
// goroutine off, a negative redisstore.Config.Timeout leaves only the
// caller's ctx as a bound, and a negative redisstore.Config.CheckInterval
// turns its periodic checks off.
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
//   - Epoch: the returned epoch is never in the future and, while the
//     store loses nothing, never moves backward. Whenever the store may
//     have lost claims it moves the epoch to no earlier than the last
//     moment a lost claim could have been made, before it answers any
//     claim with nil that the loss could have affected. A store that cannot
//     tell (an empty backend at first use may have lost everything) should
//     guard: its epoch is the moment it found out. Return a zero epoch only
//     for a store that cannot lose claims; replaytest.RunLoss checks the
//     rule against a backend the test makes forget.
//   - Safe for concurrent use.
//
// Package replay/sqlstore is such a store for PostgreSQL, MySQL/MariaDB and
// SQLite through database/sql: one statement that inserts the key or takes
// over an expired row, expiry as integer milliseconds from the verifier's
// clock (never the database's clock or a time-zone-dependent column), and
// an epoch kept in the database that moves when the claims table is
// re-created or restored from an older backup. Read its documentation
// before writing another SQL store.
package replay
