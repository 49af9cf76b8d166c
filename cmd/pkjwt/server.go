package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pkjwt/pkjwt/jwksfetch"
	"github.com/pkjwt/pkjwt/middleware"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/replay/redisstore"
	"github.com/pkjwt/pkjwt/verify"
)

// Server settings that the configuration does not carry.
const (
	accessTokenTTL   = time.Hour        // lifetime of issued access tokens
	maxAccessTokens  = 1_000_000        // live access tokens kept for introspection (~200 MB at most)
	shutdownTimeout  = 10 * time.Second // grace period for open requests
	redisPingTimeout = 3 * time.Second
	metadataPath     = "/.well-known/oauth-authorization-server"
)

// server is the reference authorization server: a verifier with its key
// sources and replay store, and the HTTP handlers of the token,
// introspection and metadata endpoints. It is safe for concurrent use;
// Close releases what it holds.
type server struct {
	cfg      *serverConfig
	verifier *verify.Verifier
	handler  http.Handler
	tokens   *tokenStore

	tokenEndpoint, introspectionEndpoint string
	obs                                  *observer    // nil: no metrics, no access log
	readyChecks                          []readyCheck // of /readyz

	closeOnce sync.Once
	closers   []func() error
}

// newServer builds the server configured by cfg (validated by parseConfig).
// It connects to Redis when the configuration names one, so that a wrong
// address shows at start-up. logger receives authentication failures and
// key fetch problems; nil discards them.
func newServer(ctx context.Context, cfg *serverConfig, logger *slog.Logger) (s *server, err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s = &server{
		cfg:                   cfg,
		tokens:                newTokenStore(time.Now),
		tokenEndpoint:         cfg.Issuer + "/token",
		introspectionEndpoint: cfg.Issuer + "/introspect",
		obs:                   newObserver(cfg, logger),
	}
	defer func() {
		if err != nil {
			s.Close()
			s = nil
		}
	}()

	store, err := s.replayStore(ctx, cfg, logger)
	if err != nil {
		return s, err
	}
	v, closeKeys, err := buildVerifier(cfg, store, logger, s.obs)
	if err != nil {
		return s, err
	}
	s.closers = append(s.closers, closeKeys)
	s.verifier = v

	auth, err := middleware.New(v, s.obs.middlewareConfig(logger))
	if err != nil {
		return s, err
	}
	prefix := issuerPath(cfg.Issuer)
	mux := http.NewServeMux()
	// RFC 8414 §3: the well-known suffix goes before the issuer's path.
	mux.HandleFunc("GET "+metadataPath+prefix, s.metadata)
	// Any method reaches the middleware, which answers 405 in JSON.
	mux.Handle(prefix+"/token", auth(http.HandlerFunc(s.token)))
	mux.Handle(prefix+"/introspect", auth(http.HandlerFunc(s.introspect)))
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	s.handler = s.obs.wrap(mux)
	return s, nil
}

