package main

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/pkjwt/pkjwt/verify"
)

// sloppyHoles are the holes a sloppyServer can have, one toggle each.
type sloppyHoles struct {
	noReplay       bool // never remembers a jti
	noAud          bool // never checks aud
	noLifetimeCap  bool // accepts any exp in the future
	acceptsNone    bool // accepts alg none, in any casing, unsigned
	hs256PublicKey bool // verifies HS256 with the client's public key (PEM) as the secret
	trustsJWK      bool // verifies with a key from the jwk header
	fetchesJKU     bool // fetches the jku header's JWK Set and verifies with it
	fetchesJKUOnly bool // fetches the jku header's URL, then verifies with the registered key

	// Not holes, but answers a probe must not take for refusals:
	lockoutAfter int    // after this many failed authentications, refuse every request (0: never)
	failNone     string // for alg "none": "500" answers a server error, "hang" never answers
}

// sloppyServer is a deliberately hand-written token endpoint for one
// private_key_jwt client (RS256 registered), strict in every check except
// the holes it is told to have. It does not use package verify, so that
// the probe is tested against an independent implementation.
type sloppyServer struct {
	holes    sloppyHoles
	issuer   string
	clientID string
	kid      string
	key      crypto.PublicKey
	now      func() time.Time

	// metadata holds further members of the metadata document.
	metadata map[string]any
	// requests counts the requests the server received.
	requests atomic.Int64

	mu       sync.Mutex
	jtis     map[string]bool
	failures int
	hang     chan struct{} // closed when the server stops, releasing hung requests
}

const (
	sloppyLeeway      = 15 * time.Second
	sloppyMaxLifetime = 10 * time.Minute
	sloppyMaxBody     = 64 << 10
	sloppyMaxJWT      = 16 << 10
)

// startSloppy serves a sloppyServer for client clientID with key (kid) on
// 127.0.0.1: metadata (with the further members of metadata), token and
// introspection endpoints.
func startSloppy(t *testing.T, holes sloppyHoles, clientID, kid string, key crypto.PublicKey, metadata map[string]any) *sloppyServer {
	t.Helper()
	s := &sloppyServer{holes: holes, clientID: clientID, kid: kid, key: key, now: time.Now, jtis: map[string]bool{}, metadata: metadata, hang: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		md := map[string]any{
			"issuer":                                s.issuer,
			"token_endpoint":                        s.issuer + "/token",
			"introspection_endpoint":                s.issuer + "/introspect",
			"token_endpoint_auth_methods_supported": []string{"private_key_jwt"},
			"token_endpoint_auth_signing_alg_values_supported": []string{"RS256"},
		}
		for k, v := range s.metadata {
			md[k] = v
		}
		sloppyJSON(w, http.StatusOK, md)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if s.authenticate(w, r) {
			if r.PostForm.Get("grant_type") != "client_credentials" {
				sloppyError(w, http.StatusBadRequest, "unsupported_grant_type", "client_credentials only")
				return
			}
			sloppyJSON(w, http.StatusOK, map[string]any{"access_token": "sloppy-" + randomString(8), "token_type": "Bearer", "expires_in": 60})
		}
	})
	mux.HandleFunc("POST /introspect", func(w http.ResponseWriter, r *http.Request) {
		if s.authenticate(w, r) {
			sloppyJSON(w, http.StatusOK, map[string]any{"active": false})
		}
	})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		mux.ServeHTTP(w, r)
	}))
	s.issuer = "http://" + srv.Listener.Addr().String()
	srv.Start()
	t.Cleanup(func() {
		close(s.hang)
		srv.Close()
	})
	return s
}

func sloppyJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func sloppyError(w http.ResponseWriter, status int, code, description string) {
	sloppyJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// authenticate authenticates the client of r, or answers the error and
// returns false.
func (s *sloppyServer) authenticate(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, sloppyMaxBody)
	if err := r.ParseForm(); err != nil {
		sloppyError(w, http.StatusRequestEntityTooLarge, "invalid_request", "body")
		return false
	}
	form := r.PostForm
	switch {
	case r.Header.Get("Authorization") != "":
		sloppyError(w, http.StatusBadRequest, "invalid_request", "two authentication methods")
		return false
	case len(form["client_assertion"]) != 1 || len(form["client_assertion_type"]) != 1:
		sloppyError(w, http.StatusBadRequest, "invalid_request", "client_assertion and client_assertion_type exactly once")
		return false
	case form.Get("client_assertion_type") != verify.AssertionType:
		sloppyError(w, http.StatusBadRequest, "invalid_client", "client_assertion_type")
		return false
	}
	s.mu.Lock()
	locked := s.holes.lockoutAfter > 0 && s.failures >= s.holes.lockoutAfter
	s.mu.Unlock()
	if locked {
		sloppyError(w, http.StatusUnauthorized, "invalid_client", "client locked")
		return false
	}
	if assertionAlg(form.Get("client_assertion")) == "none" {
		switch s.holes.failNone {
		case "500":
			sloppyError(w, http.StatusInternalServerError, "server_error", "crashed")
			return false
		case "hang":
			<-s.hang
			return false
		}
	}
	if err := s.check(form.Get("client_assertion"), form.Get("client_id")); err != nil {
		s.mu.Lock()
		s.failures++
		s.mu.Unlock()
		sloppyError(w, http.StatusUnauthorized, "invalid_client", err.Error())
		return false
	}
	return true
}

