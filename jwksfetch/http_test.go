package jwksfetch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/verify"
)

func TestCheckAddr(t *testing.T) {
	tests := []struct {
		addr          string
		allowed       bool // without the opt-out
		allowedOptOut bool // with InsecureAllowLoopbackAndHTTP
	}{
		{"93.184.215.14", true, true},
		{"8.8.8.8", true, true},
		{"2606:4700::1111", true, true},
		{"::ffff:93.184.215.14", true, true},
		{"2002:5db8:d70e::1", true, true},  // 6to4 of 93.184.215.14
		{"64:ff9b::5db8:d70e", true, true}, // NAT64 of 93.184.215.14

		{"127.0.0.1", false, true},
		{"127.1.2.3", false, true},
		{"::1", false, true},
		{"::ffff:127.0.0.1", false, true},

		{"10.0.0.1", false, false},
		{"172.16.0.1", false, false},
		{"172.31.255.255", false, false},
		{"192.168.1.1", false, false},
		{"169.254.169.254", false, false},
		{"169.254.0.1", false, false},
		{"100.64.0.1", false, false},
		{"100.127.255.255", false, false},
		{"0.0.0.0", false, false},
		{"0.1.2.3", false, false},
		{"224.0.0.1", false, false},
		{"239.255.255.250", false, false},
		{"255.255.255.255", false, false},
		{"240.0.0.1", false, false},
		{"192.0.0.170", false, false},
		{"198.18.0.1", false, false},
		{"192.0.2.1", false, false},
		{"::", false, false},
		{"fc00::1", false, false},
		{"fd00:ec2::254", false, false}, // AWS IMDS over IPv6
		{"fe80::1", false, false},
		{"fe80::1%eth0", false, false},
		{"ff02::1", false, false},
		{"fec0::1", false, false},
		{"::ffff:10.0.0.1", false, false},
		{"::ffff:169.254.169.254", false, false},
		{"::127.0.0.1", false, false},         // IPv4-compatible
		{"::a9fe:a9fe", false, false},         // IPv4-compatible 169.254.169.254
		{"2002:a9fe:a9fe::1", false, false},   // 6to4 of 169.254.169.254
		{"2002:7f00:1::1", false, false},      // 6to4 of 127.0.0.1: loopback only in its plain form
		{"64:ff9b::a9fe:a9fe", false, false},  // NAT64 of 169.254.169.254
		{"64:ff9b::7f00:1", false, false},     // NAT64 of 127.0.0.1
		{"64:ff9b:1::a00:1", false, false},    // local-use NAT64
		{"2001:0:4136:e378::1", false, false}, // Teredo
		{"2001:db8::1", false, false},
		{"100::1", false, false},
	}
	for _, tt := range tests {
		addr := netip.MustParseAddr(tt.addr)
		for _, optOut := range []bool{false, true} {
			want := tt.allowed
			if optOut {
				want = tt.allowedOptOut
			}
			err := checkAddr(addr, addrPolicy{loopback: optOut})
			if (err == nil) != want {
				t.Errorf("checkAddr(%s, optOut %v) = %v, want allowed %v", tt.addr, optOut, err, want)
			}
			if err != nil && !errors.Is(err, ErrForbiddenAddress) {
				t.Errorf("checkAddr(%s): %v does not wrap ErrForbiddenAddress", tt.addr, err)
			}
		}
	}
}

func TestDialControl(t *testing.T) {
	control := dialControl(addrPolicy{})
	for _, tt := range []struct {
		network, address string
		ok               bool
	}{
		{"tcp4", "93.184.215.14:443", true},
		{"tcp6", "[2606:4700::1111]:443", true},
		{"tcp4", "127.0.0.1:443", false},
		{"tcp6", "[::1]:443", false},
		{"udp4", "93.184.215.14:443", false},
		{"unix", "/run/docker.sock", false},
		{"tcp4", "not-an-ip:443", false},
		{"tcp4", "93.184.215.14", false},
	} {
		err := control(tt.network, tt.address, nil)
		if (err == nil) != tt.ok {
			t.Errorf("control(%s, %s) = %v, want ok %v", tt.network, tt.address, err, tt.ok)
		}
	}
}

func TestCheckURI(t *testing.T) {
	for _, tt := range []struct {
		uri       string
		allowHTTP bool
		ok        bool
	}{
		{"https://client.example/jwks.json", false, true},
		{"https://client.example:8443/.well-known/jwks.json?v=1", false, true},
		{"http://client.example/jwks.json", false, false},
		{"http://127.0.0.1:8080/jwks.json", true, true},
		{"file:///etc/passwd", true, false},
		{"gopher://client.example/", true, false},
		{"ftp://client.example/jwks", false, false},
		{"//client.example/jwks", false, false},
		{"/jwks.json", false, false},
		{"https://", false, false},
		{"https://:443/jwks", false, false},
		{"https://user:pass@client.example/jwks", false, false},
		{"https://client.example/%zz", false, false},
		{"", false, false},
	} {
		err := checkURI(tt.uri, tt.allowHTTP)
		if (err == nil) != tt.ok {
			t.Errorf("checkURI(%q, %v) = %v, want ok %v", tt.uri, tt.allowHTTP, err, tt.ok)
		}
	}
	if _, err := NewRemote("http://client.example/jwks", RemoteConfig{}); !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("NewRemote(http://...) = %v, want ErrForbiddenAddress", err)
	}
}

