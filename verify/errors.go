package verify

import "errors"

// RFC 6749 §5.2 error codes carried by [Error.Code].
const (
	// CodeInvalidRequest: the request is malformed (a parameter missing or
	// repeated, two authentication methods, a body that is not a form).
	CodeInvalidRequest = "invalid_request"
	// CodeInvalidClient: client authentication failed.
	CodeInvalidClient = "invalid_client"
	// CodeServerError: the server could not decide (a store or key source is
	// unavailable, a host's own failure). The request must fail; it is not
	// the client's fault.
	CodeServerError = "server_error"
)

// A sentinel names one check: one way a request can fail. Every *Error
// built by this package or by [NewError] has one of the exported sentinel
// errors below as its check, and wraps it beside its cause.
type sentinel struct {
	reason, code, description string
}

func (c *sentinel) Error() string { return "verify: " + c.description }

func newCheck(reason, code, description string) *sentinel {
	return &sentinel{reason: reason, code: code, description: description}
}

// Sentinel errors, for errors.Is. Each names one check; its Reason is the
// word in parentheses of the package documentation's list of checks and
// its text ("verify: " and the description) is fixed and safe to show a
// client. This is the one set of reasons: the HTTP edge (package
// middleware, the integrations) uses the same sentinels through
// [NewError].
var (
	// The HTTP request (check 3), checked at the HTTP edge: the method is
	// not POST (HTTP 405 with Allow: POST); the body is not
	// application/x-www-form-urlencoded; it exceeds the edge's cap (HTTP
	// 413); it cannot be read or is not a valid form; the URL query carries
	// client credentials, or a client_id other than the body's.
	ErrMethodNotAllowed error = newCheck("method_not_allowed", CodeInvalidRequest, "the request method must be POST")
	ErrContentType      error = newCheck("content_type", CodeInvalidRequest, "the request body must be application/x-www-form-urlencoded")
	ErrBodyTooLarge     error = newCheck("body_too_large", CodeInvalidRequest, "the request body is too large")
	ErrMalformedBody    error = newCheck("malformed_body", CodeInvalidRequest, "the request body is not a valid form")
	ErrQueryParameter   error = newCheck("query_parameter", CodeInvalidRequest, "client authentication parameters must be sent in the request body")

	// The client authentication parameters (checks 1-3).
	ErrNoCredentials     error = newCheck("no_credentials", CodeInvalidClient, "no client authentication")
	ErrRepeatedParameter error = newCheck("repeated_parameter", CodeInvalidRequest, "client authentication parameter repeated")
	ErrMultipleMethods   error = newCheck("multiple_methods", CodeInvalidRequest, "more than one client authentication method")
	ErrMissingParameter  error = newCheck("missing_parameter", CodeInvalidRequest, "client_assertion or client_assertion_type missing")
	ErrAssertionType     error = newCheck("assertion_type", CodeInvalidClient, "unsupported client_assertion_type")

	// The assertion and the client (checks 4-16).
	ErrMalformed        error = newCheck("malformed", CodeInvalidClient, "client assertion is not a well-formed JWT")
	ErrCritical         error = newCheck("crit", CodeInvalidClient, "client assertion has unsupported critical header parameters")
	ErrType             error = newCheck("typ", CodeInvalidClient, "client assertion has the wrong typ")
	ErrIssuer           error = newCheck("iss", CodeInvalidClient, "client assertion iss missing or not the client")
	ErrSubject          error = newCheck("sub", CodeInvalidClient, "client assertion sub must equal iss")
	ErrClientIDMismatch error = newCheck("client_id_mismatch", CodeInvalidClient, "client_id does not match the assertion")
	ErrAlgorithm        error = newCheck("alg", CodeInvalidClient, "client assertion alg is not allowed")
	ErrUnknownClient    error = newCheck("unknown_client", CodeInvalidClient, "unknown client")
	ErrMethod           error = newCheck("method", CodeInvalidClient, "client is not registered for this authentication method")
	ErrKeyNotFound      error = newCheck("key_not_found", CodeInvalidClient, "no registered key of the client matches the assertion")
	ErrKeyIDRequired    error = newCheck("kid_required", CodeInvalidClient, "client has several keys: kid required")
	ErrKeyRejected      error = newCheck("key_rejected", CodeInvalidClient, "the client's key is not acceptable for this alg")
	ErrSignature        error = newCheck("signature", CodeInvalidClient, "client assertion signature is invalid")
	ErrAudience         error = newCheck("aud", CodeInvalidClient, "client assertion aud is not this server")
	ErrExpiryMissing    error = newCheck("exp_missing", CodeInvalidClient, "client assertion exp missing or not a number")
	ErrExpired          error = newCheck("expired", CodeInvalidClient, "client assertion has expired")
	ErrLifetime         error = newCheck("lifetime", CodeInvalidClient, "client assertion exp is too far in the future")
	ErrNotYetValid      error = newCheck("nbf", CodeInvalidClient, "client assertion is not yet valid")
	ErrIssuedAt         error = newCheck("iat", CodeInvalidClient, "client assertion iat is in the future or too old")
	ErrJTI              error = newCheck("jti", CodeInvalidClient, "client assertion jti missing or too long")
	ErrReplayed         error = newCheck("replayed", CodeInvalidClient, "client assertion was already used")

	// The server could not decide (check 19); ErrInternal is for a host's
	// or an integration's own failures.
	ErrClientsUnavailable error = newCheck("clients_unavailable", CodeServerError, "client registry unavailable")
	ErrKeysUnavailable    error = newCheck("keys_unavailable", CodeServerError, "client keys unavailable")
	ErrReplayUnavailable  error = newCheck("replay_unavailable", CodeServerError, "replay store unavailable")
	ErrInternal           error = newCheck("internal", CodeServerError, "internal server error")
)

