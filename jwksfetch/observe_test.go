package jwksfetch

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/verify"
)

// hookLog records the events of Hooks.
type hookLog struct {
	mu      sync.Mutex
	lookups []LookupInfo
	fetches []FetchInfo
	closed  []string
}

func (l *hookLog) hooks() *Hooks {
	return &Hooks{
		KeyLookup: func(ctx context.Context, info LookupInfo) {
			if ctx.Value(hookKey{}) != "caller" {
				info.URI = "wrong context"
			}
			l.mu.Lock()
			l.lookups = append(l.lookups, info)
			l.mu.Unlock()
		},
		Fetch: func(info FetchInfo) {
			l.mu.Lock()
			l.fetches = append(l.fetches, info)
			l.mu.Unlock()
		},
		Closed: func(uri string) {
			l.mu.Lock()
			l.closed = append(l.closed, uri)
			l.mu.Unlock()
		},
	}
}

// take returns and forgets the events so far.
func (l *hookLog) take() ([]LookupInfo, []FetchInfo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lk, f := l.lookups, l.fetches
	l.lookups, l.fetches = nil, nil
	return lk, f
}

type hookKey struct{}

var caller = context.WithValue(context.Background(), hookKey{}, "caller")

// ignoreTimes compares infos without their clock readings, which are
// checked apart.
var ignoreTimes = cmp.Options{
	cmpopts.IgnoreFields(LookupInfo{}, "Waited", "Err"),
	cmpopts.IgnoreFields(FetchInfo{}, "Start", "Duration", "Err"),
}

// TestHooks follows a Remote through a first fetch, cache hits, an unknown
// kid, the rate limit and a failing endpoint: each lookup and each fetch
// is reported once, with its fields.
func TestHooks(t *testing.T) {
	clk := newClock()
	doc := jwks(pubJWK(testkeys.P256, "k1"), with(pubJWK(testkeys.P384, "enc"), "use", "enc"))
	srv := newJWKSServer(t, doc)
	var log hookLog
	cfg := testConfig(clk)
	cfg.Hooks = log.hooks()
	r := newTestRemote(t, srv.URL, cfg)
	waitIdle(t, r)

	// The first fetch (not caused by a caller), then a cache hit.
	clk.Advance(10 * time.Second)
	if _, err := r.Key(caller, "k1", "ES256"); err != nil {
		t.Fatal(err)
	}
	lookups, fetches := log.take()
	want := []FetchInfo{{URI: srv.URL, Status: 200, Bytes: len(doc), KeysUsable: 1, KeysSkipped: 1}}
	if diff := cmp.Diff(want, fetches, ignoreTimes); diff != "" || fetches[0].Err != nil || fetches[0].Duration <= 0 || fetches[0].ErrorType() != "" {
		t.Errorf("first fetch (-want +got):\n%s%v", diff, fetches[0].Err)
	}
	wantL := []LookupInfo{{URI: srv.URL, CacheHit: true, KeyAge: 10 * time.Second}}
	if diff := cmp.Diff(wantL, lookups, ignoreTimes); diff != "" || lookups[0].Waited != 0 || lookups[0].Err != nil {
		t.Errorf("cache hit (-want +got):\n%s", diff)
	}

	// An unknown kid: this call fetches, waits, and still finds no key.
	if _, err := r.Key(caller, "k2", "ES256"); !errors.Is(err, verify.ErrKeyNotFound) {
		t.Fatalf("unknown kid: %v", err)
	}
	lookups, fetches = log.take()
	want[0].OnDemand = true
	if diff := cmp.Diff(want, fetches, ignoreTimes); diff != "" {
		t.Errorf("fetch for an unknown kid (-want +got):\n%s", diff)
	}
	wantL = []LookupInfo{{URI: srv.URL, RefreshTriggered: true}}
	if diff := cmp.Diff(wantL, lookups, ignoreTimes); diff != "" || lookups[0].Waited <= 0 || !errors.Is(lookups[0].Err, verify.ErrKeyNotFound) {
		t.Errorf("lookup of an unknown kid (-want +got):\n%s%+v", diff, lookups)
	}

	// Again at once: the rate limit suppresses the refresh.
	clk.Advance(time.Second)
	r.Key(caller, "k2", "ES256")
	lookups, fetches = log.take()
	wantL = []LookupInfo{{URI: srv.URL, RefreshSuppressed: true, KeyAge: time.Second}}
	if diff := cmp.Diff(wantL, lookups, ignoreTimes); diff != "" || len(fetches) != 0 || lookups[0].Waited != 0 {
		t.Errorf("suppressed refresh (-want +got):\n%s%d fetches", diff, len(fetches))
	}

	// The endpoint fails: the fetch reports it, the keys age.
	srv.setStatus(http.StatusServiceUnavailable)
	for i, age := range []time.Duration{31 * time.Second, 61 * time.Second} {
		clk.Advance(DefaultMinRefreshInterval)
		if _, err := r.Key(caller, "k2", "ES256"); !errors.Is(err, verify.ErrKeyNotFound) {
			t.Fatalf("failing endpoint: %v", err)
		}
		lookups, fetches = log.take()
		wantF := []FetchInfo{{URI: srv.URL, OnDemand: true, Status: 503, Bytes: 0}}
		if diff := cmp.Diff(wantF, fetches, ignoreTimes); diff != "" || !errors.Is(fetches[0].Err, ErrNotJWKS) || fetches[0].ErrorType() != FetchErrorHTTPStatus {
			t.Errorf("failed fetch %d (-want +got):\n%s%v", i, diff, fetches[0].Err)
		}
		if len(lookups) != 1 || lookups[0].KeyAge != age || !lookups[0].RefreshTriggered {
			t.Errorf("lookup %d with a failing endpoint: %+v, want key age %v", i, lookups, age)
		}
	}
	if got := srv.hits.Load(); got != 4 {
		t.Errorf("%d fetches, %d reported", got, 4)
	}

	r.Close()
	r.Close()
	if diff := cmp.Diff([]string{srv.URL}, log.closed); diff != "" {
		t.Errorf("Closed (-want +got):\n%s", diff)
	}
}

