package verify

import "strings"

// RFC 6749 §5.2 error codes carried by [Error.Code].
const (
	// CodeInvalidRequest: the request is malformed (a parameter missing or
	// repeated, two authentication methods).
	CodeInvalidRequest = "invalid_request"
	// CodeInvalidClient: client authentication failed.
	CodeInvalidClient = "invalid_client"
	// CodeServerError: the server could not decide (a store or key source is
	// unavailable). The request must fail; it is not the client's fault.
	CodeServerError = "server_error"
)

// A check is one way a request can fail. Every *Error wraps exactly one of
// the exported sentinel errors below, which are checks.
type check struct {
	reason, code, description string
}

func (c *check) Error() string { return "verify: " + c.description }

func newCheck(reason, code, description string) *check {
	c := &check{reason: reason, code: code, description: description}
	allChecks = append(allChecks, c)
	return c
}

// Sentinel errors, for errors.Is. Each names one check; its text is the
// fixed description that is safe to show a client.
var (
	// Request shape (RULES 1-3).
	ErrNoCredentials      error = newCheck("no_credentials", CodeInvalidClient, "no client authentication")
	ErrAssertionType      error = newCheck("assertion_type", CodeInvalidClient, "unsupported client_assertion_type")
	ErrMissingParameter   error = newCheck("missing_parameter", CodeInvalidRequest, "client_assertion or client_assertion_type missing")
	ErrRepeatedParameter  error = newCheck("repeated_parameter", CodeInvalidRequest, "client authentication parameter repeated")
	ErrMultipleMethods    error = newCheck("multiple_methods", CodeInvalidRequest, "more than one client authentication method")
	ErrClientIDMismatch   error = newCheck("client_id_mismatch", CodeInvalidClient, "client_id does not match the assertion")
	ErrMalformed          error = newCheck("malformed", CodeInvalidClient, "client assertion is not a well-formed JWT")
	ErrCritical           error = newCheck("crit", CodeInvalidClient, "client assertion has unsupported critical header parameters")
	ErrType               error = newCheck("typ", CodeInvalidClient, "client assertion has the wrong typ")
	ErrAlgorithm          error = newCheck("alg", CodeInvalidClient, "client assertion alg is not allowed")
	ErrIssuer             error = newCheck("iss", CodeInvalidClient, "client assertion iss missing or not the client")
	ErrSubject            error = newCheck("sub", CodeInvalidClient, "client assertion sub must equal iss")
	ErrUnknownClient      error = newCheck("unknown_client", CodeInvalidClient, "unknown client")
	ErrMethod             error = newCheck("method", CodeInvalidClient, "client is not registered for this authentication method")
	ErrKeyNotFound        error = newCheck("key_not_found", CodeInvalidClient, "no registered key of the client matches the assertion")
	ErrKeyIDRequired      error = newCheck("kid_required", CodeInvalidClient, "client has several keys: kid required")
	ErrKeyRejected        error = newCheck("key_rejected", CodeInvalidClient, "the client's key is not acceptable for this alg")
	ErrSignature          error = newCheck("signature", CodeInvalidClient, "client assertion signature is invalid")
	ErrAudience           error = newCheck("aud", CodeInvalidClient, "client assertion aud is not this server")
	ErrExpiryMissing      error = newCheck("exp_missing", CodeInvalidClient, "client assertion exp missing or not a number")
	ErrExpired            error = newCheck("expired", CodeInvalidClient, "client assertion has expired")
	ErrLifetime           error = newCheck("lifetime", CodeInvalidClient, "client assertion exp is too far in the future")
	ErrNotYetValid        error = newCheck("nbf", CodeInvalidClient, "client assertion is not yet valid")
	ErrIssuedAt           error = newCheck("iat", CodeInvalidClient, "client assertion iat is in the future or too old")
	ErrJTI                error = newCheck("jti", CodeInvalidClient, "client assertion jti missing or too long")
	ErrReplayed           error = newCheck("replayed", CodeInvalidClient, "client assertion was already used")
	ErrClientsUnavailable error = newCheck("clients_unavailable", CodeServerError, "client registry unavailable")
	ErrKeysUnavailable    error = newCheck("keys_unavailable", CodeServerError, "client keys unavailable")
	ErrReplayUnavailable  error = newCheck("replay_unavailable", CodeServerError, "replay store unavailable")
)

// Error is the error Verify returns. It carries the failed check's stable
// reason, its RFC 6749 §5.2 code and a fixed description that is safe to
// show a client, and wraps both the check's sentinel (for errors.Is) and
// the cause, for operators.
//
// The text of Error (unlike Description) may include the cause; never send
// it to a client. It never contains the assertion or key material.
type Error struct {
	// Reason is a short stable identifier of the failed check, such as
	// "expired" or "signature"; fit for logs and metrics.
	Reason string
	// Code is CodeInvalidRequest, CodeInvalidClient or CodeServerError.
	Code string
	// Description is a fixed sentence naming the failed check. It never
	// echoes input.
	Description string
	// Err is the underlying cause, or nil.
	Err error

	check *check
}

func newError(sentinel error, cause error) *Error {
	c := sentinel.(*check)
	return &Error{Reason: c.reason, Code: c.code, Description: c.description, Err: cause, check: c}
}

// Error returns "verify: " followed by the description and, if any, the
// cause. A cause that itself wraps the check's sentinel (as a KeySource's
// error wraps ErrKeyNotFound) does not repeat the description.
func (e *Error) Error() string {
	if e.Err == nil {
		return "verify: " + e.Description
	}
	cause := e.Err.Error()
	if e.check != nil {
		cause = strings.TrimSuffix(cause, ": "+e.check.Error())
	}
	return "verify: " + e.Description + ": " + cause
}

// Unwrap returns the check's sentinel error and the cause.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.check != nil {
		errs = append(errs, e.check)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Infrastructure reports whether the failure is the server's (a client
// registry, key source or replay store that could not answer) rather than
// the client's. Such a request must fail, with a 5xx status over HTTP.
func (e *Error) Infrastructure() bool { return e.Code == CodeServerError }
