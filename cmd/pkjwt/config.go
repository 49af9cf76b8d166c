package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pkjwt/pkjwt/internal/jose"
	"github.com/pkjwt/pkjwt/jwksfetch"
	"github.com/pkjwt/pkjwt/verify"
)

// serverConfig is the JSON configuration of the reference server (see
// serve -h). Optional numbers are pointers so that an explicit 0 can be
// told from an absent member.
type serverConfig struct {
	Listen               string         `json:"listen"`
	Issuer               string         `json:"issuer"`
	AudiencePolicy       *string        `json:"audience_policy"`
	AllowInsecureJWKSURI bool           `json:"allow_insecure_jwks_uri"`
	LeewaySeconds        *int64         `json:"leeway_seconds"`
	MaxLifetimeSeconds   *int64         `json:"max_lifetime_seconds"`
	JWKSRefreshSeconds   *int64         `json:"jwks_refresh_seconds"`
	Replay               *replayConfig  `json:"replay"`
	Clients              []clientConfig `json:"clients"`

	// Derived by validate.
	audience                     verify.AudiencePolicy
	leeway, maxLifetime, refresh time.Duration
}

// replayConfig selects the jti store; nil means in memory.
type replayConfig struct {
	RedisURL string `json:"redis_url"`

	redis *redis.Options // derived by validate
}

// clientConfig is one registered client, in RFC 7591 metadata names.
type clientConfig struct {
	ClientID                    string          `json:"client_id"`
	ClientName                  string          `json:"client_name,omitempty"`
	TokenEndpointAuthMethod     string          `json:"token_endpoint_auth_method,omitempty"`
	TokenEndpointAuthSigningAlg string          `json:"token_endpoint_auth_signing_alg,omitempty"`
	JWKSURI                     string          `json:"jwks_uri,omitempty"`
	JWKS                        json.RawMessage `json:"jwks,omitempty"`

	keys *verify.KeySet // the checked inline jwks, derived by validate
}

// Defaults of serverConfig.
const (
	defaultLeewaySeconds      = 15
	defaultMaxLifetimeSeconds = 600
	defaultRefreshSeconds     = 300
)

// configError is an invalid configuration; it names the field at fault,
// as in "config: clients[1].jwks_uri: ...".
type configError struct {
	field string // JSON path, or empty for the whole document
	err   error
}

// Error returns "config: FIELD: problem".
func (e *configError) Error() string {
	if e.field == "" {
		return "config: " + e.err.Error()
	}
	return "config: " + e.field + ": " + e.err.Error()
}

// Unwrap returns the problem.
func (e *configError) Unwrap() error { return e.err }

func configErrorf(field, format string, args ...any) error {
	return &configError{field: field, err: fmt.Errorf(format, args...)}
}

// loadConfigFile reads and validates the configuration in file.
func loadConfigFile(file string) (*serverConfig, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, &configError{err: err}
	}
	defer f.Close()
	return parseConfig(f)
}

// parseConfig decodes and validates a configuration. Unknown members are
// errors. Every error is a *configError.
func parseConfig(r io.Reader) (*serverConfig, error) {
	b, err := io.ReadAll(io.LimitReader(r, 16<<20))
	if err != nil {
		return nil, &configError{err: err}
	}
	// Decode level by level, so that every error names its full path.
	var top struct {
		serverConfig
		Replay  json.RawMessage   `json:"replay"`
		Clients []json.RawMessage `json:"clients"`
	}
	if err := decodeStrict(b, &top, ""); err != nil {
		return nil, err
	}
	cfg := top.serverConfig
	if len(top.Replay) > 0 && !bytes.Equal(top.Replay, []byte("null")) {
		cfg.Replay = new(replayConfig)
		if err := decodeStrict(top.Replay, cfg.Replay, "replay"); err != nil {
			return nil, err
		}
	}
	cfg.Clients = make([]clientConfig, len(top.Clients))
	for i, raw := range top.Clients {
		if err := decodeStrict(raw, &cfg.Clients[i], fmt.Sprintf("clients[%d]", i)); err != nil {
			return nil, err
		}
	}
	if top.Clients == nil {
		cfg.Clients = nil
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// decodeStrict decodes the single JSON value b into v, rejecting unknown
// members and trailing data, and reports errors under the JSON path at.
func decodeStrict(b []byte, v any, at string) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			return &configError{field: at, err: errors.New("unexpected data after the JSON value")}
		}
		return nil
	}
	var (
		typeErr   *json.UnmarshalTypeError
		syntaxErr *json.SyntaxError
	)
	switch {
	case errors.As(err, &typeErr):
		// Fields of the embedded serverConfig of parseConfig come
		// qualified with its type name.
		field := strings.TrimPrefix(typeErr.Field, "serverConfig.")
		return &configError{field: joinPath(at, field), err: fmt.Errorf("want %s, got %s", describeType(typeErr.Type), typeErr.Value)}
	case errors.As(err, &syntaxErr):
		line := 1 + bytes.Count(b[:min(int(syntaxErr.Offset), len(b))], []byte("\n"))
		return &configError{field: at, err: fmt.Errorf("invalid JSON (line %d): %v", line, syntaxErr)}
	case errors.Is(err, io.EOF):
		return &configError{field: at, err: errors.New("empty document")}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &configError{field: at, err: errors.New("invalid JSON: unexpected end of document")}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if n, uerr := strconv.Unquote(name); uerr == nil {
			name = n
		}
		return &configError{field: joinPath(at, name), err: errors.New("unknown field")}
	}
	return &configError{field: at, err: err}
}

