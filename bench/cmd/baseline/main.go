// Command baseline is the reference point of the load test: a token
// endpoint that authenticates a client assertion with a bare signature
// check and nothing else.
//
// It reads the same configuration file as pkjwt serve (it uses listen and
// the inline jwks of each client, and ignores the rest), and answers
// POST /token as the reference server does, with an access token response
// of the same shape, after:
//
//   - r.ParseForm on a body capped at 64 KiB (as pkjwt's middleware caps it),
//   - golang-jwt's Parse of client_assertion with the key of the header's
//     kid (RS256, PS256, ES256 or EdDSA), which checks the signature and,
//     if present, exp, nbf and iat.
//
// It does not look at iss, sub or aud, keeps no replay store and does
// not match the client to its key: it is the floor, not a server anyone
// should run. Usage:
//
//	baseline -config FILE
//
// It prints "baseline: listening on ADDR" on stderr when ready, and exits
// on SIGINT or SIGTERM.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

type config struct {
	Listen  string `json:"listen"`
	Clients []struct {
		JWKS *jose.JSONWebKeySet `json:"jwks"`
	} `json:"clients"`
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("baseline: ")
	file := flag.String("config", "", "pkjwt serve configuration `file`")
	flag.Parse()
	if *file == "" {
		flag.Usage()
		os.Exit(2)
	}
	b, err := os.ReadFile(*file)
	if err != nil {
		log.Fatal(err)
	}
	var cfg config
	if err := json.Unmarshal(b, &cfg); err != nil {
		log.Fatal(err)
	}
	keys := map[string]any{}
	for _, c := range cfg.Clients {
		if c.JWKS == nil {
			continue
		}
		for _, k := range c.JWKS.Keys {
			keys[k.KeyID] = k.Key
		}
	}
	if len(keys) == 0 {
		log.Fatal("no inline keys in the configuration")
	}

	parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256", "PS256", "ES256", "EdDSA"}))
	keyFunc := func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if k, ok := keys[kid]; ok {
			return k, nil
		}
		return nil, errors.New("unknown kid")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
			return
		}
		if _, err := parser.Parse(r.PostForm.Get("client_assertion"), keyFunc); err != nil {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
			return
		}
		writeJSON(w, http.StatusOK, tokenResponse{AccessToken: randomToken(), TokenType: "Bearer", ExpiresIn: 3600})
	})

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		log.Fatal(err)
	}
	// The same server settings as pkjwt serve.
	hs := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	fmt.Fprintf(os.Stderr, "baseline: listening on %s, %d keys\n", ln.Addr(), len(keys))
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// tokenResponse is the RFC 6749 §5.1 response, as pkjwt serve writes it.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

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
