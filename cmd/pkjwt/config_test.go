package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/sign"
	"github.com/pkjwt/pkjwt/verify"
)

// goodConfig returns a valid configuration as a JSON object that tests
// change: an inline-jwks client and a jwks_uri client.
func goodConfig() map[string]any {
	return map[string]any{
		"listen":                  "127.0.0.1:0",
		"issuer":                  "http://127.0.0.1:18080",
		"allow_insecure_jwks_uri": true,
		"clients": []any{
			map[string]any{"client_id": "c1", "jwks_uri": "http://127.0.0.1:1/jwks", "token_endpoint_auth_signing_alg": "ES256"},
			map[string]any{"client_id": "c2", "jwks": map[string]any{"keys": []any{testkeys.JWK(testkeys.Signer(testkeys.Ed25519), "k2", "", "")}}},
		},
	}
}

func client(m map[string]any, i int) map[string]any {
	return m["clients"].([]any)[i].(map[string]any)
}

func marshalConfig(t *testing.T, m map[string]any) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// badConfigs are invalid configurations, each with the field its error
// must name and a further fragment of the message.
var badConfigs = []struct {
	name        string
	edit        func(m map[string]any)
	raw         string // used instead of edit when set
	field, want string
}{
	{name: "no listen", edit: func(m map[string]any) { delete(m, "listen") }, field: "listen", want: "required"},
	{name: "bad listen", edit: func(m map[string]any) { m["listen"] = "localhost" }, field: "listen", want: "host:port"},
	{name: "relative issuer", edit: func(m map[string]any) { m["issuer"] = "/as" }, field: "issuer", want: "absolute"},
	{name: "issuer with query", edit: func(m map[string]any) { m["issuer"] = "https://as.example?x=1" }, field: "issuer", want: "query"},
	{name: "audience policy", edit: func(m map[string]any) { m["audience_policy"] = "loose" }, field: "audience_policy", want: "loose"},
	{name: "negative leeway", edit: func(m map[string]any) { m["leeway_seconds"] = -1 }, field: "leeway_seconds", want: "at least 0"},
	{name: "negative lifetime", edit: func(m map[string]any) { m["max_lifetime_seconds"] = -5 }, field: "max_lifetime_seconds", want: "at least 1"},
	{name: "zero lifetime", edit: func(m map[string]any) { m["max_lifetime_seconds"] = 0 }, field: "max_lifetime_seconds", want: "at least 1"},
	{name: "zero refresh", edit: func(m map[string]any) { m["jwks_refresh_seconds"] = 0 }, field: "jwks_refresh_seconds", want: "at least 1"},
	{name: "string number", edit: func(m map[string]any) { m["leeway_seconds"] = "15" }, field: "leeway_seconds", want: "want an integer"},
	{name: "fractional number", edit: func(m map[string]any) { m["jwks_refresh_seconds"] = 1.5 }, field: "jwks_refresh_seconds", want: "want an integer"},
	{name: "unknown field", edit: func(m map[string]any) { m["listen_addr"] = ":1" }, field: "listen_addr", want: "unknown field"},
	{name: "unknown client field", edit: func(m map[string]any) { client(m, 1)["jwks_url"] = "x" }, field: "clients[1].jwks_url", want: "unknown field"},
	{name: "unknown replay field", edit: func(m map[string]any) { m["replay"] = map[string]any{"url": "redis://x"} }, field: "replay.url", want: "unknown field"},
	{name: "bad redis url", edit: func(m map[string]any) { m["replay"] = map[string]any{"redis_url": "http://127.0.0.1:6379"} }, field: "replay.redis_url", want: "redis"},
	{name: "two replay stores", edit: func(m map[string]any) {
		m["replay"] = map[string]any{"state_path": "/tmp/x.state", "redis_url": "redis://127.0.0.1:6379"}
	}, field: "replay", want: "give one of"},
	{name: "bad redis cluster url", edit: func(m map[string]any) {
		m["replay"] = map[string]any{"redis_cluster_url": "redis://127.0.0.1:7000?addr=127.0.0.1:7001&bogus=1"}
	}, field: "replay.redis_cluster_url", want: "cluster URL"},
	{name: "bad redis sentinel url", edit: func(m map[string]any) {
		m["replay"] = map[string]any{"redis_sentinel_url": "http://127.0.0.1:26379?master_name=m"}
	}, field: "replay.redis_sentinel_url", want: "Sentinel URL"},
	{name: "no clients", edit: func(m map[string]any) { delete(m, "clients") }, field: "clients", want: "at least one"},
	{name: "clients not array", edit: func(m map[string]any) { m["clients"] = map[string]any{} }, field: "clients", want: "want an array"},
	{name: "empty client_id", edit: func(m map[string]any) { client(m, 0)["client_id"] = "" }, field: "clients[0].client_id", want: "required"},
	{name: "duplicate client_id", edit: func(m map[string]any) { client(m, 1)["client_id"] = "c1" }, field: "clients[1].client_id", want: "clients[0]"},
	{name: "client_id type", edit: func(m map[string]any) { client(m, 1)["client_id"] = 7 }, field: "clients[1].client_id", want: "want a string"},
	{name: "neither key source", edit: func(m map[string]any) { delete(client(m, 1), "jwks") }, field: "clients[1]", want: "one of jwks_uri or jwks"},
	{name: "both key sources", edit: func(m map[string]any) { client(m, 1)["jwks_uri"] = "https://c.example/jwks" }, field: "clients[1]", want: "mutually exclusive"},
	{name: "http jwks_uri", edit: func(m map[string]any) { m["allow_insecure_jwks_uri"] = false }, field: "clients[0].jwks_uri", want: "allow_insecure_jwks_uri"},
	{name: "relative jwks_uri", edit: func(m map[string]any) { client(m, 0)["jwks_uri"] = "/jwks" }, field: "clients[0].jwks_uri", want: "absolute"},
	{name: "alg none", edit: func(m map[string]any) { client(m, 0)["token_endpoint_auth_signing_alg"] = "none" }, field: "clients[0].token_endpoint_auth_signing_alg", want: "none"},
	{name: "alg HS256", edit: func(m map[string]any) { client(m, 0)["token_endpoint_auth_signing_alg"] = "HS256" }, field: "clients[0].token_endpoint_auth_signing_alg", want: "HS256"},
	{name: "auth method", edit: func(m map[string]any) { client(m, 0)["token_endpoint_auth_method"] = "client_secret_basic" }, field: "clients[0].token_endpoint_auth_method", want: "private_key_jwt"},
	{name: "private key in jwks", edit: func(m map[string]any) {
		client(m, 1)["jwks"] = map[string]any{"keys": []any{testkeys.PrivateJWK(testkeys.P256, "leaked", "")}}
	}, field: "clients[1].jwks.keys[0]", want: `client "c2": key "leaked" holds private key material`},
	{name: "symmetric key in jwks", edit: func(m map[string]any) {
		client(m, 1)["jwks"] = map[string]any{"keys": []any{map[string]any{"kty": "oct", "kid": "s", "k": "c2VjcmV0"}}}
	}, field: "clients[1].jwks.keys[0]", want: "private key material"},
	{name: "weak key in jwks", edit: func(m map[string]any) {
		client(m, 1)["jwks"] = map[string]any{"keys": []any{testkeys.JWK(testkeys.Signer(testkeys.Ed25519), "ok", "", ""), testkeys.JWK(testkeys.Signer(testkeys.RSA1024), "weak", "", "")}}
	}, field: "clients[1].jwks.keys[1]", want: `client "c2"`},
	{name: "encryption key in jwks", edit: func(m map[string]any) {
		client(m, 1)["jwks"] = map[string]any{"keys": []any{testkeys.JWK(testkeys.Signer(testkeys.P256), "e", "", "enc")}}
	}, field: "clients[1].jwks.keys[0]", want: "enc"},
	{name: "empty jwks", edit: func(m map[string]any) { client(m, 1)["jwks"] = map[string]any{"keys": []any{}} }, field: "clients[1].jwks.keys", want: "no keys"},
	{name: "jwks not a set", edit: func(m map[string]any) { client(m, 1)["jwks"] = []any{} }, field: "clients[1].jwks", want: "JWK Set"},
	{name: "syntax", raw: "{\n\"listen\": \"127.0.0.1:0\",\n}", field: "", want: "line 3"},
	{name: "empty", raw: "", field: "", want: "empty"},
	{name: "trailing data", raw: `{"listen": "127.0.0.1:0"} {}`, field: "", want: "after the JSON value"},
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range badConfigs {
		t.Run(tc.name, func(t *testing.T) {
			doc := tc.raw
			if tc.edit != nil {
				m := goodConfig()
				tc.edit(m)
				doc = marshalConfig(t, m)
			}
			_, err := parseConfig(strings.NewReader(doc))
			ce, ok := err.(*configError)
			if !ok {
				t.Fatalf("error %v (%T), want *configError", err, err)
			}
			if ce.field != tc.field || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q (field %q), want field %q and %q", err, ce.field, tc.field, tc.want)
			}
			if tc.field != "" && !strings.HasPrefix(err.Error(), "config: "+tc.field+": ") {
				t.Errorf("error %q does not start with the field", err)
			}
		})
	}
}

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := parseConfig(strings.NewReader(marshalConfig(t, goodConfig())))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.audience != verify.AudienceRFC7523bis || cfg.leeway != 15*time.Second || cfg.maxLifetime != 10*time.Minute || cfg.refresh != 5*time.Minute || cfg.Replay != nil {
		t.Errorf("defaults: %+v", cfg)
	}

	m := goodConfig()
	m["audience_policy"] = "legacy"
	m["leeway_seconds"] = 3
	m["max_lifetime_seconds"] = 120
	m["jwks_refresh_seconds"] = 1
	m["replay"] = map[string]any{"redis_url": "redis://127.0.0.1:6380/2"}
	cfg, err = parseConfig(strings.NewReader(marshalConfig(t, m)))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.audience != verify.AudienceLegacy || cfg.leeway != 3*time.Second || cfg.maxLifetime != 2*time.Minute || cfg.refresh != time.Second {
		t.Errorf("explicit values: %+v", cfg)
	}
	if o := cfg.Replay.redis; o == nil || o.Addr != "127.0.0.1:6380" || o.DB != 2 {
		t.Errorf("redis options %+v", o)
	}
}

