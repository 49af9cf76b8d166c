package edgetest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/pkjwt/pkjwt/internal/edgetest"
)

// counting is a testing.TB that counts the errors it is told of.
type counting struct {
	testing.TB
	errors int
}

func (c *counting) Errorf(string, ...any) { c.errors++ }
func (c *counting) Helper()               {}

func TestCheckRefusal(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		store  bool
		errors int
	}{
		{"refusal", 401, `{"error":"invalid_client"}`, true, 0},
		{"server error", 500, `{"error":"server_error"}`, true, 0},
		{"code outside RFC 6749", 401, `{"error":"request_unauthorized"}`, true, 1},
		{"success", 200, `{"active":false}`, true, 1},
		{"not JSON", 400, `oops`, true, 1},
		{"no no-store", 400, `{"error":"invalid_request"}`, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if tt.store {
					w.Header().Set("Cache-Control", "no-store")
					w.Header().Set("Pragma", "no-cache")
				}
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}))
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			c := &counting{TB: t}
			edgetest.CheckRefusal(c, resp)
			if c.errors != tt.errors {
				t.Errorf("%d errors, want %d", c.errors, tt.errors)
			}
		})
	}
}