// TestFetchErrorType makes real fetches fail in each way ErrorType tells
// apart.
func TestFetchErrorType(t *testing.T) {
	slow := newJWKSServer(t, jwks(pubJWK(testkeys.P256, "k1")))
	release := slow.setBlock()
	t.Cleanup(release)
	big := newJWKSServer(t, jwks(pubJWK(testkeys.P256, "k1"), pubJWK(testkeys.P384, "k2")))
	notJWKS := newJWKSServer(t, []byte(`{"kty":"EC"}`))
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()

	for _, tc := range []struct {
		name, uri string
		cfg       func(*RemoteConfig)
		want      string
	}{
		{"forbidden", "https://" + slow.Listener.Addr().String() + "/jwks", func(c *RemoteConfig) { c.InsecureAllowLoopbackAndHTTP = false }, FetchErrorForbiddenAddress},
		{"too large", big.URL, func(c *RemoteConfig) { c.MaxResponseBytes = 100 }, FetchErrorTooLarge},
		{"not a JWK Set", notJWKS.URL, nil, FetchErrorNotJWKS},
		{"timeout", slow.URL, func(c *RemoteConfig) { c.Timeout = 50 * time.Millisecond }, FetchErrorTimeout},
		{"connection refused", gone.URL, nil, FetchErrorNetwork},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log hookLog
			cfg := testConfig(newClock())
			cfg.Hooks = log.hooks()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			r := newTestRemote(t, tc.uri, cfg)
			waitIdle(t, r)
			_, fetches := log.take()
			if len(fetches) != 1 || fetches[0].Err == nil {
				t.Fatalf("fetches %+v", fetches)
			}
			if got := fetches[0].ErrorType(); got != tc.want {
				t.Errorf("ErrorType() = %q, want %q (error %v)", got, tc.want, fetches[0].Err)
			}
		})
	}
}

// TestRegistryHooks: the Remotes of a Registry report to the hooks of its
// RemoteConfig, and each one the registry closes (evicted as least
// recently used, or at Close) reports Closed once, so that its gauges go.
func TestRegistryHooks(t *testing.T) {
	srv := newJWKSServer(t, jwks(pubJWK(testkeys.P256, "k1")))
	var log hookLog
	reg := newTestRegistry(t, RegistryConfig{MaxSources: 2, Remote: RemoteConfig{Hooks: log.hooks()}})
	uri := func(i int) string { return srv.URL + "/c" + strconv.Itoa(i) }
	for i := range 3 {
		if _, err := mustSource(t, reg, uri(i)).Key(caller, "k1", "ES256"); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	lookups, fetches := log.take()
	if len(lookups) != 3 || len(fetches) != 3 {
		t.Fatalf("%d lookups, %d fetches reported, want 3 each", len(lookups), len(fetches))
	}
	for i, l := range lookups {
		if l.URI != uri(i) || l.Err != nil {
			t.Errorf("lookup %d: %+v, want %s without error", i, l, uri(i))
		}
	}
	log.mu.Lock()
	evicted := append([]string(nil), log.closed...)
	log.mu.Unlock()
	if diff := cmp.Diff([]string{uri(0)}, evicted); diff != "" {
		t.Errorf("Closed after the eviction (-want +got):\n%s", diff)
	}
	reg.Close()
	log.mu.Lock()
	defer log.mu.Unlock()
	if diff := cmp.Diff([]string{uri(0), uri(1), uri(2)}, log.closed, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("Closed after Close (-want +got):\n%s", diff)
	}
}
