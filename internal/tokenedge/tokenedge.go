package tokenedge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/pkjwt/pkjwt/verify"
)

// DefaultMaxBodyBytes is the default cap on a request body: 64 KiB, ample
// for a token request with a 16 KiB assertion.
const DefaultMaxBodyBytes = 64 << 10

// BodyCap returns the body cap a caller configured as n: n itself, the
// default (64 KiB) for zero, and an error for a negative n, the one rule of
// the edge's configuration. prefix names the caller's package in the
// error.
func BodyCap(prefix string, n int64) (int64, error) {
	switch {
	case n == 0:
		return DefaultMaxBodyBytes, nil
	case n < 0:
		return 0, fmt.Errorf("%s: negative body cap %d", prefix, n)
	}
	return n, nil
}

// ServerErrorDescription is the one error_description sent with
// server_error, whatever failed: the detail is for the operator's log.
const ServerErrorDescription = "the server could not authenticate the client; try again later"

// HasAssertion reports whether form carries either client assertion
// parameter, even empty: such a request is pkjwt's to decide.
func HasAssertion(form url.Values) bool {
	_, a := form["client_assertion"]
	_, t := form["client_assertion_type"]
	return a || t
}

// credentials are the parameters never accepted in the URL query.
var credentials = [...]string{"client_assertion", "client_assertion_type", "client_secret"}

// CheckQuery applies the package's URL query rule to a request whose URL
// query is rawQuery and whose decoded body is body. A query that does not
// parse is left for the host to report.
func CheckQuery(rawQuery string, body url.Values) *verify.Error {
	if rawQuery == "" {
		return nil
	}
	q, _ := url.ParseQuery(rawQuery)
	for _, name := range credentials {
		if _, ok := q[name]; ok {
			return verify.NewError(verify.ErrQueryParameter, fmt.Errorf("%s in the URL query", name))
		}
	}
	if qs, ok := q["client_id"]; ok && HasAssertion(body) {
		bs := body["client_id"]
		if len(qs) != 1 || len(bs) != 1 || qs[0] != bs[0] {
			return verify.NewError(verify.ErrQueryParameter, errors.New("client_id in the URL query is not the body's"))
		}
	}
	return nil
}

// BodyForm returns the body's part of form, which r.ParseForm built from
// the body's parameters followed by those of the URL query rawQuery: for
// each name, the values left once the query's are taken off the end. It is
// for hosts that hand over only the merged r.Form (zitadel/oidc's
// op.Request). form is not modified.
func BodyForm(form url.Values, rawQuery string) url.Values {
	q, _ := url.ParseQuery(rawQuery)
	body := make(url.Values, len(form))
	for name, vs := range form {
		n := len(vs) - len(q[name])
		if n > 0 {
			body[name] = vs[:n:n]
		}
	}
	return body
}

// exempt lists the body parameters that other specifications let repeat.
var exempt = [...]string{"resource", "audience"}

// Repeated returns the name of a parameter of form, other than resource
// and audience, that has more than one value (the first in sorted order),
// and whether there is one.
func Repeated(form url.Values) (string, bool) {
	var names []string
	for name, vs := range form {
		if len(vs) > 1 && !slices.Contains(exempt[:], name) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return "", false
	}
	slices.Sort(names)
	return names[0], true
}

// RepeatedDescription is the error_description of a token request refused
// because a parameter was repeated. It names no parameter: the name is the
// client's input.
const RepeatedDescription = "a request parameter was sent more than once"

// FormContentType reports whether h has exactly one Content-Type, of media
// type application/x-www-form-urlencoded (parameters such as charset
// allowed).
func FormContentType(h http.Header) bool {
	const form = "application/x-www-form-urlencoded"
	vs := h["Content-Type"]
	if len(vs) != 1 {
		return false
	}
	if vs[0] == form {
		return true
	}
	mt, _, err := mime.ParseMediaType(vs[0])
	return err == nil && mt == form
}

// ReadForm reads r's body, at most limit bytes, and decodes it as an
// application/x-www-form-urlencoded form. It fails with an *Error wrapping
// verify.ErrBodyTooLarge (and an *http.MaxBytesError) beyond limit, and
// verify.ErrMalformedBody when the body cannot be read or decoded. w may be
// nil; if not, net/http closes the connection after a body over the cap.
func ReadForm(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, url.Values, *verify.Error) {
	body, err := readBody(w, r, limit)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, nil, verify.NewError(verify.ErrBodyTooLarge, err)
		}
		return nil, nil, verify.NewError(verify.ErrMalformedBody, err)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, nil, verify.NewError(verify.ErrMalformedBody, err)
	}
	return body, form, nil
}

// readBody reads r's body, failing with an *http.MaxBytesError beyond limit
// bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	size := int64(512)
	if r.ContentLength >= 0 {
		size = r.ContentLength + 1 // room to read EOF without growing
	}
	b := make([]byte, 0, size)
	body := http.MaxBytesReader(w, r.Body, limit)
	for {
		n, err := body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// Restore gives r back the body that ReadForm read, with r.PostForm set to
// form and r.Form as r.ParseForm sets it, so that the next handler reads
// both as if nothing had read them. A URL query that does not parse leaves
// r.Form unset, for the next handler's own ParseForm to report.
func Restore(r *http.Request, body []byte, form url.Values) {
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.ContentLength = int64(len(body))
	r.PostForm = form
	r.Form = nil
	if r.ParseForm() != nil {
		r.Form = nil
	}
}

// SetNoStore sets the response headers RFC 6749 §5.1 requires on every
// answer that carries tokens or credentials: Cache-Control: no-store and
// Pragma: no-cache.
func SetNoStore(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// AsError returns err as a *verify.Error, or an *Error wrapping
// verify.ErrInternal and err if it is not one.
func AsError(err error) *verify.Error {
	var e *verify.Error
	if errors.As(err, &e) {
		return e
	}
	return verify.NewError(verify.ErrInternal, err)
}

// Description returns the error_description to send for e: its fixed
// description, or [ServerErrorDescription] for a server error.
func Description(e *verify.Error) string {
	if e.Infrastructure() {
		return ServerErrorDescription
	}
	return e.Description
}

// maxLogged bounds the client-supplied values that are logged.
const maxLogged = 256

// Truncate returns s cut to 256 bytes (at a UTF-8 boundary, marked with
// "...").
func Truncate(s string) string {
	if len(s) <= maxLogged {
		return s
	}
	return strings.ToValidUTF8(s[:maxLogged], "") + "..."
}

// LogFailure records e on l with message msg: at level Error for a server
// error, Info otherwise, with e's reason, code and text, the client_id
// parameter (if not empty, truncated) and attrs. The assertion is never
// logged. l may be nil.
func LogFailure(ctx context.Context, l *slog.Logger, msg string, e *verify.Error, clientID string, attrs ...slog.Attr) {
	level := slog.LevelInfo
	if e.Infrastructure() {
		level = slog.LevelError
	}
	if l == nil || !l.Enabled(ctx, level) {
		return
	}
	all := make([]slog.Attr, 0, 4+len(attrs))
	all = append(all, slog.String("reason", e.Reason), slog.String("code", e.Code), slog.String("error", e.Error()))
	if clientID != "" {
		all = append(all, slog.String("client_id", Truncate(clientID)))
	}
	l.LogAttrs(ctx, level, msg, append(all, attrs...)...)
}
