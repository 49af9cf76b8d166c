package sign

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/pkjwt/pkjwt/verify"
)

// maxMetadataSize caps a metadata document.
const maxMetadataSize = 1 << 20

// discoveryTimeout bounds a metadata request when ctx has no deadline and
// carries no HTTP client of its own.
const discoveryTimeout = 30 * time.Second

// Metadata is what a client needs of an authorization server's metadata
// (RFC 8414 §2, OpenID Connect Discovery §3).
type Metadata struct {
	// Issuer is the issuer identifier: the aud of client assertions.
	Issuer string `json:"issuer"`
	// TokenEndpoint is the token endpoint URL.
	TokenEndpoint string `json:"token_endpoint"`
	// IntrospectionEndpoint is the RFC 7662 endpoint, if any.
	IntrospectionEndpoint string `json:"introspection_endpoint,omitempty"`
	// RevocationEndpoint is the RFC 7009 endpoint, if any.
	RevocationEndpoint string `json:"revocation_endpoint,omitempty"`
	// TokenEndpointAuthMethods lists the client authentication methods
	// (token_endpoint_auth_methods_supported). Absent means
	// client_secret_basic only (RFC 8414 §2).
	TokenEndpointAuthMethods []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	// TokenEndpointAuthSigningAlgs lists the JWS algs accepted in client
	// assertions (token_endpoint_auth_signing_alg_values_supported).
	TokenEndpointAuthSigningAlgs []string `json:"token_endpoint_auth_signing_alg_values_supported,omitempty"`
}

// Discover fetches the metadata of the authorization server whose issuer
// identifier is issuer: first from the RFC 8414 location
// (/.well-known/oauth-authorization-server, inserted before the issuer's
// path), then, if that is not found, from the OpenID Connect one (issuer +
// /.well-known/openid-configuration). The document's issuer must equal
// issuer exactly (RFC 8414 §3.3), and its token endpoint must be an
// absolute http(s) URL. The HTTP client is the one ctx carries under
// oauth2.HTTPClient, or one with a 30 s timeout.
//
// It returns an error wrapping [ErrInvalidConfig] for an issuer that is not
// an absolute http(s) URL without query or fragment, and one wrapping
// [ErrDiscovery] when no valid document could be had.
func Discover(ctx context.Context, issuer string) (*Metadata, error) {
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: issuer %q is not an absolute http(s) URL without query or fragment", ErrInvalidConfig, issuer)
	}
	client, _ := ctx.Value(oauth2.HTTPClient).(*http.Client)
	if client == nil {
		client = &http.Client{Timeout: discoveryTimeout}
	}
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	locations := []string{
		u.Scheme + "://" + u.Host + "/.well-known/oauth-authorization-server" + path,
		strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration",
	}
	var errs []error
	for _, loc := range locations {
		md, found, err := fetchMetadata(ctx, client, loc)
		if err == nil {
			if md.Issuer != issuer {
				return nil, fmt.Errorf("%w: %s names issuer %q, not %q", ErrDiscovery, loc, md.Issuer, issuer)
			}
			if err := checkEndpoint("token_endpoint", md.TokenEndpoint); err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrDiscovery, loc, err)
			}
			return md, nil
		}
		errs = append(errs, err)
		if found {
			break // a document that is there but wrong: do not look further
		}
	}
	if len(errs) == 1 {
		return nil, fmt.Errorf("%w: %w", ErrDiscovery, errs[0])
	}
	return nil, fmt.Errorf("%w: %w; %w", ErrDiscovery, errs[0], errs[1])
}

// fetchMetadata GETs one metadata document. found reports that the
// location answered with something other than 404 Not Found.
func fetchMetadata(ctx context.Context, client *http.Client, loc string) (md *Metadata, found bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode != http.StatusNotFound, fmt.Errorf("GET %s: %s", loc, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataSize+1))
	if err != nil {
		return nil, true, fmt.Errorf("GET %s: %w", loc, err)
	}
	if len(body) > maxMetadataSize {
		return nil, true, fmt.Errorf("GET %s: document larger than %d bytes", loc, maxMetadataSize)
	}
	md = &Metadata{}
	if err := json.Unmarshal(body, md); err != nil {
		return nil, true, fmt.Errorf("GET %s: %w", loc, err)
	}
	return md, true, nil
}

// Supports reports whether the server accepts private_key_jwt assertions
// signed with alg: both must be listed (a server that lists no algs is
// taken to accept none, since RFC 8414 implies no default). It returns nil
// or an error wrapping [ErrNotSupported].
func (m *Metadata) Supports(alg string) error {
	if !slices.Contains(m.TokenEndpointAuthMethods, verify.MethodPrivateKeyJWT) {
		return fmt.Errorf("%w: token_endpoint_auth_methods_supported %q lacks %s", ErrNotSupported, m.TokenEndpointAuthMethods, verify.MethodPrivateKeyJWT)
	}
	if !slices.Contains(m.TokenEndpointAuthSigningAlgs, alg) {
		return fmt.Errorf("%w: token_endpoint_auth_signing_alg_values_supported %q lacks %s", ErrNotSupported, m.TokenEndpointAuthSigningAlgs, alg)
	}
	return nil
}
