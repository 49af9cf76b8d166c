package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/pkjwt/pkjwt/sign"
)

const tokenHelp = `
Get an access token from any authorization server that accepts
private_key_jwt client authentication (RFC 7523 §2.2, OpenID Connect Core
§9), with the client_credentials grant, and print the server's token
response. The assertion is made by pkjwt's sign package: iss and sub the
client_id, aud the issuer identifier, a 60 s lifetime, a random jti, kid
the key's RFC 7638 thumbprint; it is sent in the form only, never with an
Authorization header.

With -issuer alone, the token endpoint is discovered from the server's
metadata (RFC 8414, or OpenID Connect Discovery), which must list
private_key_jwt and the key's alg. -token-url skips discovery; then -aud
gives the assertion's audience if -issuer is not given.

The key is a PEM file (PKCS #8, PKCS #1 or SEC 1), a private JWK, or a JWK
Set holding the key. -v prints the assertion's header and claims to
standard error. A refused request prints the server's error and exits 1.

Examples:
  pkjwt token -issuer https://as.example.com -client-id my-client -key client.pem -scope read
  pkjwt token -token-url https://as.example.com/oauth/token -aud https://as.example.com/oauth/token \
      -client-id my-client -key client.jwk -v
`

// maxTokenResponse caps the token response kept for printing.
const maxTokenResponse = 1 << 20

func runToken(ctx context.Context, std stdio, args []string) error {
	fs := newFlagSet(std, "token", "-issuer URL | -token-url URL -aud AUD, -client-id ID -key FILE [flags]", tokenHelp)
	issuer := fs.String("issuer", "", "the authorization server's issuer identifier: the assertion's aud, and where the token endpoint is discovered")
	tokenURL := fs.String("token-url", "", "token endpoint `URL` (default: discovered from -issuer's metadata)")
	clientID := fs.String("client-id", "", "the client_id (required)")
	keyFlags := addKeyFlags(fs, false, "signing alg (default: the JWK's alg, or RS256, ES256, ES384, ES512 or EdDSA by key type)")
	var aud, scopes, resources stringsFlag
	fs.Var(&aud, "aud", "the assertion's aud instead of -issuer (repeat for several), for servers that want the token endpoint URL")
	fs.Var(&scopes, "scope", "scope to request (repeat, or space-separate, for several)")
	fs.Var(&resources, "resource", "resource indicator `URI` (RFC 8707; repeat for several)")
	audience := fs.String("audience", "", "audience parameter of the token request (Auth0, Okta and others)")
	lifetime := fs.Duration("lifetime", sign.DefaultLifetime, "the assertion's lifetime (at most 10m)")
	verbose := fs.Bool("v", false, "print the assertion's header and claims to standard error")
	timeout := fs.Duration("timeout", 30*time.Second, "time limit of the whole exchange, discovery included")
	if err := parseOptions(fs, args); err != nil {
		return err
	}
	switch {
	case *clientID == "":
		return usageErrorf("-client-id is required")
	case *issuer == "" && *tokenURL == "":
		return usageErrorf("-issuer or -token-url is required")
	case *issuer == "" && len(aud) == 0:
		return usageErrorf("-aud is required with -token-url and no -issuer (the server's issuer identifier, or its token endpoint URL)")
	case *timeout <= 0:
		return usageErrorf("-timeout must be positive")
	}
	if err := keyFlags.check(); err != nil {
		return err
	}

	key, err := keyFlags.load()
	if err != nil {
		return err
	}
	cfg := &sign.Config{Algorithm: key.alg, KeyID: key.kid, OmitKeyID: key.kid == "", Lifetime: *lifetime, Audience: aud}
	signer, err := sign.NewSigner(*clientID, key.signer, *issuer, cfg)
	if err != nil {
		return usageErrorf("%v", err)
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	capture := &captureTransport{base: http.DefaultTransport}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: capture})
	endpoint := *tokenURL
	if endpoint == "" {
		md, err := sign.Discover(ctx, *issuer)
		if err != nil {
			return err
		}
		if err := md.Supports(signer.Algorithm()); err != nil {
			return fmt.Errorf("%w (use -token-url to try anyway)", err)
		}
		endpoint = md.TokenEndpoint
	}
	var src sign.AssertionSource = signer
	if *verbose {
		src = &printingSource{AssertionSource: signer, w: std.err}
	}
	cc, err := sign.NewClientCredentials(src, endpoint, &sign.TokenConfig{
		Scopes:    strings.Fields(strings.Join(scopes, " ")),
		Resources: resources,
		Audience:  *audience,
	})
	if err != nil {
		return usageErrorf("%v", err)
	}
	if _, err := cc.Token(ctx); err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			fmt.Fprintf(std.err, "pkjwt token: %s answered %s: %s %s\n", endpoint, re.Response.Status, re.ErrorCode, re.ErrorDescription)
			if re.ErrorCode == "" {
				fmt.Fprintf(std.err, "%s\n", bytes.TrimSpace(re.Body))
			}
			return silentFailure
		}
		return err
	}
	return printJSON(std.out, capture.body())
}

// printJSON writes b indented if it is JSON, else as it is.
func printJSON(w io.Writer, b []byte) error {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		out.Reset()
		out.Write(b)
	}
	out.WriteByte('\n')
	_, err := w.Write(out.Bytes())
	return err
}

// captureTransport keeps the body of the last POST response (the token
// response) for printing, while x/oauth2 reads it as usual.
type captureTransport struct {
	base http.RoundTripper

	mu   sync.Mutex
	last []byte
}

func (c *captureTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(r)
	if err != nil || r.Method != http.MethodPost {
		return resp, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.last = b
	c.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

func (c *captureTransport) body() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// printingSource prints each assertion's header and claims (never its
// signature) before handing it on.
type printingSource struct {
	sign.AssertionSource
	w io.Writer
}

func (p *printingSource) Assertion(ctx context.Context) (string, error) {
	a, err := p.AssertionSource.Assertion(ctx)
	if err != nil {
		return "", err
	}
	parts := strings.SplitN(a, ".", 3)
	for i, name := range []string{"header", "claims"} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return "", err
		}
		var out bytes.Buffer
		json.Indent(&out, b, "", "  ")
		fmt.Fprintf(p.w, "assertion %s: %s\n", name, out.String())
	}
	return a, nil
}