// Error is the error Verify returns. It carries the failed check's stable
// reason, its RFC 6749 §5.2 code and a fixed description that is safe to
// show a client, and wraps both the check's sentinel (for errors.Is) and
// the cause, for operators (errors.Is(err, replay.ErrReplayed) holds on a
// replayed assertion, for instance).
//
// Build one with [NewError]; a struct literal wraps no sentinel. The text
// of Error (unlike Description) may include the cause; never send it to a
// client. It never contains the assertion or key material.
type Error struct {
	// Reason is a short stable identifier of the failed check, such as
	// "expired" or "signature"; fit for logs and metrics. It is one of the
	// reasons of the sentinel errors.
	Reason string
	// Code is CodeInvalidRequest, CodeInvalidClient or CodeServerError.
	Code string
	// Description is a fixed sentence naming the failed check. It never
	// echoes input.
	Description string
	// Err is the underlying cause, or nil.
	Err error

	sentinel *sentinel
}

// NewError returns the *Error of a failed check: its Reason, Code and
// Description are those of check, one of this package's sentinel errors,
// and it wraps check and cause (which may be nil). The HTTP edge (package
// middleware, the integrations) builds its errors with it, so that every
// failure carries one of the documented reasons.
//
// A check that is not one of the sentinels is a programming error; it
// yields an *Error for [ErrInternal] whose cause wraps both check and
// cause, so that nothing is lost.
func NewError(check, cause error) *Error {
	c, ok := check.(*sentinel)
	if !ok || c == nil {
		c = ErrInternal.(*sentinel)
		switch {
		case check == nil:
		case cause == nil:
			cause = check
		default:
			cause = errors.Join(check, cause)
		}
	}
	return &Error{Reason: c.reason, Code: c.code, Description: c.description, Err: cause, sentinel: c}
}

// Error returns "verify: " followed by the description and, if any, ": "
// and the cause's text. A cause that itself wraps the check's sentinel (as
// a KeySource's error wraps ErrKeyNotFound) names the check already: then
// the text is the cause's alone.
func (e *Error) Error() string {
	switch {
	case e.Err == nil:
		return "verify: " + e.Description
	case e.sentinel != nil && errors.Is(e.Err, e.sentinel):
		return e.Err.Error()
	}
	return "verify: " + e.Description + ": " + e.Err.Error()
}

// Unwrap returns the check's sentinel error and the cause.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.sentinel != nil {
		errs = append(errs, e.sentinel)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Infrastructure reports whether the failure is the server's (a client
// registry, key source or replay store that could not answer, or a host's
// own failure) rather than the client's. Such a request must fail, with a
// 5xx status over HTTP.
func (e *Error) Infrastructure() bool { return e.Code == CodeServerError }
