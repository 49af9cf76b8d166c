// Package verify checks OAuth 2.0 client assertions: the private_key_jwt
// (and, opt-in, client_secret_jwt) client authentication of RFC 7523 §2.2
// and §3 and OpenID Connect Core 1.0 §9, with the audience rules of
// draft-ietf-oauth-rfc7523bis and FAPI 2.0 and the JWT BCP (RFC 8725).
//
// A [Verifier] takes the three request values an authorization server
// receives (client_assertion_type, client_assertion, client_id) and returns
// a [Result] or an [*Error] that carries the RFC 6749 §5.2 error code. It
// has no HTTP in its API; package middleware wraps it for net/http.
//
// The Verifier consumes three small interfaces: [Clients] (the host
// server's client registry; [ClientMap] is a fixed one), [KeySource] (a
// client's public keys; [KeySet] is a fixed one, package jwksfetch fetches
// jwks_uri documents) and replay.Store (jti single use).
//
// [Config.Hooks] report each verification, key lookup and replay claim, for
// metrics and traces (module github.com/pkjwt/pkjwt/integrations/otel
// turns them into OpenTelemetry); nil hooks cost nothing.
//
// The happy path:
//
//	keys, _ := verify.NewKeySet(verify.Key{ID: "k1", Public: clientPublicKey})
//	clients := verify.ClientMap{"c1": {ID: "c1", Keys: keys}}
//	store, _ := replay.NewMemory(replay.MemoryConfig{})
//	defer store.Close()
//	v, err := verify.New("https://as.example.com", clients, store, nil)
//	if err != nil { ... }
//	req, err := verify.RequestFromForm(r.PostForm)
//	if err != nil { ... }
//	res, err := v.Verify(ctx, req)
//	if err != nil { ... } // err.(*verify.Error).Code is "invalid_client", ...
//	fmt.Println(res.ClientID)
package verify