func joinPath(at, field string) string {
	switch {
	case at == "":
		return field
	case field == "":
		return at
	}
	return at + "." + field
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 { // json.RawMessage: any value
			return "a JSON value"
		}
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Pointer:
		return describeType(t.Elem())
	}
	return t.String()
}

// validate checks every field and fills in the derived ones. The first
// problem found is returned as a *configError.
func (c *serverConfig) validate() error {
	if c.Listen == "" {
		return configErrorf("listen", "required (host:port, such as 127.0.0.1:8080)")
	}
	if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		return configErrorf("listen", "want host:port: %v", err)
	} else if n, err := strconv.ParseUint(port, 10, 16); err != nil || (port != "0" && n == 0) {
		return configErrorf("listen", "invalid port %q", port)
	}
	if err := validateIssuer(c.Issuer); err != nil {
		return &configError{field: "issuer", err: err}
	}

	c.audience = verify.AudienceRFC7523bis
	if c.AudiencePolicy != nil {
		p, err := verify.ParseAudiencePolicy(*c.AudiencePolicy)
		if err != nil {
			return configErrorf("audience_policy", "%q: want \"strict\", \"rfc7523bis\" or \"legacy\"", *c.AudiencePolicy)
		}
		c.audience = p
	}

	for _, n := range []struct {
		field string
		v     *int64
		def   int64
		min   int64
		dst   *time.Duration
	}{
		// A leeway of 0 is a real policy (no clock skew tolerated).
		{"leeway_seconds", c.LeewaySeconds, defaultLeewaySeconds, 0, &c.leeway},
		{"max_lifetime_seconds", c.MaxLifetimeSeconds, defaultMaxLifetimeSeconds, 1, &c.maxLifetime},
		{"jwks_refresh_seconds", c.JWKSRefreshSeconds, defaultRefreshSeconds, 1, &c.refresh},
	} {
		v := n.def
		if n.v != nil {
			v = *n.v
		}
		switch {
		case v < n.min:
			return configErrorf(n.field, "must be at least %d seconds, not %d", n.min, v)
		case v > math.MaxInt64/int64(time.Second):
			return configErrorf(n.field, "%d seconds is too large", v)
		}
		*n.dst = time.Duration(v) * time.Second
	}

	if c.Replay != nil {
		if c.Replay.RedisURL == "" {
			return configErrorf("replay.redis_url", "required in replay (omit replay for an in-memory store)")
		}
		opts, err := redis.ParseURL(c.Replay.RedisURL)
		if err != nil {
			// go-redis's message may quote the URL; keep a password out of it.
			return configErrorf("replay.redis_url", "not a valid redis:// or rediss:// URL: %v", redactURLError(err, c.Replay.RedisURL))
		}
		c.Replay.redis = opts
	}

	if len(c.Clients) == 0 {
		return configErrorf("clients", "at least one client is required")
	}
	seen := map[string]int{}
	for i := range c.Clients {
		cl := &c.Clients[i]
		at := fmt.Sprintf("clients[%d]", i)
		if cl.ClientID == "" {
			return configErrorf(at+".client_id", "required")
		}
		if j, dup := seen[cl.ClientID]; dup {
			return configErrorf(at+".client_id", "%q already used by clients[%d]", cl.ClientID, j)
		}
		seen[cl.ClientID] = i
		if m := cl.TokenEndpointAuthMethod; m != "" && m != verify.MethodPrivateKeyJWT {
			return configErrorf(at+".token_endpoint_auth_method", "%q: only %q is supported", m, verify.MethodPrivateKeyJWT)
		}
		if alg := cl.TokenEndpointAuthSigningAlg; alg != "" && !slices.Contains(verify.DefaultAlgorithms(), alg) {
			return configErrorf(at+".token_endpoint_auth_signing_alg", "%q: want one of %s", alg, strings.Join(verify.DefaultAlgorithms(), ", "))
		}
		hasJWKS := len(cl.JWKS) > 0 && !bytes.Equal(cl.JWKS, []byte("null"))
		switch {
		case cl.JWKSURI != "" && hasJWKS:
			return configErrorf(at, "jwks_uri and jwks are mutually exclusive; give one")
		case cl.JWKSURI == "" && !hasJWKS:
			return configErrorf(at, "one of jwks_uri or jwks is required")
		case cl.JWKSURI != "":
			if err := validateJWKSURI(cl.JWKSURI, c.AllowInsecureJWKSURI); err != nil {
				return &configError{field: at + ".jwks_uri", err: err}
			}
		default:
			keys, err := inlineKeys(cl.JWKS, cl.ClientID)
			if err != nil {
				var ce *configError
				if errors.As(err, &ce) {
					ce.field = joinPath(at+".jwks", ce.field)
					return ce
				}
				return &configError{field: at + ".jwks", err: err}
			}
			cl.keys = keys
		}
	}
	return nil
}

