package main

import (
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
