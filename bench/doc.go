// Package bench measures what pkjwt costs per client authentication, next to
// the peer Go implementations of private_key_jwt (RFC 7523 §2.2, OpenID
// Connect Core 1.0 §9) and the bare signature check that is the floor of
// any of them.
//
// It is a module of its own, so that pkjwt never depends on its peers:
//
//   - the benchmarks (go test -bench .) authenticate the same assertions
//     (same keys, same claims, RS256, PS256, ES256 and EdDSA) through pkjwt's
//     verify package, zitadel/oidc's op package and ory/fosite, and through
//     the standard library alone;
//   - TestCheckMatrix records which checks each implementation makes, so
//     that the figures are read next to what each one does for them;
//   - BenchmarkVerifyStore isolates the replay store's share (memory or a
//     local redis-server);
//   - cmd/load drives the reference server (pkjwt serve) and a signature-only
//     baseline server (cmd/baseline) on loopback and reports requests/s,
//     latency percentiles and CPU time per request;
//   - run-micro.sh interleaves the benchmarks on a shared machine and
//     cmd/benchtab turns their output into same-run ratios;
//   - proposals/ holds measured changes to the main module, as patches.
//
// See BENCHMARKS.md at the repository root for the method and the figures.
package bench
