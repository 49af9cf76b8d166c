package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/middleware"
)

// BenchmarkMiddleware measures a token request through the middleware into
// a trivial handler, against the baseline of a handler that only parses the
// form and checks the assertion's signature with golang-jwt and the
// client's key: the cost of the checks, the replay claim and the request
// handling beyond the signature. Each request carries a fresh assertion,
// minted (and its request built) before the timer starts.
func BenchmarkMiddleware(b *testing.B) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	for _, k := range []struct{ alg, key, client, kid string }{
		{"ES256", testkeys.P256, "c1", "k1"},
		{"RS256", testkeys.RSA2048, "c2", "r1"},
	} {
		requests := func(b *testing.B) []*http.Request {
			b.Helper()
			now := time.Now()
			rs := make([]*http.Request, b.N)
			for i := range rs {
				a := testkeys.Sign(k.alg, testkeys.Signer(k.key), map[string]any{"kid": k.kid}, testkeys.Claims(k.client, issuer, now))
				rs[i] = post("/token", assertionForm(a).Encode())
			}
			return rs
		}
		run := func(b *testing.B, h http.Handler) {
			rs := requests(b)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, rs[i])
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		}
		b.Run(k.alg+"/middleware", func(b *testing.B) {
			run(b, newMiddleware(b, newVerifier(b, nil, nil), middleware.Config{})(ok))
		})
		b.Run(k.alg+"/baseline", func(b *testing.B) {
			run(b, signatureOnly(testkeys.Public(k.key), k.alg, ok))
		})
	}
}

// signatureOnly is the baseline: parse the form, verify the signature of
// client_assertion with key, call next.
func signatureOnly(key any, alg string, next http.Handler) http.Handler {
	p := jwt.NewParser(jwt.WithValidMethods([]string{alg}), jwt.WithoutClaimsValidation())
	keyFunc := func(*jwt.Token) (any, error) { return key, nil }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		if _, err := p.Parse(r.PostForm.Get("client_assertion"), keyFunc); err != nil {
			http.Error(w, "bad assertion", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
