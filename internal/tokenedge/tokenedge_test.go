package tokenedge_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pkjwt/pkjwt/internal/edgetest"
	"github.com/pkjwt/pkjwt/internal/tokenedge"
	"github.com/pkjwt/pkjwt/verify"
)

func TestCheckQuery(t *testing.T) {
	assertion := url.Values{"client_assertion_type": {verify.AssertionType}, "client_assertion": {"a.b.c"}, "client_id": {"c1"}}
	basic := url.Values{"grant_type": {"client_credentials"}}
	tests := []struct {
		name  string
		query string
		body  url.Values
		bad   bool
	}{
		{"no query", "", assertion, false},
		{"unrelated query", "tenant=t1&x=1", assertion, false},
		{"query that does not parse", "%zz", assertion, false},
		{"client_assertion in the query", "client_assertion=a.b.c", basic, true},
		{"empty client_assertion_type in the query", "client_assertion_type=", basic, true},
		{"client_secret in the query, no assertion", "client_secret=s", basic, true},
		{"client_secret in the query, assertion", "client_secret=s", assertion, true},
		{"client_id in the query equal to the body's", "client_id=c1", assertion, false},
		{"client_id in the query differs", "client_id=c2", assertion, true},
		{"client_id twice in the query", "client_id=c1&client_id=c1", assertion, true},
		{"client_id in the query only", "client_id=c1", url.Values{"client_assertion": {"a.b.c"}}, true},
		{"client_id in the query, no assertion", "client_id=c2", basic, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tokenedge.CheckQuery(tt.query, tt.body)
			if !tt.bad {
				if e != nil {
					t.Fatalf("CheckQuery = %v, want nil", e)
				}
				return
			}
			if !errors.Is(e, verify.ErrQueryParameter) || e.Code != verify.CodeInvalidRequest {
				t.Fatalf("CheckQuery = %v, want ErrQueryParameter", e)
			}
		})
	}
}

func TestRepeated(t *testing.T) {
	tests := []struct {
		form url.Values
		want string
	}{
		{url.Values{"grant_type": {"client_credentials"}, "scope": {"a b"}}, ""},
		{url.Values{"grant_type": {"client_credentials", "refresh_token"}}, "grant_type"},
		{url.Values{"scope": {"a", "b"}, "grant_type": {"x", "y"}}, "grant_type"},
		{url.Values{"resource": {"https://a", "https://b"}, "audience": {"a", "b"}}, ""},
		{url.Values{"client_assertion": {"", ""}}, "client_assertion"},
	}
	for _, tt := range tests {
		got, ok := tokenedge.Repeated(tt.form)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("Repeated(%v) = %q, %v; want %q", tt.form, got, ok, tt.want)
		}
	}
}

// parsed returns what net/http's ParseForm makes of body and query.
func parsed(t testing.TB, body, query string) (post, form url.Values, ok bool) {
	r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
	r.URL.RawQuery = query
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if r.ParseForm() != nil {
		return nil, nil, false
	}
	return r.PostForm, r.Form, true
}

func TestBodyForm(t *testing.T) {
	post, form, _ := parsed(t, "client_id=c1&grant_type=client_credentials&x=1", "client_id=c1&y=2&x=3")
	got := tokenedge.BodyForm(form, "client_id=c1&y=2&x=3")
	if diff := cmp.Diff(post, got); diff != "" {
		t.Errorf("BodyForm (-want +got):\n%s", diff)
	}
	if len(form["client_id"]) != 2 {
		t.Errorf("BodyForm changed its argument: %v", form)
	}
}

// FuzzBodyForm: BodyForm recovers the body's parameters from what
// net/http's ParseForm merged, for any body and query it accepts.
func FuzzBodyForm(f *testing.F) {
	f.Add("a=1&b=2", "a=3")
	f.Add("client_id=c1", "client_id=c1&client_id=c2")
	f.Add("", "x=1")
	f.Add("x=1&x=2", "")
	f.Fuzz(func(t *testing.T, body, query string) {
		post, form, ok := parsed(t, body, query)
		if !ok {
			return
		}
		got := tokenedge.BodyForm(form, query)
		if len(post) == 0 && len(got) == 0 {
			return
		}
		if diff := cmp.Diff(post, got); diff != "" {
			t.Errorf("body %q query %q (-want +got):\n%s", body, query, diff)
		}
	})
}

