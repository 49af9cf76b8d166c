// Package jose is pkjwt's one table of JWS algorithms and of the keys that
// fit them, and its one definition of private JWK members. Package verify
// checks signatures with it, jwksfetch vets JWKs with it, and the pkjwt
// command and internal/testkeys sign with it.
//
// Algorithms (alg names are compared exactly, case included):
//
//	alg                  key                      hash      spec
//	RS256 RS384 RS512    RSA, PKCS #1 v1.5        SHA-2     RFC 7518 §3.3
//	PS256 PS384 PS512    RSA, PSS                 SHA-2     RFC 7518 §3.5
//	ES256 ES384 ES512    ECDSA P-256, P-384, P-521 SHA-2    RFC 7518 §3.4
//	EdDSA                Ed25519                  -         RFC 8037 §3.1
//	Ed25519              Ed25519                  -         RFC 9864 §2
//	HS256 HS384 HS512    shared secret, HMAC      SHA-2     RFC 7518 §3.2
//
// "none" is not in the table: no lookup ever yields it.
package jose
