// Package pkjwt lets an existing OAuth 2.0 authorization server accept
// private_key_jwt client authentication (RFC 7523 §2.2 and §3, OpenID
// Connect Core 1.0 §9) without being rewritten.
//
// A client proves who it is with a short-lived JWT signed by its private
// key; the server checks it against the client's registered public keys.
// This package holds only documentation and examples; the work is done by
// its subpackages:
//
//   - verify checks one assertion: a string in, a result or a typed error
//     out, with no HTTP of its own.
//   - jwksfetch fetches and refreshes clients' jwks_uri documents safely,
//     and validates inline jwks.
//   - replay makes each assertion single use (in memory; replay/redisstore
//     for a cluster).
//   - middleware wraps an existing net/http token, introspection,
//     revocation or PAR handler.
//   - sign is the client side: it signs assertions from any crypto.Signer,
//     gets tokens through golang.org/x/oauth2 and rotates the client's keys.
//
// The command pkjwt (cmd/pkjwt) runs a reference server, a self-contained
// demo, and tools to mint, explain and generate keys.
package pkjwt
