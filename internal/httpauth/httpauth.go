// Package httpauth reads the Authorization header the one way pkjwt's
// packages need: verify counts it as a second client authentication
// method, and the HTTP edge answers it with a WWW-Authenticate challenge of
// the same scheme (RFC 6749 §5.2).
package httpauth

import (
	"net/http"
	"strings"
)

// Scheme returns the scheme of h's Authorization field (as sent, possibly
// empty) and whether h has that field. A nil h has none.
func Scheme(h http.Header) (string, bool) {
	vs := h["Authorization"]
	if len(vs) == 0 {
		return "", false
	}
	scheme, _, _ := strings.Cut(strings.TrimLeft(vs[0], " \t"), " ")
	return scheme, true
}