// TestZeroLeeway: leeway_seconds 0 means no leeway, not the default: an
// assertion that expired a second ago is refused.
func TestZeroLeeway(t *testing.T) {
	m := goodConfig()
	m["leeway_seconds"] = 0
	cfg, err := parseConfig(strings.NewReader(marshalConfig(t, m)))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.leeway != 0 {
		t.Errorf("leeway %v", cfg.leeway)
	}
	expiredNow := func(leeway any) error {
		m := goodConfig()
		m["leeway_seconds"] = leeway
		if leeway == nil {
			delete(m, "leeway_seconds")
		}
		cfg, err := parseConfig(strings.NewReader(marshalConfig(t, m)))
		if err != nil {
			t.Fatal(err)
		}
		v, closeKeys, err := buildVerifier(cfg, &memStore{}, slog.New(slog.DiscardHandler), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer closeKeys()
		c := testkeys.Claims("c2", cfg.Issuer, time.Now())
		c["exp"] = time.Now().Add(-time.Second).Unix()
		a := testkeys.Sign("EdDSA", testkeys.Signer(testkeys.Ed25519), map[string]any{"kid": "k2"}, c)
		_, err = v.Verify(context.Background(), verify.Request{AssertionType: verify.AssertionType, Assertion: a})
		return err
	}
	if err := expiredNow(0); !errors.Is(err, verify.ErrExpired) {
		t.Errorf("leeway 0: %v, want ErrExpired", err)
	}
	if err := expiredNow(nil); err != nil {
		t.Errorf("default leeway: %v", err)
	}
}

// memStore is a replay.Store that accepts every claim once.
type memStore struct{ sync.Map }

func (s *memStore) Claim(_ context.Context, key string, _ time.Time) (time.Time, error) {
	if _, dup := s.LoadOrStore(key, true); dup {
		return time.Time{}, replay.ErrReplayed
	}
	return time.Time{}, nil
}

func TestDemoConfigIsValid(t *testing.T) {
	cfg, err := parseConfig(strings.NewReader(string(demoConfigJSON)))
	if err != nil {
		t.Fatal(err)
	}
	key, err := parseSigningKey(demoClientKeyPEM, "")
	if err != nil {
		t.Fatal(err)
	}
	tp, _ := sign.Thumbprint(key.signer.Public())
	if c := cfg.Clients[0]; c.ClientID != demoClientID || !strings.Contains(string(c.JWKS), tp) {
		t.Errorf("demo client %s does not hold the demo key %s", c.JWKS, tp)
	}
}
