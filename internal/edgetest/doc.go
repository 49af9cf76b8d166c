// Package edgetest holds what the end-to-end tests of package middleware
// and of the fosite and zitadel/oidc integrations check alike: the RFC
// 6749 §5.2 shape of a refusal with its no-store headers, the signing algs
// the verifier accepts by default with a test key for each, and a
// slog.Handler that keeps what it is given, and a jwks_uri endpoint that
// counts its fetches. It is for tests only.
package edgetest