// replayStore returns the configured jti store: Redis, checked with a
// PING, or process memory with its state file.
func (s *server) replayStore(ctx context.Context, cfg *serverConfig, logger *slog.Logger) (replay.Store, error) {
	rc := cfg.Replay
	if rc == nil {
		rc = &replayConfig{}
	}
	var rdb redis.UniversalClient
	switch {
	case rc.SQL != nil:
		return s.sqlReplayStore(ctx, rc.SQL, logger)
	case rc.redis != nil:
		opts := *rc.redis
		opts.ContextTimeoutEnabled = true
		rdb = redis.NewClient(&opts)
	case rc.cluster != nil:
		opts := *rc.cluster
		opts.ContextTimeoutEnabled = true
		rdb = redis.NewClusterClient(&opts)
	case rc.sentinel != nil:
		opts := *rc.sentinel
		opts.ContextTimeoutEnabled = true
		rdb = redis.NewFailoverClient(&opts)
	case rc.ephemeral:
		m, err := replay.NewMemory(replay.MemoryConfig{})
		if err != nil {
			return nil, err
		}
		s.closers = append(s.closers, m.Close)
		return m, nil
	default:
		path := rc.StatePath
		if path == "" {
			path = defaultStatePath(cfg.Issuer)
			// A directory that cannot be made shows as a state file that
			// cannot be written: the store guards from its start and logs.
			_ = os.MkdirAll(filepath.Dir(path), 0o700)
		}
		m, err := replay.NewMemory(replay.MemoryConfig{StatePath: path, Logger: logger})
		if err != nil {
			return nil, err
		}
		s.closers = append(s.closers, m.Close)
		return m, nil
	}
	s.closers = append(s.closers, rdb.Close)
	s.readyChecks = append(s.readyChecks, readyCheck{"replay store", func(ctx context.Context) error { return rdb.Ping(ctx).Err() }})
	pingCtx, cancel := context.WithTimeout(ctx, redisPingTimeout)
	defer cancel()
	if err := rdb.Ping(pingCtx).Err(); err != nil {
		return nil, fmt.Errorf("replay: %s does not answer: %w", replayName(cfg), err)
	}
	store, err := redisstore.New(rdb, redisstore.Config{Logger: logger})
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, store.Close)
	return store, nil
}

// defaultStatePath is where the memory store keeps its state when the
// configuration names no state_path: a file per issuer under
// $XDG_STATE_HOME/pkjwt, ~/.local/state/pkjwt, or the temporary directory.
func defaultStatePath(issuer string) string {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".local", "state")
		} else {
			dir = os.TempDir()
		}
	}
	sum := sha256.Sum256([]byte(issuer))
	return filepath.Join(dir, "pkjwt", fmt.Sprintf("replay-%x.state", sum[:8]))
}

// buildVerifier returns the verifier the configuration describes, claiming
// jtis in store, and a function that stops its key sources. Fetch problems
// of jwks_uri key sets go to logger; events to obs (nil: none).
func buildVerifier(cfg *serverConfig, store replay.Store, logger *slog.Logger, obs *observer) (*verify.Verifier, func() error, error) {
	var reg *jwksfetch.Registry
	closeKeys := func() error {
		if reg != nil {
			return reg.Close()
		}
		return nil
	}
	clients := verify.ClientMap{}
	for i := range cfg.Clients {
		c := &cfg.Clients[i]
		keys := verify.KeySource(c.keys)
		if c.JWKSURI != "" {
			if reg == nil {
				var err error
				reg, err = jwksfetch.NewRegistry(jwksfetch.RegistryConfig{Remote: jwksfetch.RemoteConfig{
					RefreshInterval:              cfg.refresh,
					InsecureAllowLoopbackAndHTTP: cfg.AllowInsecureJWKSURI,
					InsecureAllowPrivateNetworks: cfg.AllowInsecureJWKSURI,
					Logger:                       logger,
					Hooks:                        obs.jwksHooks(),
				}})
				if err != nil {
					return nil, nil, err
				}
			}
			src, err := reg.Source(c.JWKSURI)
			if err != nil {
				closeKeys()
				return nil, nil, &configError{field: fmt.Sprintf("clients[%d].jwks_uri", i), err: err}
			}
			keys = src
		}
		clients[c.ClientID] = &verify.Client{
			ID:         c.ClientID,
			Method:     verify.MethodPrivateKeyJWT,
			Keys:       keys,
			SigningAlg: c.TokenEndpointAuthSigningAlg,
		}
	}
	vcfg := verify.Config{
		Audience:    cfg.audience,
		Leeway:      cfg.leeway,
		MaxLifetime: cfg.maxLifetime,
		Hooks:       obs.verifyHooks(),
	}
	if cfg.leeway == 0 {
		vcfg.Leeway = -1 // verify reads zero as its default; the config means none
	}
	if cfg.audience == verify.AudienceLegacy {
		vcfg.Endpoints = []string{cfg.Issuer + "/token"}
	}
	v, err := verify.New(cfg.Issuer, clients, store, vcfg)
	if err != nil {
		closeKeys()
		return nil, nil, err
	}
	return v, closeKeys, nil
}

