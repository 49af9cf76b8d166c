package middleware

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/pkjwt/pkjwt/internal/httpauth"
	"github.com/pkjwt/pkjwt/internal/tokenedge"
	"github.com/pkjwt/pkjwt/verify"
)

// DefaultMaxBodyBytes is the default cap on a request body: 64 KiB, ample
// for a token request with a 16 KiB assertion.
const DefaultMaxBodyBytes = tokenedge.DefaultMaxBodyBytes

// Config is the policy of the middleware [New] returns, under the
// configuration rule of package verify: the zero value is the default
// policy, each field documents its zero value, a negative number is an
// error. New copies it.
type Config struct {
	// MaxBodyBytes caps the request body, in bytes; a larger body fails
	// with verify.ErrBodyTooLarge (HTTP 413) and the connection is closed.
	// Zero: [DefaultMaxBodyBytes] (64 KiB).
	MaxBodyBytes int64
	// PassThrough lets a request whose body has neither client_assertion
	// nor client_assertion_type through to the wrapped handler without
	// authenticating it, so that a server can keep client_secret_basic,
	// client_secret_post or public clients beside private_key_jwt. A
	// request that carries either parameter is still verified (and a
	// half-present pair is rejected). The wrapped handler MUST
	// authenticate a request for which [ResultFrom] reports false. False:
	// a request without an assertion fails with invalid_client.
	PassThrough bool
	// ErrorWriter writes the response to a failed request. Nil:
	// [WriteError].
	ErrorWriter ErrorWriter
	// GenericDescriptions replaces the error_description of every failure
	// with a generic sentence per error code ("client authentication
	// failed", ...), so that a client cannot learn which check failed; the
	// detail still reaches the Logger and the ErrorWriter (err.Reason,
	// err.Err). False: the failed check's fixed description (always a
	// generic sentence for server errors).
	GenericDescriptions bool
	// Logger records every failure: at level Error for infrastructure
	// failures, Info otherwise, with its reason, code and error text and
	// the client_id parameter, if any; successes are recorded at level
	// Debug. The assertion is never logged. Nil: nothing is logged.
	Logger *slog.Logger
	// Realm is the realm of the WWW-Authenticate challenge sent when a
	// client that used the Authorization header fails with invalid_client
	// (RFC 6749 §5.2). It must not contain control characters. Empty: the
	// verifier's issuer identifier.
	Realm string
}