// assertionAlg returns the alg of a compact JWS's header, or "".
func assertionAlg(tok string) string {
	var h struct {
		Alg string `json:"alg"`
	}
	seg, _, _ := strings.Cut(tok, ".")
	decodeSegment(seg, &h)
	return h.Alg
}

// check verifies an assertion; the holes leave out what they say.
func (s *sloppyServer) check(tok, clientID string) error {
	if len(tok) > sloppyMaxJWT {
		return errors.New("too long")
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return errors.New("not a compact JWS")
	}
	var header struct {
		Alg  string          `json:"alg"`
		Kid  string          `json:"kid"`
		Typ  *string         `json:"typ"`
		Crit []string        `json:"crit"`
		JWK  json.RawMessage `json:"jwk"`
		JKU  string          `json:"jku"`
	}
	var claims struct {
		Iss, Sub string
		Aud      any
		Exp, Nbf *float64
		Iat      *float64
		Jti      *string
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return err
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return err
	}
	if len(header.Crit) > 0 {
		return errors.New("crit")
	}
	if header.Typ != nil && !strings.EqualFold(*header.Typ, "JWT") {
		return errors.New("typ")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return errors.New("signature encoding")
	}
	signed := parts[0] + "." + parts[1]
	switch {
	case s.holes.acceptsNone && strings.EqualFold(header.Alg, "none"):
		// Hole: unsigned assertions pass.
	case s.holes.hs256PublicKey && header.Alg == "HS256":
		secret, err := publicKeyPEM(s.key)
		if err != nil {
			return err
		}
		if err := jwt.SigningMethodHS256.Verify(signed, sig, secret); err != nil {
			return errors.New("signature")
		}
	case header.Alg != "RS256":
		return errors.New("alg")
	default:
		key, err := s.keyFor(header.Kid, header.JWK, header.JKU)
		if err != nil {
			return err
		}
		if err := jwt.SigningMethodRS256.Verify(signed, sig, key); err != nil {
			return errors.New("signature")
		}
	}

	now := s.now()
	at := func(f *float64) time.Time { return time.Unix(int64(*f), 0) }
	switch {
	case claims.Iss != s.clientID || claims.Sub != s.clientID:
		return errors.New("iss and sub must be the client")
	case clientID != "" && clientID != claims.Iss:
		return errors.New("client_id")
	case !s.holes.noAud && claims.Aud != s.issuer:
		return errors.New("aud")
	case claims.Exp == nil:
		return errors.New("exp missing")
	case !now.Before(at(claims.Exp).Add(sloppyLeeway)):
		return errors.New("expired")
	case !s.holes.noLifetimeCap && at(claims.Exp).Sub(now) > sloppyMaxLifetime:
		return errors.New("lifetime")
	case claims.Nbf != nil && at(claims.Nbf).After(now.Add(sloppyLeeway)):
		return errors.New("nbf")
	case claims.Iat != nil && at(claims.Iat).After(now.Add(sloppyLeeway)):
		return errors.New("iat in the future")
	case claims.Iat != nil && now.Sub(at(claims.Iat)) > sloppyMaxLifetime+sloppyLeeway:
		return errors.New("iat too old")
	case claims.Jti == nil || *claims.Jti == "" || len(*claims.Jti) > 256:
		return errors.New("jti")
	}
	if s.holes.noReplay {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.jtis[*claims.Jti] {
		return errors.New("replayed")
	}
	s.jtis[*claims.Jti] = true
	return nil
}

// keyFor returns the key an RS256 assertion is verified with: the
// registered one, unless a hole lets the header choose.
func (s *sloppyServer) keyFor(kid string, jwk json.RawMessage, jku string) (crypto.PublicKey, error) {
	switch {
	case s.holes.trustsJWK && len(jwk) > 0:
		j, err := jwkset.NewJWKFromRawJSON(jwk, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			return nil, err
		}
		return j.Key(), nil
	case s.holes.fetchesJKU && jku != "":
		resp, err := http.Get(jku)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return nil, err
		}
		var set jwkset.JWKSMarshal
		if err := json.Unmarshal(b, &set); err != nil {
			return nil, err
		}
		for _, m := range set.Keys {
			if m.KID == kid {
				j, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
				if err != nil {
					return nil, err
				}
				return j.Key(), nil
			}
		}
		return nil, errors.New("no key in jku")
	case s.holes.fetchesJKUOnly && jku != "":
		if resp, err := http.Get(jku); err == nil {
			resp.Body.Close()
		}
	}
	switch {
	case kid != "" && kid != s.kid:
		return nil, errors.New("unknown kid")
	}
	return s.key, nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return fmt.Errorf("segment: %w", err)
	}
	return json.Unmarshal(b, v)
}

// writePrivatePEM writes key as PKCS #8 PEM into dir and returns the path.
func writePrivatePEM(t *testing.T, dir, name string, key crypto.Signer) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, name, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}