// issuerPath returns the path of an issuer identifier, without a trailing
// slash ("" for "https://as.example.com").
func issuerPath(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(u.EscapedPath(), "/")
}

// serve answers HTTP requests on ln until ctx is done, then shuts down
// gracefully: it stops accepting, lets open requests finish for up to
// shutdownTimeout, and returns. It does not Close s.
func (s *server) serve(ctx context.Context, ln net.Listener, errorLog *slog.Logger) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	if errorLog != nil {
		hs.ErrorLog = slog.NewLogLogger(errorLog.Handler(), slog.LevelWarn)
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// Close stops the key sources and closes the replay store. It is safe to
// call more than once.
func (s *server) Close() error {
	var errs []error
	s.closeOnce.Do(func() {
		for i := len(s.closers) - 1; i >= 0; i-- {
			errs = append(errs, s.closers[i]())
		}
	})
	return errors.Join(errs...)
}

// metadataDocument is the RFC 8414 authorization server metadata.
type metadataDocument struct {
	Issuer                 string   `json:"issuer"`
	TokenEndpoint          string   `json:"token_endpoint"`
	IntrospectionEndpoint  string   `json:"introspection_endpoint"`
	GrantTypesSupported    []string `json:"grant_types_supported"`
	ResponseTypesSupported []string `json:"response_types_supported"`
	// The client authentication members come from the verifier itself,
	// so that they cannot drift from what the endpoints accept.
	middleware.Metadata
}

func (s *server) metadata(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, metadataDocument{
		Issuer:                 s.cfg.Issuer,
		TokenEndpoint:          s.tokenEndpoint,
		IntrospectionEndpoint:  s.introspectionEndpoint,
		GrantTypesSupported:    []string{"client_credentials"},
		ResponseTypesSupported: []string{}, // no authorization endpoint
		Metadata:               middleware.NewMetadata(s.verifier, middleware.TokenEndpoint, middleware.IntrospectionEndpoint),
	})
}

// tokenResponse is the RFC 6749 §5.1 access token response.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope,omitempty"`
}

// token is the token endpoint behind the middleware: the client is
// authenticated; it issues an opaque access token for the
// client_credentials grant (RFC 6749 §4.4).
func (s *server) token(w http.ResponseWriter, r *http.Request) {
	res, ok := middleware.ResultFrom(r.Context())
	if !ok { // cannot happen without Config.PassThrough
		writeOAuthError(w, http.StatusUnauthorized, verify.CodeInvalidClient, "client authentication required")
		return
	}
	grant, err := single(r.PostForm, "grant_type")
	switch {
	case err != nil:
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	case grant != "client_credentials":
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is supported")
		return
	}
	scope, err := optional(r.PostForm, "scope")
	if err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	if !validScope(scope) {
		writeOAuthError(w, http.StatusBadRequest, "invalid_scope", "scope is not a list of scope tokens")
		return
	}
	tok, err := s.tokens.issue(res.ClientID, scope, accessTokenTTL)
	if err != nil {
		writeOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "too many live access tokens")
		return
	}
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken: tok,
		TokenType:   "Bearer",
		ExpiresIn:   int64(accessTokenTTL / time.Second),
		Scope:       scope,
	})
}

// introspectionResponse is the RFC 7662 §2.2 response.
type introspectionResponse struct {
	Active    bool    `json:"active"`
	ClientID  string  `json:"client_id,omitempty"`
	Scope     *string `json:"scope,omitempty"`
	TokenType string  `json:"token_type,omitempty"`
	Exp       int64   `json:"exp,omitempty"`
	Iat       int64   `json:"iat,omitempty"`
	Iss       string  `json:"iss,omitempty"`
}

