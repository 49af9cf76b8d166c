// Package tokenedge is the HTTP edge that package middleware and the fosite
// and zitadel/oidc integrations put in front of pkjwt's verifier at a token
// (RFC 6749 §3.2), introspection (RFC 7662), revocation (RFC 7009) or pushed
// authorization (RFC 9126) endpoint: reading the form body within a cap,
// the rule for the URL query, the request shape of a token request, the
// response headers (check 17 of package verify's list), the one generic
// server-error text (check 19) and the log record of a refusal. It is internal: the three callers share one rule for each
// of these, and the integrations' modules import it through the main
// module.
//
// # The URL query rule
//
// Client credentials travel in the request body, never in the URL (RFC 6749
// §2.3.1; check 3 of package verify's list). On every request to an endpoint that authenticates clients, with
// or without an assertion, [CheckQuery] refuses a URL query that carries
// client_assertion, client_assertion_type or client_secret. On a request
// whose body carries a client assertion it also refuses a client_id in the
// query unless the body has one client_id and the query exactly the same
// one, once: a handler reading r.Form or r.FormValue must not see a client
// other than the one authenticated. The refusal is a *verify.Error wrapping
// verify.ErrQueryParameter (invalid_request).
//
// # The token request's shape
//
// RFC 6749 §3.2 says that request parameters "MUST NOT be included more than
// once". [Repeated] finds a body parameter sent more than once; the callers
// refuse such a token request with invalid_request before the product sees
// it (both fosite and zitadel/oidc would take the first grant_type). The
// parameters that other specifications let repeat are exempt: resource (RFC
// 8707 §2) and audience (RFC 8693 §2.1).
package tokenedge
