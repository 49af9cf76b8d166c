package sign_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"golang.org/x/oauth2"

	"github.com/pkjwt/pkjwt/sign"
)

// newAPIServer serves a resource that records the Authorization header it
// receives into got.
func newAPIServer(t *testing.T, got *string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*got = r.Header.Get("Authorization")
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestDiscoverPkjwt(t *testing.T) {
	ts, s := newClient(t)
	md, err := sign.Discover(context.Background(), ts.issuer)
	if err != nil {
		t.Fatal(err)
	}
	if md.Issuer != ts.issuer || md.TokenEndpoint != ts.tokenURL {
		t.Errorf("metadata %+v", md)
	}
	if err := md.Supports(s.Algorithm()); err != nil {
		t.Error(err)
	}
	if err := md.Supports("HS256"); !errors.Is(err, sign.ErrNotSupported) {
		t.Errorf("HS256: %v", err)
	}
}

// metadataServer serves docs by path; others get 404. It returns its URL.
func metadataServer(t *testing.T, docs func(base string) map[string]any) string {
	t.Helper()
	var base string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc, ok := docs(base)[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if status, ok := doc.(int); ok {
			w.WriteHeader(status)
			return
		}
		json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(srv.Close)
	base = srv.URL
	return base
}

func TestDiscover(t *testing.T) {
	good := func(issuer string) map[string]any {
		return map[string]any{
			"issuer":                                issuer,
			"token_endpoint":                        issuer + "/token",
			"token_endpoint_auth_methods_supported": []string{"private_key_jwt"},
			"token_endpoint_auth_signing_alg_values_supported": []string{"ES256"},
		}
	}
	for _, tc := range []struct {
		name string
		path string // of the issuer
		docs func(base, issuer string) map[string]any
		want error
	}{
		{"RFC 8414", "", func(b, iss string) map[string]any {
			return map[string]any{"/.well-known/oauth-authorization-server": good(iss)}
		}, nil},
		{"RFC 8414 with path", "/tenant1", func(b, iss string) map[string]any {
			return map[string]any{"/.well-known/oauth-authorization-server/tenant1": good(iss)}
		}, nil},
		{"OpenID Connect fallback", "/tenant1", func(b, iss string) map[string]any {
			return map[string]any{"/tenant1/.well-known/openid-configuration": good(iss)}
		}, nil},
		{"issuer mismatch", "", func(b, iss string) map[string]any {
			return map[string]any{"/.well-known/oauth-authorization-server": good("https://evil.example.com")}
		}, sign.ErrDiscovery},
		{"trailing slash is another issuer", "", func(b, iss string) map[string]any {
			return map[string]any{"/.well-known/oauth-authorization-server": good(iss + "/")}
		}, sign.ErrDiscovery},
		{"relative token endpoint", "", func(b, iss string) map[string]any {
			d := good(iss)
			d["token_endpoint"] = "/token"
			return map[string]any{"/.well-known/oauth-authorization-server": d}
		}, sign.ErrDiscovery},
		{"server error does not fall back", "", func(b, iss string) map[string]any {
			return map[string]any{
				"/.well-known/oauth-authorization-server": 500,
				"/.well-known/openid-configuration":       good(iss),
			}
		}, sign.ErrDiscovery},
		{"nothing", "", func(b, iss string) map[string]any { return nil }, sign.ErrDiscovery},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := metadataServer(t, func(base string) map[string]any { return tc.docs(base, base+tc.path) })
			md, err := sign.Discover(context.Background(), base+tc.path)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Discover = %v, want %v", err, tc.want)
			}
			if err == nil && (md.Issuer != base+tc.path || md.TokenEndpoint != base+tc.path+"/token") {
				t.Errorf("metadata %+v", md)
			}
		})
	}
	for _, bad := range []string{"", "as.example.com", "https://as.example.com?x=1", "https://as.example.com#f", "ftp://as.example.com"} {
		if _, err := sign.Discover(context.Background(), bad); !errors.Is(err, sign.ErrInvalidConfig) {
			t.Errorf("Discover(%q) = %v, want ErrInvalidConfig", bad, err)
		}
	}
	// The HTTP client comes from the context, as in x/oauth2.
	called := false
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		called = true
		return nil, errors.New("offline")
	})}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, client)
	if _, err := sign.Discover(ctx, "https://as.example.com"); !errors.Is(err, sign.ErrDiscovery) || !called {
		t.Errorf("context client: called %v, %v", called, err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestSupports(t *testing.T) {
	for _, tc := range []struct {
		md   sign.Metadata
		want error
	}{
		{sign.Metadata{TokenEndpointAuthMethods: []string{"private_key_jwt"}, TokenEndpointAuthSigningAlgs: []string{"PS256", "ES256"}}, nil},
		{sign.Metadata{TokenEndpointAuthMethods: []string{"client_secret_basic"}, TokenEndpointAuthSigningAlgs: []string{"ES256"}}, sign.ErrNotSupported},
		{sign.Metadata{TokenEndpointAuthSigningAlgs: []string{"ES256"}}, sign.ErrNotSupported},
		{sign.Metadata{TokenEndpointAuthMethods: []string{"private_key_jwt"}, TokenEndpointAuthSigningAlgs: []string{"RS256"}}, sign.ErrNotSupported},
		{sign.Metadata{TokenEndpointAuthMethods: []string{"private_key_jwt"}}, sign.ErrNotSupported},
	} {
		if err := tc.md.Supports("ES256"); !errors.Is(err, tc.want) {
			t.Errorf("%+v: %v, want %v", tc.md, err, tc.want)
		}
	}
}