// New returns a middleware that authenticates each request to the wrapped
// handler with private_key_jwt (RFC 7523 §2.2), verified by v. It suits a
// token, introspection (RFC 7662), revocation (RFC 7009) or pushed
// authorization (RFC 9126) endpoint, behind any router built on net/http.
//
// The middleware accepts only POST requests with an
// application/x-www-form-urlencoded body of bounded size. It reads and
// parses the body once, takes the client authentication parameters from
// it (never from the URL query) and counts an Authorization header, of any
// scheme, as a second authentication method. On success it stores the
// [*verify.Result] in the request context (see [ResultFrom]) and calls the
// wrapped handler with the body restored: r.Body reads from the start,
// r.PostForm and r.Form are set as r.ParseForm sets them. On failure it
// writes an RFC 6749 §5.2 error response (see [WriteError], [StatusCode])
// and does not call the wrapped handler. Every answer, the wrapped
// handler's included, carries Cache-Control: no-store and Pragma: no-cache
// (RFC 6749 §5.1), which a handler may change. If an outer handler has
// already parsed the form (r.PostForm is set), the middleware takes the
// parameters from r.PostForm and leaves the body, already consumed, alone.
//
// Only POST is accepted, so a CORS middleware that answers preflight
// OPTIONS requests must wrap this one, not the other way round.
//
// New returns an error if v is nil or cfg is invalid; the function it
// returns panics if next is nil. The middleware is safe for concurrent use.
func New(v *verify.Verifier, cfg Config) (func(http.Handler) http.Handler, error) {
	if v == nil {
		return nil, errors.New("middleware: nil Verifier")
	}
	maxBody, err := tokenedge.BodyCap("middleware", cfg.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	cfg.MaxBodyBytes = maxBody
	if cfg.ErrorWriter == nil {
		cfg.ErrorWriter = WriteError
	}
	realm := cfg.Realm
	if realm == "" {
		realm = v.Issuer()
	}
	if strings.ContainsFunc(realm, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, errors.New("middleware: realm contains control characters")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &middleware{v: v, cfg: cfg, realm: quote(realm)}
	return func(next http.Handler) http.Handler {
		if next == nil {
			panic("middleware: nil handler")
		}
		return &handler{m: m, next: next}
	}, nil
}

type middleware struct {
	v     *verify.Verifier
	cfg   Config
	realm string // the quoted realm of WWW-Authenticate challenges
}

type handler struct {
	m    *middleware
	next http.Handler
}

type resultKey struct{}

// ResultFrom returns the verified client authentication the middleware
// stored in ctx, and whether there is one. It reports false in a handler
// reached through [Config.PassThrough] without an assertion.
//
// The authenticated client is res.ClientID; a handler MUST NOT take it
// from the client_id parameter instead.
func ResultFrom(ctx context.Context) (*verify.Result, bool) {
	res, ok := ctx.Value(resultKey{}).(*verify.Result)
	return res, ok && res != nil
}

// NewContext returns a copy of ctx carrying res, as the middleware passes it
// to the wrapped handler; for tests of handlers.
func NewContext(ctx context.Context, res *verify.Result) context.Context {
	return context.WithValue(ctx, resultKey{}, res)
}

// ServeHTTP authenticates r and, if it passes, calls the wrapped handler.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := h.m
	if r.Method != http.MethodPost {
		m.fail(w, r, verify.NewError(verify.ErrMethodNotAllowed, nil), "")
		return
	}
	if !tokenedge.FormContentType(r.Header) {
		m.fail(w, r, verify.NewError(verify.ErrContentType, nil), "")
		return
	}

	// An outer handler may have parsed the form already, consuming the
	// body: then its PostForm is all there is.
	post, body, parsed := r.PostForm, []byte(nil), r.PostForm != nil
	if !parsed {
		var e *verify.Error
		if body, post, e = tokenedge.ReadForm(w, r, m.cfg.MaxBodyBytes); e != nil {
			if errors.Is(e, verify.ErrBodyTooLarge) {
				w.Header().Set("Connection", "close")
			}
			m.fail(w, r, e, "")
			return
		}
	}
	clientID := first(post["client_id"])
	if e := tokenedge.CheckQuery(r.URL.RawQuery, post); e != nil {
		m.fail(w, r, e, clientID)
		return
	}

	ctx := r.Context()
	if tokenedge.HasAssertion(post) || !m.cfg.PassThrough {
		req, err := verify.RequestFromForm(post, r.Header)
		if err != nil {
			m.fail(w, r, tokenedge.AsError(err), clientID)
			return
		}
		res, err := m.v.Verify(ctx, req)
		if err != nil {
			m.fail(w, r, tokenedge.AsError(err), clientID)
			return
		}
		if m.cfg.Logger.Enabled(ctx, slog.LevelDebug) {
			m.cfg.Logger.LogAttrs(ctx, slog.LevelDebug, "pkjwt: client authenticated",
				slog.String("client_id", res.ClientID), slog.String("kid", res.KeyID),
				slog.String("alg", res.Algorithm), slog.String("jti", res.JTI),
				slog.String("path", r.URL.Path))
		}
		ctx = NewContext(ctx, res)
	}

	r = r.WithContext(ctx)
	if !parsed {
		tokenedge.Restore(r, body, post)
	}
	tokenedge.SetNoStore(w.Header()) // RFC 6749 §5.1; the handler may change it
	h.next.ServeHTTP(w, r)
}

// fail logs e and writes the error response.
func (m *middleware) fail(w http.ResponseWriter, r *http.Request, e *verify.Error, clientID string) {
	tokenedge.LogFailure(r.Context(), m.cfg.Logger, "pkjwt: client authentication failed", e, clientID,
		slog.String("path", r.URL.Path))
	h := w.Header()
	tokenedge.SetNoStore(h)
	if errors.Is(e, verify.ErrMethodNotAllowed) {
		h.Set("Allow", http.MethodPost)
	}
	if e.Code == verify.CodeInvalidClient {
		// RFC 6749 §5.2: answer an Authorization header of the client's
		// with a challenge of the same scheme.
		if scheme, ok := httpauth.Scheme(r.Header); ok {
			h.Set("WWW-Authenticate", challengeScheme(scheme)+" realm="+m.realm)
		}
	}
	if m.cfg.GenericDescriptions || e.Infrastructure() {
		c := *e
		c.Description = generic(e.Code)
		e = &c
	}
	m.cfg.ErrorWriter(w, r, e)
}

// challengeScheme returns the scheme of the WWW-Authenticate challenge
// answering an Authorization header of the given scheme: the same scheme
// (RFC 6749 §5.2), canonically "Basic" for Basic, and "Basic" for one that
// is not a token and cannot be echoed.
func challengeScheme(scheme string) string {
	if strings.EqualFold(scheme, "Basic") || !isToken(scheme) || len(scheme) > 64 {
		return "Basic"
	}
	return scheme
}

// isToken reports whether s is an RFC 9110 §5.6.2 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// quote returns s as an RFC 9110 quoted-string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}
