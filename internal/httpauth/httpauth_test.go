package httpauth_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/pkjwt/pkjwt/internal/httpauth"
)

func TestScheme(t *testing.T) {
	for _, tt := range []struct {
		h      http.Header
		scheme string
		ok     bool
	}{
		{nil, "", false},
		{http.Header{}, "", false},
		{http.Header{"Authorization": {"Basic YzE6cw=="}}, "Basic", true},
		{http.Header{"Authorization": {"  bearer t"}}, "bearer", true},
		{http.Header{"Authorization": {""}}, "", true},
		{http.Header{"Authorization": {"DPoP x", "Basic y"}}, "DPoP", true},
		{http.Header{"authorization": {"Basic y"}}, "", false}, // not canonical: not what net/http builds
	} {
		if scheme, ok := httpauth.Scheme(tt.h); scheme != tt.scheme || ok != tt.ok {
			t.Errorf("Scheme(%v) = %q, %v; want %q, %v", tt.h, scheme, ok, tt.scheme, tt.ok)
		}
	}
}

func ExampleScheme() {
	fmt.Println(httpauth.Scheme(http.Header{"Authorization": {"Basic YzE6cw=="}}))
	// Output: Basic true
}
