package middleware

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/pkjwt/pkjwt/internal/tokenedge"
	"github.com/pkjwt/pkjwt/verify"
)

// Generic descriptions, sent under [Config.GenericDescriptions] and, for
// server errors, always.
const (
	genericInvalidClient  = "client authentication failed"
	genericInvalidRequest = "the request is malformed"
)

// generic returns the description of code that names no check.
func generic(code string) string {
	switch code {
	case verify.CodeInvalidClient:
		return genericInvalidClient
	case verify.CodeInvalidRequest:
		return genericInvalidRequest
	}
	return tokenedge.ServerErrorDescription
}

// An ErrorWriter writes the response to a request that failed client
// authentication (or an HTTP-level check). err.Code is the RFC 6749 §5.2
// error code; err.Description is safe to send to the client (it is generic
// for server errors and under [Config.GenericDescriptions]); err.Reason and
// err.Err are for operators and MUST NOT be sent. [StatusCode] gives the
// status the default writer uses.
//
// Before an ErrorWriter runs, the middleware has set Cache-Control:
// no-store and Pragma: no-cache, Allow: POST for [verify.ErrMethodNotAllowed], and the
// WWW-Authenticate challenge RFC 6749 §5.2 requires for invalid_client
// when the client used the Authorization header.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, err *verify.Error)

var _ ErrorWriter = WriteError

// StatusCode returns the HTTP status for err: 405 for [verify.ErrMethodNotAllowed], 413 for
// [verify.ErrBodyTooLarge], 503 for an infrastructure failure (err.Infrastructure:
// the server could not decide, the client may retry), 401 for
// invalid_client and 400 otherwise (invalid_request).
func StatusCode(err *verify.Error) int {
	switch {
	case errors.Is(err, verify.ErrMethodNotAllowed):
		return http.StatusMethodNotAllowed
	case errors.Is(err, verify.ErrBodyTooLarge):
		return http.StatusRequestEntityTooLarge
	case err.Infrastructure():
		return http.StatusServiceUnavailable
	case err.Code == verify.CodeInvalidClient:
		return http.StatusUnauthorized
	}
	return http.StatusBadRequest
}

// errorBody is the RFC 6749 §5.2 error response.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// WriteError is the default [ErrorWriter]. It writes the RFC 6749 §5.2 JSON
// object {"error": err.Code, "error_description": err.Description} with
// status [StatusCode](err), Content-Type: application/json, Cache-Control:
// no-store and Pragma: no-cache. For an infrastructure failure it writes
// "server_error" with a generic description, whatever err says.
func WriteError(w http.ResponseWriter, _ *http.Request, err *verify.Error) {
	body := errorBody{Error: err.Code, Description: err.Description}
	if err.Infrastructure() {
		body = errorBody{Error: verify.CodeServerError, Description: tokenedge.ServerErrorDescription}
	}
	b, _ := json.Marshal(body) // two strings: cannot fail
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(StatusCode(err))
	w.Write(append(b, '\n'))
}