// TestGuardRefusesInternalTargets points Remotes with the default client
// (no opt-out) at internal addresses and checks that the dial is refused
// before any connection: a listener on loopback sees no connection, and
// the other addresses are refused by the dial hook before connect(2).
func TestGuardRefusesInternalTargets(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(jwks(pubJWK(testkeys.P256, "k")))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	p := strconv.Itoa(port)

	for _, uri := range []string{
		"https://127.0.0.1:" + p + "/jwks",
		"https://[::1]:" + p + "/jwks",
		"https://[::ffff:127.0.0.1]:" + p + "/jwks",
		"https://localhost:" + p + "/jwks", // refused after DNS resolution
		"https://10.0.0.1/jwks",
		"https://172.16.0.1/jwks",
		"https://192.168.0.1/jwks",
		"https://169.254.169.254/latest/meta-data/",
		"https://100.64.0.1/jwks",
		"https://[fd00:ec2::254]/jwks",
		"https://[fe80::1]/jwks",
		"https://0.0.0.0:" + p + "/jwks",
	} {
		t.Run(uri, func(t *testing.T) {
			var fetchErr atomic.Value
			r := newTestRemote(t, uri, RemoteConfig{
				OnFetch: func(_ string, err error) { fetchErr.Store(fmt.Sprint(err)) },
			})
			_, err := r.Key(bg, "k", "ES256")
			if !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrForbiddenAddress) {
				t.Fatalf("Key = %v, want ErrUnavailable and ErrForbiddenAddress", err)
			}
			if errors.Is(err, verify.ErrKeyNotFound) {
				t.Errorf("Key = %v: a server failure must not look like a client's", err)
			}
			t.Log(err)
			if s, _ := fetchErr.Load().(string); !strings.Contains(s, "forbidden address") {
				t.Errorf("OnFetch error %q", s)
			}
		})
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("listener saw %d connections, want 0", n)
	}
}

// TestOptOutAllowsLoopbackOnly checks that the opt-out opens loopback and
// http, and nothing else.
func TestOptOutAllowsLoopbackOnly(t *testing.T) {
	srv := newJWKSServer(t, jwks(pubJWK(testkeys.P256, "k")))
	r := newTestRemote(t, srv.URL, RemoteConfig{InsecureAllowLoopbackAndHTTP: true})
	if _, err := r.Key(bg, "k", "ES256"); err != nil {
		t.Fatalf("Key via loopback with the opt-out: %v", err)
	}
	r2 := newTestRemote(t, "http://169.254.169.254/latest/meta-data/", RemoteConfig{InsecureAllowLoopbackAndHTTP: true})
	if _, err := r2.Key(bg, "k", "ES256"); !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("Key via metadata address with the opt-out = %v, want ErrForbiddenAddress", err)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	var targetHits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		targetHits.Add(1)
		w.Write(jwks(pubJWK(testkeys.P256, "k")))
	}))
	t.Cleanup(target.Close)
	for _, loc := range []string{target.URL + "/jwks", "http://169.254.169.254/latest/meta-data/", "https://127.0.0.1/"} {
		redirector := httptest.NewServer(http.RedirectHandler(loc, http.StatusFound))
		t.Cleanup(redirector.Close)
		r := newTestRemote(t, redirector.URL, RemoteConfig{InsecureAllowLoopbackAndHTTP: true})
		_, err := r.Key(bg, "k", "ES256")
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "redirects are not followed") {
			t.Errorf("redirect to %s: Key = %v", loc, err)
		}
	}
	if n := targetHits.Load(); n != 0 {
		t.Errorf("redirect target hit %d times", n)
	}
}

