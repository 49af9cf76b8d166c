package verify

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/pkjwt/pkjwt/internal/httpauth"
)

// Request holds the client-authentication parameters of one request to a
// token (or introspection, revocation, PAR) endpoint. Build it with
// [RequestFromForm], which does every check of the request's shape.
type Request struct {
	// AssertionType is the client_assertion_type parameter.
	AssertionType string
	// Assertion is the client_assertion parameter.
	Assertion string
	// ClientID is the client_id parameter, if the client sent one.
	ClientID string
	// OtherAuthentication names another client authentication method the
	// same request carries, such as "client_secret_basic" for an
	// Authorization header or "client_secret_post" for a client_secret
	// parameter, or is empty. A request with an assertion and another
	// method is refused with [ErrMultipleMethods].
	OtherAuthentication string
}

// RequestFromForm returns the Request carried by a request whose decoded
// application/x-www-form-urlencoded body is form and whose header is
// header (which may be nil). It is the one checked way to build a Request:
//
//   - client_assertion, client_assertion_type or client_id sent more than
//     once fails with an *Error wrapping [ErrRepeatedParameter];
//   - a client_secret parameter sets OtherAuthentication to
//     "client_secret_post";
//   - otherwise an Authorization header, of any scheme, sets it to
//     "client_secret_basic" (scheme Basic, in any case) or
//     "authorization_header".
//
// [Verifier.Verify] then refuses an assertion sent with another method.
// Pass the body's form (r.PostForm after r.ParseForm), never r.Form: the
// URL query must not carry client credentials (RFC 6749 §2.3.1).
func RequestFromForm(form url.Values, header http.Header) (Request, error) {
	var r Request
	for _, p := range [...]struct {
		name string
		dst  *string
	}{
		{"client_assertion_type", &r.AssertionType},
		{"client_assertion", &r.Assertion},
		{"client_id", &r.ClientID},
	} {
		switch vs := form[p.name]; len(vs) {
		case 0:
		case 1:
			*p.dst = vs[0]
		default:
			return Request{}, NewError(ErrRepeatedParameter, fmt.Errorf("%s sent %d times", p.name, len(vs)))
		}
	}
	if _, ok := form["client_secret"]; ok {
		r.OtherAuthentication = "client_secret_post"
	} else if scheme, ok := httpauth.Scheme(header); ok {
		r.OtherAuthentication = "authorization_header"
		if strings.EqualFold(scheme, "Basic") {
			r.OtherAuthentication = "client_secret_basic"
		}
	}
	return r, nil
}
