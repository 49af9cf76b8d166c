package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestTokenStore(t *testing.T) {
	var (
		mu  sync.Mutex
		now = time.Unix(1_800_000_000, 0)
	)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	ts := newTokenStore(clock)
	a, err := ts.issue("c1", "read", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ts.issue("c2", "", 2*time.Hour)
	if a == b || len(a) != 43 {
		t.Fatalf("tokens %q %q", a, b)
	}
	info, ok := ts.lookup(a)
	if !ok || info.clientID != "c1" || info.scope != "read" || !info.iat.Equal(clock()) || !info.exp.Equal(clock().Add(time.Hour)) {
		t.Errorf("lookup: %+v %v", info, ok)
	}
	if _, ok := ts.lookup(a + "x"); ok {
		t.Error("unknown token found")
	}
	advance(time.Hour)
	if _, ok := ts.lookup(a); ok {
		t.Error("token active at its exp")
	}
	if _, ok := ts.lookup(b); !ok {
		t.Error("unexpired token lost")
	}
	// Issuing after the prune interval drops expired tokens.
	advance(time.Minute)
	ts.issue("c3", "", time.Hour)
	ts.mu.Lock()
	n := len(ts.tokens)
	ts.mu.Unlock()
	if n != 2 {
		t.Errorf("%d tokens kept, want 2", n)
	}
}

// TestTokenStoreFull: a full store refuses new tokens, prunes itself at
// most once a second meanwhile (not on every call), and takes tokens again
// once a prune finds expired ones.
func TestTokenStoreFull(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	now := t0
	ts := newTokenStore(func() time.Time { return now })
	ts.max = 3
	for _, ttl := range []time.Duration{5*time.Second + 200*time.Millisecond, time.Hour, time.Hour} {
		if _, err := ts.issue("c1", "", ttl); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []struct {
		at   time.Duration
		full bool
	}{
		{5 * time.Second, true},         // full: the next prune is due in a second
		{5500 * time.Millisecond, true}, // the first token expired, but no prune yet
		{6 * time.Second, false},        // pruned: room for one
		{6 * time.Second, true},         // full again
	} {
		now = t0.Add(step.at)
		_, err := ts.issue("c1", "", time.Hour)
		if full := errors.Is(err, errTooManyTokens); full != step.full || (err != nil && !full) {
			t.Fatalf("at %v: %v, want full %v", step.at, err, step.full)
		}
	}
}

func TestValidScope(t *testing.T) {
	for s, want := range map[string]bool{
		"":           true,
		"read":       true,
		"read write": true,
		"a:b/c!~":    true,
		"read  two":  false,
		" read":      false,
		"read ":      false,
		`a"b`:        false,
		`a\b`:        false,
		"é":          false,
		"a\tb":       false,
	} {
		if got := validScope(s); got != want {
			t.Errorf("validScope(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestServerIssuerPath checks the routes of an issuer with a path: RFC 8414
// §3 puts the well-known suffix before it, the endpoints go under it.
func TestServerIssuerPath(t *testing.T) {
	m := goodConfig()
	m["issuer"] = "https://as.example/tenant-1"
	cfg, err := parseConfig(strings.NewReader(marshalConfig(t, m)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := newServer(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/.well-known/oauth-authorization-server/tenant-1", 200},
		{"HEAD", "/.well-known/oauth-authorization-server/tenant-1", 200},
		{"GET", "/.well-known/oauth-authorization-server", 404},
		{"GET", "/tenant-1/.well-known/oauth-authorization-server", 404},
		{"POST", "/tenant-1/token", 400},      // the middleware: not a form
		{"POST", "/tenant-1/introspect", 400}, // likewise
		{"GET", "/tenant-1/token", 405},
		{"POST", "/token", 404},
	} {
		rec := httptest.NewRecorder()
		s.handler.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, rec.Code, tc.status)
		}
	}
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, httptest.NewRequest("GET", "/.well-known/oauth-authorization-server/tenant-1", nil))
	var doc map[string]any
	json.Unmarshal(rec.Body.Bytes(), &doc)
	if doc["issuer"] != "https://as.example/tenant-1" || doc["token_endpoint"] != "https://as.example/tenant-1/token" || doc["introspection_endpoint"] != "https://as.example/tenant-1/introspect" {
		t.Errorf("metadata %v", doc)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