func TestReadForm(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		limit int64
		want  error
	}{
		{"form", "a=1&b=2", 64, nil},
		{"empty", "", 64, nil},
		{"at the cap", "a=" + strings.Repeat("x", 62), 64, nil},
		{"over the cap", "a=" + strings.Repeat("x", 63), 64, verify.ErrBodyTooLarge},
		{"bad escape", "a=%zz", 64, verify.ErrMalformedBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, length := range []int64{int64(len(tt.body)), -1} { // announced and chunked
				r := httptest.NewRequest(http.MethodPost, "/token?q=1", strings.NewReader(tt.body))
				r.ContentLength = length
				body, form, e := tokenedge.ReadForm(nil, r, tt.limit)
				if tt.want != nil {
					if !errors.Is(e, tt.want) {
						t.Fatalf("length %d: error %v, want %v", length, e, tt.want)
					}
					continue
				}
				if e != nil {
					t.Fatalf("length %d: %v", length, e)
				}
				want, _ := url.ParseQuery(tt.body)
				if string(body) != tt.body || !cmp.Equal(want, form) {
					t.Fatalf("length %d: got %q %v", length, body, form)
				}
				tokenedge.Restore(r, body, form)
				again, _, e := tokenedge.ReadForm(nil, r, tt.limit)
				if e != nil || string(again) != tt.body {
					t.Errorf("after Restore: %q %v", again, e)
				}
				if r.Form.Get("q") != "1" || r.PostForm.Get("q") != "" {
					t.Errorf("after Restore: Form %v PostForm %v", r.Form, r.PostForm)
				}
			}
		})
	}
}

func TestFormContentType(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/x-www-form-urlencoded":                true,
		"application/x-www-form-urlencoded; charset=UTF-8": true,
		"Application/X-WWW-Form-Urlencoded":                true,
		"application/json":                                 false,
		"multipart/form-data; boundary=x":                  false,
		"":                                                 false,
	} {
		h := http.Header{"Content-Type": {ct}}
		if got := tokenedge.FormContentType(h); got != want {
			t.Errorf("%q: %v, want %v", ct, got, want)
		}
	}
	if tokenedge.FormContentType(http.Header{"Content-Type": {"application/x-www-form-urlencoded", "application/x-www-form-urlencoded"}}) {
		t.Error("two Content-Type fields accepted")
	}
}

func TestDescription(t *testing.T) {
	server := verify.NewError(verify.ErrReplayUnavailable, errors.New("redis: connection refused"))
	if got := tokenedge.Description(server); got != tokenedge.ServerErrorDescription {
		t.Errorf("server error: %q", got)
	}
	client := verify.NewError(verify.ErrExpired, nil)
	if got := tokenedge.Description(client); got != client.Description {
		t.Errorf("client error: %q", got)
	}
	if e := tokenedge.AsError(errors.New("boom")); !errors.Is(e, verify.ErrInternal) || !e.Infrastructure() {
		t.Errorf("AsError(plain) = %v", e)
	}
	if e := tokenedge.AsError(client); e != client {
		t.Errorf("AsError(*verify.Error) = %v", e)
	}
}

func TestLogFailure(t *testing.T) {
	h := &edgetest.Records{}
	l := slog.New(h)
	ctx := context.Background()
	tokenedge.LogFailure(ctx, l, "refused", verify.NewError(verify.ErrExpired, nil), strings.Repeat("é", 300), slog.String("path", "/token"))
	tokenedge.LogFailure(ctx, l, "refused", verify.NewError(verify.ErrReplayUnavailable, errors.New("down")), "")
	tokenedge.LogFailure(ctx, nil, "refused", verify.NewError(verify.ErrExpired, nil), "c1")
	got := h.Take()
	if len(got) != 2 {
		t.Fatalf("%d records, want 2", len(got))
	}
	attrs := edgetest.Attrs(got[0])
	if got[0].Level != slog.LevelInfo || attrs["reason"] != "expired" || attrs["code"] != "invalid_client" || attrs["path"] != "/token" {
		t.Errorf("first record: %v %v", got[0].Level, attrs)
	}
	if id := attrs["client_id"]; len(id) > 259 || !strings.HasSuffix(id, "...") {
		t.Errorf("client_id not truncated: %d bytes", len(id))
	}
	if got[1].Level != slog.LevelError {
		t.Errorf("server error logged at %v", got[1].Level)
	}
}
