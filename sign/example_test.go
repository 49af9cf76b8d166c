package sign_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/sign"
	"github.com/pkjwt/pkjwt/verify"
)

// part decodes segment i (0: header, 1: claims) of a compact JWS.
func part(jws string, i int) map[string]any {
	b, _ := base64.RawURLEncoding.DecodeString(strings.Split(jws, ".")[i])
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}

// Mint a client assertion with any crypto.Signer (here an in-memory P-256
// key; a KMS or HSM client works the same).
func ExampleSigner() {
	key := testkeys.Signer(testkeys.P256)
	signer, err := sign.NewSigner("my-client", key, "https://as.example.com", &sign.Config{
		Now: func() time.Time { return time.Unix(1_800_000_000, 0) },
	})
	if err != nil {
		log.Fatal(err)
	}
	assertion, err := signer.Assertion(context.Background()) // fresh jti every call
	if err != nil {
		log.Fatal(err)
	}
	h, c := part(assertion, 0), part(assertion, 1)
	fmt.Println("alg:", h["alg"], "typ:", h["typ"], "kid is the thumbprint:", h["kid"] == signer.KeyID())
	fmt.Println("iss:", c["iss"], "sub:", c["sub"], "aud:", c["aud"])
	fmt.Println("lifetime:", c["exp"].(float64)-c["iat"].(float64), "s; jti:", len(c["jti"].(string)), "chars")
	// Output:
	// alg: ES256 typ: JWT kid is the thumbprint: true
	// iss: my-client sub: my-client aud: https://as.example.com
	// lifetime: 60 s; jti: 22 chars
}

// Get access tokens with the client_credentials grant; the token endpoint
// here is a stand-in that shows what the client sends.
func ExampleClientCredentials() {
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		fmt.Println("grant_type:", r.PostForm.Get("grant_type"), "scope:", r.PostForm.Get("scope"))
		fmt.Println("client_assertion_type:", r.PostForm.Get("client_assertion_type") == verify.AssertionType)
		fmt.Println("Authorization header:", r.Header.Get("Authorization") != "")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"at-1","token_type":"Bearer","expires_in":3600}`)
	}))
	defer as.Close()

	signer, err := sign.NewSigner("my-client", testkeys.Signer(testkeys.Ed25519), as.URL, nil)
	if err != nil {
		log.Fatal(err)
	}
	cc, err := sign.NewClientCredentials(signer, as.URL+"/token", &sign.TokenConfig{Scopes: []string{"read"}})
	if err != nil {
		log.Fatal(err)
	}
	src := cc.TokenSource(context.Background()) // or cc.Client(ctx) for an *http.Client
	for range 2 {
		tok, err := src.Token() // the second call is served from the cache
		if err != nil {
			log.Fatal(err) // an *oauth2.RetrieveError when the server refuses
		}
		fmt.Println("token:", tok.AccessToken)
	}
	// Output:
	// grant_type: client_credentials scope: read
	// client_assertion_type: true
	// Authorization header: false
	// token: at-1
	// token: at-1
}

// Rotate a client's keys: the new key is published at once and signs
// after the publish lead; the old one leaves the JWK Set when its last
// assertion has expired.
func ExampleKeyRing() {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	ring, err := sign.NewKeyRing(ctx, "my-client", "https://as.example.com", sign.NewMemoryStore(), &sign.KeyRingConfig{
		PublishLead: 15 * time.Minute,
		Now:         func() time.Time { return now },
	})
	if err != nil {
		log.Fatal(err)
	}
	jwks := httptest.NewServer(ring) // serve it at the client's registered jwks_uri
	defer jwks.Close()
	show := func(when string) {
		resp, err := http.Get(jwks.URL)
		if err != nil {
			log.Fatal(err)
		}
		var set struct{ Keys []map[string]any }
		json.NewDecoder(resp.Body).Decode(&set)
		resp.Body.Close()
		var states []string
		for _, k := range ring.Keys(ctx) {
			states = append(states, k.State)
		}
		fmt.Printf("%s: %d keys published %v, Cache-Control %q\n", when, len(set.Keys), states, resp.Header.Get("Cache-Control"))
	}
	show("start")
	if _, err := ring.Rotate(ctx); err != nil {
		log.Fatal(err)
	}
	show("rotated")
	now = now.Add(15 * time.Minute)
	show("after the lead")
	now = now.Add(sign.DefaultLifetime + sign.DefaultLeeway)
	show("old key retired")
	// Output:
	// start: 1 keys published [current], Cache-Control "public, max-age=225"
	// rotated: 2 keys published [current next], Cache-Control "public, max-age=225"
	// after the lead: 2 keys published [previous current], Cache-Control "public, max-age=225"
	// old key retired: 1 keys published [current], Cache-Control "public, max-age=225"
}
