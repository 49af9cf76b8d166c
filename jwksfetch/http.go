package jwksfetch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/pkjwt/pkjwt/verify"
)

// forbidden lists the address ranges the default client refuses to connect
// to, after DNS resolution, on every connection (redirects are not
// followed). IPv4-mapped IPv6 addresses are checked as IPv4; 6to4 and NAT64
// addresses through the IPv4 address they embed.
var forbidden = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this network", unspecified
		"10.0.0.0/8",      // RFC 1918
		"100.64.0.0/10",   // CGNAT, RFC 6598
		"127.0.0.0/8",     // loopback
		"169.254.0.0/16",  // link-local, cloud metadata (169.254.169.254)
		"172.16.0.0/12",   // RFC 1918
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // documentation
		"192.88.99.0/24",  // 6to4 relay anycast
		"192.168.0.0/16",  // RFC 1918
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // documentation
		"203.0.113.0/24",  // documentation
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved, broadcast
		"::/128",          // unspecified
		"::1/128",         // loopback
		"::/96",           // IPv4-compatible (deprecated)
		"64:ff9b:1::/48",  // local-use NAT64, RFC 8215
		"100::/64",        // discard-only
		"2001::/32",       // Teredo
		"2001:db8::/32",   // documentation
		"fc00::/7",        // unique local
		"fe80::/10",       // link-local
		"fec0::/10",       // site-local (deprecated)
		"ff00::/8",        // multicast
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

var (
	loopback4 = netip.MustParsePrefix("127.0.0.0/8")
	sixToFour = netip.MustParsePrefix("2002::/16")    // 6to4, RFC 3056
	wellKnown = netip.MustParsePrefix("64:ff9b::/96") // NAT64, RFC 6052
	// private lists the ranges RemoteConfig.InsecureAllowPrivateNetworks
	// opens: RFC 1918, CGNAT and unique local addresses. Link-local (cloud
	// metadata) stays forbidden.
	private = []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("100.64.0.0/10"),
		netip.MustParsePrefix("fc00::/7"),
	}
)

// addrPolicy says which forbidden ranges the default client may reach
// anyway.
type addrPolicy struct {
	loopback bool // 127.0.0.0/8, ::1
	private  bool // see private
}

func policyOf(c RemoteConfig) addrPolicy {
	return addrPolicy{loopback: c.InsecureAllowLoopbackAndHTTP, private: c.InsecureAllowPrivateNetworks}
}

// checkAddr reports whether the default client may connect to addr. allow
// opens loopback or private ranges; every other forbidden range stays
// forbidden.
func checkAddr(addr netip.Addr, allow addrPolicy) error {
	addr = addr.Unmap().WithZone("")
	if !addr.IsValid() {
		return fmt.Errorf("%w: invalid address", ErrForbiddenAddress)
	}
	if allow.loopback && (loopback4.Contains(addr) || addr == netip.IPv6Loopback()) {
		return nil
	}
	if allow.private {
		for _, p := range private {
			if p.Contains(addr) {
				return nil
			}
		}
	}
	// 6to4 and NAT64 addresses embed an IPv4 address, which is what they
	// reach: allow them only if that address is allowed.
	switch {
	case sixToFour.Contains(addr):
		b := addr.As16()
		return checkAddr(netip.AddrFrom4([4]byte(b[2:6])), addrPolicy{})
	case wellKnown.Contains(addr):
		b := addr.As16()
		return checkAddr(netip.AddrFrom4([4]byte(b[12:16])), addrPolicy{})
	}
	for _, p := range forbidden {
		if p.Contains(addr) {
			return fmt.Errorf("%w: %s is in %s", ErrForbiddenAddress, addr, p)
		}
	}
	return nil
}

// dialControl is the net.Dialer Control hook of the default client: it runs
// after DNS resolution, for every address dialled, before connecting.
func dialControl(allow addrPolicy) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		switch network {
		case "tcp4", "tcp6":
		default:
			return fmt.Errorf("%w: network %q", ErrForbiddenAddress, network)
		}
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrForbiddenAddress, err)
		}
		addr, err := netip.ParseAddr(host)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrForbiddenAddress, err)
		}
		return checkAddr(addr, allow)
	}
}

// newHTTPClient returns the default client: overall timeout, no proxy
// (a proxy would defeat the address check), no redirects, TLS 1.2 or
// later, bounded headers, and the address check at dial time.
func newHTTPClient(timeout time.Duration, allow addrPolicy) *http.Client {
	dialer := &net.Dialer{
		Timeout:   timeout,
		KeepAlive: 30 * time.Second,
		Control:   dialControl(allow),
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            dialer.DialContext,
			ForceAttemptHTTP2:      true,
			TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:    timeout,
			ResponseHeaderTimeout:  timeout,
			MaxResponseHeaderBytes: 64 << 10,
			MaxIdleConns:           100,
			MaxIdleConnsPerHost:    2,
			IdleConnTimeout:        90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// checkURI validates a jwks_uri: an absolute https URL (http too with
// allowHTTP) with a host and without user information.
func checkURI(uri string, allowHTTP bool) error {
	u, err := url.Parse(uri)
	if err != nil {
		return fmt.Errorf("jwksfetch: jwks_uri: %w", err)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowHTTP:
	default:
		return fmt.Errorf("jwksfetch: jwks_uri %q: %w: scheme must be https", uri, ErrForbiddenAddress)
	}
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("jwksfetch: jwks_uri %q: no host", uri)
	}
	if u.User != nil {
		return errors.New("jwksfetch: jwks_uri with user information")
	}
	return nil
}

// jsonish reports whether a Content-Type may carry a JWK Set: missing,
// application/json, any +json type, text/plain or application/octet-stream
// (which static hosting often sends). text/html and the like are error
// pages, not key sets.
func jsonish(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json") ||
		mt == "text/plain" || mt == "application/octet-stream"
}

// fetch gets and parses the JWK Set at uri with client, reading at most
// maxBytes of body, and notes the status and size in fs.
func fetch(ctx context.Context, client *http.Client, uri string, maxBytes int64, fs *fetchStats) ([]verify.Key, []*KeyError, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	req.Header.Set("User-Agent", "pkjwt-jwksfetch")
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	fs.status = resp.StatusCode
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return nil, nil, fmt.Errorf("%w: status %d (redirects are not followed)", ErrNotJWKS, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return nil, nil, fmt.Errorf("%w: status %d", ErrNotJWKS, resp.StatusCode)
	case !jsonish(resp.Header.Get("Content-Type")):
		return nil, nil, fmt.Errorf("%w: content type %q", ErrNotJWKS, resp.Header.Get("Content-Type"))
	case resp.ContentLength > maxBytes:
		return nil, nil, fmt.Errorf("%w: %d bytes, at most %d", ErrResponseTooLarge, resp.ContentLength, maxBytes)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	fs.bytes = len(body)
	if err != nil {
		return nil, nil, err
	}
	if int64(len(body)) > maxBytes {
		return nil, nil, fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, maxBytes)
	}
	return parseJWKS(body)
}
