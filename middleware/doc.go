// Package middleware puts private_key_jwt client authentication (RFC 7523
// §2.2, OpenID Connect Core 1.0 §9) in front of an existing net/http token,
// introspection (RFC 7662), revocation (RFC 7009) or pushed authorization
// request (RFC 9126) endpoint.
//
// [New] returns a func(http.Handler) http.Handler, the shape every router
// built on net/http accepts: the standard ServeMux, chi (r.With(auth)),
// gorilla/mux (r.Use(auth)), gin (gin.WrapH(auth(h))) and echo
// (echo.WrapMiddleware(auth)). The middleware reads the
// application/x-www-form-urlencoded body of a POST request (RFC 6749
// §2.3.1: credentials travel in the body, never in the URL), bounded in
// size; verifies the client assertion with a [verify.Verifier], which also
// claims its jti so that an assertion is good for one request at any
// endpoint sharing the verifier; and hands the wrapped handler the result
// ([ResultFrom]) and the request with its body and form intact.
//
// Failures get the RFC 6749 §5.2 JSON error response, with Cache-Control:
// no-store:
//
//	invalid_client  401  the assertion, the client or its keys failed a check
//	                     (with WWW-Authenticate if the client used the
//	                     Authorization header, as §5.2 requires)
//	invalid_request 400  malformed request: a parameter missing or repeated,
//	                     two authentication methods, wrong content type,
//	                     credentials in the URL query
//	invalid_request 405  method other than POST (with Allow: POST)
//	invalid_request 413  body over the cap ([Config.MaxBodyBytes])
//	server_error    503  the server could not decide (replay store, client
//	                     registry or key source unavailable); generic text
//
// The checks of the HTTP request are check 3 of package verify's list, and
// the responses checks 17 to 19. The URL query of every request must carry
// no client_assertion, client_assertion_type or client_secret, and, when
// the body carries an assertion, no client_id other than the body's one
// (the same rule as the fosite and zitadel/oidc integrations): a handler
// reading r.Form never sees a client other than the authenticated one.
// Each refusal is a
// *verify.Error wrapping one of package verify's sentinels
// (verify.ErrMethodNotAllowed, verify.ErrBodyTooLarge,
// verify.ErrQueryParameter, verify.ErrExpired, ...), for errors.Is in an
// [ErrorWriter] and errors.As anywhere.
//
// [NewMetadata] derives the RFC 8414 metadata members
// (token_endpoint_auth_methods_supported,
// token_endpoint_auth_signing_alg_values_supported, ...) from the same
// verifier, so that the discovery document cannot drift from what the
// endpoints accept.
//
// The happy path:
//
//	v, err := verify.New("https://as.example.com", clients, store, verify.Config{})
//	if err != nil { ... }
//	auth, err := middleware.New(v, middleware.Config{Logger: logger})
//	if err != nil { ... }
//	mux := http.NewServeMux()
//	mux.Handle("/token", auth(tokenHandler))
//	mux.Handle("/introspect", auth(introspectionHandler))
//	// In tokenHandler:
//	res, _ := middleware.ResultFrom(r.Context())
//	issueToken(w, res.ClientID, r.PostForm) // res.ClientID, never r.PostForm's client_id
package middleware
