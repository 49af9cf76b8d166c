package sign_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/sign"
	"github.com/pkjwt/pkjwt/verify"
)

// newClient returns a token server and a signer of the client registered
// there.
func newClient(t *testing.T) (*tokenServer, *sign.Signer) {
	t.Helper()
	key := testkeys.Signer(testkeys.P256)
	kid, err := sign.Thumbprint(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	ts := newTokenServer(t, clientID, verify.Key{ID: kid, Public: key.Public()})
	s, err := sign.NewSigner(clientID, key, ts.issuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ts, s
}

func TestClientCredentialsToken(t *testing.T) {
	ts, s := newClient(t)
	cc, err := sign.NewClientCredentials(s, ts.tokenURL, &sign.TokenConfig{
		Scopes:         []string{"read", "write"},
		Resources:      []string{"https://api.example.com/", "https://files.example.com/"},
		Audience:       "https://api.example.com",
		EndpointParams: url.Values{"tenant": {"t1"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var jtis []string
	for range 3 {
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if tok.AccessToken == "" || tok.TokenType != "Bearer" || time.Until(tok.Expiry) < 59*time.Minute {
			t.Errorf("token %+v", tok)
		}
		form := ts.lastForm()
		_, c := decode(t, form.Get("client_assertion"))
		jtis = append(jtis, c["jti"].(string))
		form.Del("client_assertion")
		want := url.Values{
			"grant_type":            {"client_credentials"},
			"client_id":             {clientID},
			"client_assertion_type": {verify.AssertionType},
			"scope":                 {"read write"},
			"resource":              {"https://api.example.com/", "https://files.example.com/"},
			"audience":              {"https://api.example.com"},
			"tenant":                {"t1"},
		}
		if diff := cmp.Diff(want, form); diff != "" {
			t.Errorf("form (-want +got):\n%s", diff)
		}
	}
	// No cache, a fresh assertion each time (the server refuses a replay),
	// and never an Authorization header, so no failed first round trip.
	if n := ts.requests(); n != 3 {
		t.Errorf("%d requests for 3 tokens", n)
	}
	if jtis[0] == jtis[1] || jtis[1] == jtis[2] {
		t.Errorf("jti reused: %v", jtis)
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, h := range ts.headers {
		if h.Get("Authorization") != "" {
			t.Errorf("Authorization header sent: %q", h.Get("Authorization"))
		}
	}
}

// TestClientCredentialsRetrieveError checks that a refusal surfaces as
// *oauth2.RetrieveError with the RFC 6749 error code.
func TestClientCredentialsRetrieveError(t *testing.T) {
	ts, _ := newClient(t)
	// The same key, but the assertion names another audience.
	wrongAud, err := sign.NewSigner(clientID, testkeys.Signer(testkeys.P256), "https://other.example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	// A key the server does not know.
	unknownKey, err := sign.NewSigner(clientID, testkeys.Signer(testkeys.P256Alt), ts.issuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*sign.Signer{"aud": wrongAud, "key": unknownKey} {
		cc, err := sign.NewClientCredentials(s, ts.tokenURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = cc.TokenSource(context.Background()).Token()
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %v, want *oauth2.RetrieveError invalid_client 401", name, err)
		}
	}
}

func TestTokenSourceCache(t *testing.T) {
	ts, s := newClient(t)
	cc, err := sign.NewClientCredentials(s, ts.tokenURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// Concurrent first callers share one request; later ones use the cache.
	ts.set(func() { ts.delay = 100 * time.Millisecond })
	src := cc.TokenSource(ctx)
	var wg sync.WaitGroup
	toks := make([]*oauth2.Token, 20)
	for i := range toks {
		wg.Go(func() {
			var err error
			if toks[i], err = src.Token(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := ts.requests(); n != 1 {
		t.Errorf("%d requests for 20 concurrent callers, want 1", n)
	}
	for _, tok := range toks[1:] {
		if tok != toks[0] {
			t.Fatal("callers got different tokens")
		}
	}

	// A token within EarlyExpiry of its expiry is replaced.
	ts.set(func() { ts.delay, ts.expiresIn = 0, 30 })
	for _, tc := range []struct {
		early    time.Duration
		requests int
	}{{0, 1}, {time.Minute, 3}} {
		before := ts.requests()
		cc, err := sign.NewClientCredentials(s, ts.tokenURL, &sign.TokenConfig{EarlyExpiry: tc.early})
		if err != nil {
			t.Fatal(err)
		}
		src := cc.TokenSource(ctx)
		for range 3 {
			if _, err := src.Token(); err != nil {
				t.Fatal(err)
			}
		}
		if n := ts.requests() - before; n != tc.requests {
			t.Errorf("EarlyExpiry %v, 30 s tokens: %d requests for 3 calls, want %d", tc.early, n, tc.requests)
		}
	}

	// Client sends the token.
	var got string
	api := newAPIServer(t, &got)
	resp, err := cc.Client(ctx).Get(api)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(got) < len("Bearer x") || got[:7] != "Bearer " {
		t.Errorf("API saw Authorization %q", got)
	}
}

func TestNewClientCredentialsErrors(t *testing.T) {
	_, s := newClient(t)
	for name, tc := range map[string]struct {
		src      sign.AssertionSource
		tokenURL string
		cfg      sign.TokenConfig
	}{
		"nil source":           {nil, "https://as.example.com/token", sign.TokenConfig{}},
		"relative URL":         {s, "/token", sign.TokenConfig{}},
		"ftp URL":              {s, "ftp://as.example.com/token", sign.TokenConfig{}},
		"fragment":             {s, "https://as.example.com/token#x", sign.TokenConfig{}},
		"negative EarlyExpiry": {s, "https://as.example.com/token", sign.TokenConfig{EarlyExpiry: -1}},
		"relative resource":    {s, "https://as.example.com/token", sign.TokenConfig{Resources: []string{"api"}}},
		"grant_type param":     {s, "https://as.example.com/token", sign.TokenConfig{EndpointParams: url.Values{"grant_type": {"password"}}}},
		"assertion param":      {s, "https://as.example.com/token", sign.TokenConfig{EndpointParams: url.Values{"client_assertion": {"x"}}}},
		"secret param":         {s, "https://as.example.com/token", sign.TokenConfig{EndpointParams: url.Values{"client_secret": {"x"}}}},
		"scope twice":          {s, "https://as.example.com/token", sign.TokenConfig{Scopes: []string{"a"}, EndpointParams: url.Values{"scope": {"b"}}}},
		"audience twice":       {s, "https://as.example.com/token", sign.TokenConfig{Audience: "a", EndpointParams: url.Values{"audience": {"b"}}}},
	} {
		if _, err := sign.NewClientCredentials(tc.src, tc.tokenURL, &tc.cfg); !errors.Is(err, sign.ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestAuthCodeAndRefresh(t *testing.T) {
	ts, s := newClient(t)
	ts.set(func() { ts.refresh = true })
	ctx := context.Background()
	conf := &oauth2.Config{
		ClientID: clientID,
		Endpoint: oauth2.Endpoint{TokenURL: ts.tokenURL, AuthStyle: oauth2.AuthStyleInParams},
	}
	opts, err := sign.AuthCodeOptions(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := conf.Exchange(ctx, "good-code", opts...)
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	// The same options again: the assertion is spent.
	_, err = conf.Exchange(ctx, "good-code", opts...)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
		t.Errorf("exchange with a spent assertion: %v", err)
	}

	// Refresh: the token has expired, the source refreshes it with a new
	// assertion, then keeps the new token.
	tok.Expiry = time.Now().Add(-time.Minute)
	src := sign.RefreshTokenSource(ctx, s, ts.tokenURL, tok)
	before := ts.requests()
	fresh, err := src.Token()
	if err != nil {
		t.Fatal(err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == "" {
		t.Errorf("refreshed token %+v", fresh)
	}
	if got := ts.lastForm(); got.Get("grant_type") != "refresh_token" || got.Get("refresh_token") != tok.RefreshToken || got.Get("client_assertion") == "" {
		t.Errorf("refresh request %v", got)
	}
	if again, err := src.Token(); err != nil || again != fresh || ts.requests() != before+1 {
		t.Errorf("second Token: %v, %d requests", err, ts.requests()-before)
	}

	// A server that issues no new refresh token: the old one is kept.
	ts.set(func() { ts.refresh = false })
	expired := &oauth2.Token{AccessToken: "a", RefreshToken: fresh.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
	kept, err := sign.RefreshTokenSource(ctx, s, ts.tokenURL, expired).Token()
	if err != nil || kept.RefreshToken != fresh.RefreshToken {
		t.Errorf("refresh without a new refresh token: %v %+v", err, kept)
	}
	// Nothing to refresh with.
	noRefresh := &oauth2.Token{AccessToken: "a", Expiry: time.Now().Add(-time.Minute)}
	if _, err := sign.RefreshTokenSource(ctx, s, ts.tokenURL, noRefresh).Token(); !errors.Is(err, sign.ErrInvalidConfig) {
		t.Errorf("no refresh token: %v", err)
	}
	// An unknown refresh token: the server's error.
	bad := &oauth2.Token{AccessToken: "a", RefreshToken: "forged", Expiry: time.Now().Add(-time.Minute)}
	if _, err := sign.RefreshTokenSource(ctx, s, ts.tokenURL, bad).Token(); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("forged refresh token: %v", err)
	}
}

// cachedSource returns a TokenSource of a token server whose first token
// it has already fetched.
func cachedSource(tb testing.TB) oauth2.TokenSource {
	tb.Helper()
	key := testkeys.Signer(testkeys.P256)
	kid, _ := sign.Thumbprint(key.Public())
	ts := newTokenServer(tb, clientID, verify.Key{ID: kid, Public: key.Public()})
	s, err := sign.NewSigner(clientID, key, ts.issuer, nil)
	if err != nil {
		tb.Fatal(err)
	}
	cc, err := sign.NewClientCredentials(s, ts.tokenURL, nil)
	if err != nil {
		tb.Fatal(err)
	}
	src := cc.TokenSource(context.Background())
	if _, err := src.Token(); err != nil {
		tb.Fatal(err)
	}
	return src
}

// TestTokenSourceCachedNoAlloc checks that a cached token costs no
// allocation and no request.
func TestTokenSourceCachedNoAlloc(t *testing.T) {
	src := cachedSource(t)
	if n := testing.AllocsPerRun(100, func() { src.Token() }); n != 0 {
		t.Errorf("%v allocations per cached Token, want 0", n)
	}
}