// validateIssuer applies RFC 8414 §2 to an issuer identifier: an absolute
// http(s) URL without query or fragment. A trailing slash is refused so
// that issuer + "/token" is a sane URL (and aud comparison is exact).
func validateIssuer(s string) error {
	if s == "" {
		return errors.New("required (an absolute URL, such as https://as.example.com)")
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return errors.New("not a URL")
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("%q is not an absolute http or https URL", s)
	case u.Host == "" || u.Opaque != "":
		return fmt.Errorf("%q has no host", s)
	case u.User != nil:
		return errors.New("must not contain user information")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#"):
		return fmt.Errorf("%q must not have a query or fragment (RFC 8414 §2)", s)
	case strings.HasSuffix(s, "/"):
		return fmt.Errorf("%q must not end with \"/\"", s)
	}
	return nil
}

// validateJWKSURI checks a jwks_uri before any fetch: https with a host,
// unless insecure URLs are allowed. The fetcher's SSRF guard still checks
// the addresses it connects to.
func validateJWKSURI(s string, insecure bool) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return errors.New("not a URL")
	case u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || u.Opaque != "":
		return fmt.Errorf("%q is not an absolute https URL", s)
	case u.User != nil:
		return errors.New("must not contain user information")
	case u.Fragment != "":
		return errors.New("must not have a fragment")
	case u.Scheme == "http" && !insecure:
		return fmt.Errorf("%q: http is refused; use https (or set allow_insecure_jwks_uri for development)", s)
	}
	return nil
}

// inlineKeys returns the keys of an inline jwks, checked by
// jwksfetch.NewInline: every JWK must be a usable public signature key.
// Errors are *configError with paths relative to the jwks member; a
// private key is named with its client and kid.
func inlineKeys(raw json.RawMessage, clientID string) (*verify.KeySet, error) {
	var set struct {
		Keys []map[string]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, errors.New(`want a JWK Set: {"keys": [...]}`)
	}
	if len(set.Keys) == 0 {
		return nil, configErrorf("keys", "no keys")
	}
	for i, k := range set.Keys {
		var kid string
		json.Unmarshal(k["kid"], &kid)
		for _, name := range slices.Sorted(maps.Keys(k)) {
			if _, ok := jose.PrivateMember(name); ok {
				return nil, configErrorf(fmt.Sprintf("keys[%d]", i), "client %q: key %q holds private key material (%q); register only public keys", clientID, kid, name)
			}
		}
	}
	keys, err := jwksfetch.NewInline(raw, jwksfetch.InlineConfig{})
	if err != nil {
		var ke *jwksfetch.KeyError
		if errors.As(err, &ke) {
			return nil, configErrorf(fmt.Sprintf("keys[%d]", ke.Index), "client %q: %v", clientID, err)
		}
		return nil, err
	}
	return keys, nil
}

// redactURLError returns err with any password in rawURL masked.
func redactURLError(err error, rawURL string) error {
	u, perr := url.Parse(rawURL)
	if perr != nil || u.User == nil {
		return err
	}
	if _, has := u.User.Password(); !has {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), rawURL, u.Redacted()))
}