// introspect is the introspection endpoint behind the middleware: any
// authenticated client may ask about any token this server issued.
func (s *server) introspect(w http.ResponseWriter, r *http.Request) {
	if _, ok := middleware.ResultFrom(r.Context()); !ok {
		writeOAuthError(w, http.StatusUnauthorized, verify.CodeInvalidClient, "client authentication required")
		return
	}
	tok, err := single(r.PostForm, "token")
	if err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	info, ok := s.tokens.lookup(tok)
	if !ok {
		writeJSON(w, http.StatusOK, introspectionResponse{Active: false})
		return
	}
	writeJSON(w, http.StatusOK, introspectionResponse{
		Active:    true,
		ClientID:  info.clientID,
		Scope:     &info.scope,
		TokenType: "Bearer",
		Exp:       info.exp.Unix(),
		Iat:       info.iat.Unix(),
		Iss:       s.cfg.Issuer,
	})
}

// single returns the one non-empty value of a required form parameter.
func single(form map[string][]string, name string) (string, error) {
	switch vs := form[name]; {
	case len(vs) == 0 || vs[0] == "":
		return "", fmt.Errorf("%s missing", name)
	case len(vs) > 1:
		return "", fmt.Errorf("%s repeated", name)
	default:
		return vs[0], nil
	}
}

// optional returns the value of an optional form parameter, or "".
func optional(form map[string][]string, name string) (string, error) {
	if vs := form[name]; len(vs) > 1 {
		return "", fmt.Errorf("%s repeated", name)
	} else if len(vs) == 1 {
		return vs[0], nil
	}
	return "", nil
}

// validScope reports whether s is empty or a space-separated list of
// scope tokens (RFC 6749 §3.3).
func validScope(s string) bool {
	if s == "" {
		return true
	}
	for _, tok := range strings.Split(s, " ") {
		if tok == "" {
			return false
		}
		for i := 0; i < len(tok); i++ {
			if c := tok[i]; c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
				return false
			}
		}
	}
	return true
}

// writeJSON writes v as a JSON response that must not be cached
// (RFC 6749 §5.1).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// writeOAuthError writes an RFC 6749 §5.2 error response.
func writeOAuthError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{code, description})
}

// tokenStore keeps the access tokens the server issued, for introspection.
// Tokens are stored by their SHA-256 hash. It is safe for concurrent use.
type tokenStore struct {
	now func() time.Time
	max int // live tokens kept at most

	mu        sync.Mutex
	tokens    map[[sha256.Size]byte]tokenInfo
	nextPrune time.Time
}

type tokenInfo struct {
	clientID, scope string
	iat, exp        time.Time
}

func newTokenStore(now func() time.Time) *tokenStore {
	return &tokenStore{now: now, max: maxAccessTokens, tokens: map[[sha256.Size]byte]tokenInfo{}}
}

var errTooManyTokens = errors.New("too many live access tokens")

// issue returns a new opaque access token (32 random bytes, base64url) for
// clientID and scope, valid for ttl.
func (ts *tokenStore) issue(clientID, scope string, ttl time.Duration) (string, error) {
	tok := randomString(32)
	now := ts.now()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	// Prune expired tokens once a minute, or once a second while full: a
	// full store must not turn every request into a scan of it.
	if !now.Before(ts.nextPrune) {
		for k, info := range ts.tokens {
			if !now.Before(info.exp) {
				delete(ts.tokens, k)
			}
		}
		ts.nextPrune = now.Add(time.Minute)
	}
	if len(ts.tokens) >= ts.max && now.Add(time.Second).Before(ts.nextPrune) {
		ts.nextPrune = now.Add(time.Second)
	}
	if len(ts.tokens) >= ts.max {
		return "", errTooManyTokens
	}
	ts.tokens[sha256.Sum256([]byte(tok))] = tokenInfo{clientID: clientID, scope: scope, iat: now, exp: now.Add(ttl)}
	return tok, nil
}

// lookup returns what the server knows of an unexpired token it issued.
func (ts *tokenStore) lookup(tok string) (tokenInfo, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	info, ok := ts.tokens[sha256.Sum256([]byte(tok))]
	if !ok || !ts.now().Before(info.exp) {
		return tokenInfo{}, false
	}
	return info, true
}
