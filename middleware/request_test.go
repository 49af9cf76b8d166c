package middleware_test

import (
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/pkjwt/pkjwt/middleware"
	"github.com/pkjwt/pkjwt/verify"
)

func TestRequestFrom(t *testing.T) {
	form := url.Values{"client_assertion_type": {verify.AssertionType}, "client_assertion": {"a.b.c"}, "client_id": {"c1"}}
	for _, tt := range []struct {
		name   string
		form   url.Values
		header http.Header
		other  string
		err    error
	}{
		{name: "assertion only", form: form},
		{name: "Basic", form: form, header: http.Header{"Authorization": {"Basic YzE6cw=="}}, other: "client_secret_basic"},
		{name: "basic in lower case", form: form, header: http.Header{"Authorization": {"basic YzE6cw=="}}, other: "client_secret_basic"},
		{name: "Bearer", form: form, header: http.Header{"Authorization": {"Bearer t"}}, other: "authorization_header"},
		{name: "empty header", form: form, header: http.Header{"Authorization": {""}}, other: "authorization_header"},
		{name: "client_secret parameter first", form: url.Values{"client_assertion": {"a"}, "client_secret": {"s"}},
			header: http.Header{"Authorization": {"Basic x"}}, other: "client_secret_post"},
		{name: "repeated", form: url.Values{"client_assertion": {"a", "b"}}, err: verify.ErrRepeatedParameter},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := middleware.RequestFrom(tt.form, tt.header)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if req.OtherAuthentication != tt.other {
				t.Errorf("OtherAuthentication %q, want %q", req.OtherAuthentication, tt.other)
			}
		})
	}
}