func TestFetchResponses(t *testing.T) {
	good := jwks(pubJWK(testkeys.P256, "k"))
	tests := []struct {
		name        string
		status      int
		contentType string
		body        []byte
		wantErr     error
	}{
		{"jwk-set+json", 200, "application/jwk-set+json", good, nil},
		{"json with charset", 200, "application/json; charset=utf-8", good, nil},
		{"no content type", 200, "", good, nil},
		{"text/plain", 200, "text/plain", good, nil},
		{"octet-stream", 200, "application/octet-stream", good, nil},
		{"html", 200, "text/html; charset=utf-8", good, ErrNotJWKS},
		{"bad content type", 200, "application/json; =", good, ErrNotJWKS},
		{"404", 404, "application/json", good, ErrNotJWKS},
		{"500", 500, "application/json", good, ErrNotJWKS},
		{"204", 204, "application/json", nil, ErrNotJWKS},
		{"malformed JSON", 200, "application/json", []byte(`{"keys":[{"kty":"EC",`), ErrNotJWKS},
		{"JSON, not a set", 200, "application/json", []byte(`{"kty":"EC"}`), ErrNotJWKS},
		{"exactly the cap", 200, "application/json", padTo(good, 1024), nil},
		{"one byte over the cap", 200, "application/json", padTo(good, 1025), ErrResponseTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Content-Type"] = []string{tt.contentType}
				if tt.contentType == "" {
					w.Header()["Content-Type"] = nil
				}
				w.WriteHeader(tt.status)
				w.Write(tt.body)
			}))
			t.Cleanup(srv.Close)
			client := newHTTPClient(time.Second, addrPolicy{loopback: true})
			t.Cleanup(client.CloseIdleConnections)
			keys, _, err := fetch(bg, client, srv.URL, 1024, &fetchStats{})
			if tt.wantErr == nil {
				if err != nil || len(keys) != 1 {
					t.Fatalf("fetch = %d keys, %v", len(keys), err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("fetch error %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// padTo pads a JSON object document with spaces to n bytes.
func padTo(doc []byte, n int) []byte {
	return append(append([]byte(nil), doc...), []byte(strings.Repeat(" ", n-len(doc)))...)
}

// TestHugeBody streams a 20 MiB body (without allocating it) and checks that
// the fetch is refused after reading no more than the cap, with bounded
// memory.
func TestHugeBody(t *testing.T) {
	const total = 20 << 20
	for _, declared := range []bool{false, true} {
		t.Run(fmt.Sprintf("Content-Length %v", declared), func(t *testing.T) {
			var sent atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if declared {
					w.Header().Set("Content-Length", strconv.Itoa(total))
				}
				chunk := []byte(`{"keys":[` + strings.Repeat(" ", 32<<10-9))
				for n := 0; n < total; n += len(chunk) {
					if _, err := w.Write(chunk); err != nil {
						return
					}
					sent.Add(int64(len(chunk)))
					chunk = chunk[:cap(chunk)]
					for i := range chunk {
						chunk[i] = ' '
					}
				}
			}))
			t.Cleanup(srv.Close)
			client := newHTTPClient(5*time.Second, addrPolicy{loopback: true})
			t.Cleanup(client.CloseIdleConnections)

			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, _, err := fetch(bg, client, srv.URL, DefaultMaxResponseBytes, &fetchStats{})
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrResponseTooLarge) {
				t.Fatalf("fetch = %v, want ErrResponseTooLarge", err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
				t.Errorf("fetch allocated %d bytes for a %d-byte cap", alloc, DefaultMaxResponseBytes)
			}
			if n := sent.Load(); n >= total {
				t.Errorf("server sent the whole %d bytes", n)
			}
		})
	}
}

func TestFetchTimeout(t *testing.T) {
	srv := newJWKSServer(t, jwks(pubJWK(testkeys.P256, "k")))
	release := srv.setBlock()
	t.Cleanup(release)
	client := newHTTPClient(100*time.Millisecond, addrPolicy{loopback: true})
	t.Cleanup(client.CloseIdleConnections)
	start := time.Now()
	_, _, err := fetch(bg, client, srv.URL, 1024, &fetchStats{})
	if err == nil || time.Since(start) > 3*time.Second {
		t.Fatalf("fetch = %v after %v, want a timeout", err, time.Since(start))
	}
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, _, err := fetch(ctx, client, srv.URL, 1024, &fetchStats{}); !errors.Is(err, context.Canceled) {
		t.Errorf("fetch with a cancelled ctx = %v", err)
	}
}

// TestCheckAddrPrivate: InsecureAllowPrivateNetworks opens RFC 1918, CGNAT
// and unique local addresses, and nothing else: not loopback, not
// link-local (cloud metadata), not their 6to4 or NAT64 forms.
func TestCheckAddrPrivate(t *testing.T) {
	for addr, want := range map[string]bool{
		"10.0.0.1": true, "172.16.0.1": true, "192.168.1.1": true, "100.64.0.1": true,
		"fd00::1": true, "::ffff:192.168.1.1": true, "8.8.8.8": true,
		"127.0.0.1": false, "::1": false, "169.254.169.254": false, "fe80::1": false,
		"0.0.0.0": false, "224.0.0.1": false, "2002:c0a8:101::1": false, "64:ff9b::a00:1": false,
	} {
		err := checkAddr(netip.MustParseAddr(addr), addrPolicy{private: true})
		if (err == nil) != want {
			t.Errorf("checkAddr(%s, private) = %v, want allowed %v", addr, err, want)
		}
	}
}
