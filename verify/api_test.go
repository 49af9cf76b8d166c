package verify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

func TestRequestFromForm(t *testing.T) {
	basic := http.Header{"Authorization": {"Basic YzE6cw=="}}
	tests := []struct {
		name   string
		form   string
		header http.Header
		want   verify.Request
		err    error
	}{
		{name: "assertion", form: "grant_type=client_credentials&client_assertion_type=t&client_assertion=a&client_id=c",
			want: verify.Request{AssertionType: "t", Assertion: "a", ClientID: "c"}},
		{name: "nothing", form: "grant_type=client_credentials", want: verify.Request{}},
		{name: "client_secret", form: "client_assertion_type=t&client_assertion=a&client_secret=s",
			want: verify.Request{AssertionType: "t", Assertion: "a", OtherAuthentication: "client_secret_post"}},
		{name: "empty client_secret", form: "client_id=c&client_secret=",
			want: verify.Request{ClientID: "c", OtherAuthentication: "client_secret_post"}},
		{name: "Basic", form: "client_assertion=a", header: basic,
			want: verify.Request{Assertion: "a", OtherAuthentication: "client_secret_basic"}},
		{name: "basic in lower case", form: "client_assertion=a", header: http.Header{"Authorization": {"basic YzE6cw=="}},
			want: verify.Request{Assertion: "a", OtherAuthentication: "client_secret_basic"}},
		{name: "Bearer", form: "client_assertion=a", header: http.Header{"Authorization": {"Bearer t"}},
			want: verify.Request{Assertion: "a", OtherAuthentication: "authorization_header"}},
		{name: "empty Authorization", form: "client_assertion=a", header: http.Header{"Authorization": {""}},
			want: verify.Request{Assertion: "a", OtherAuthentication: "authorization_header"}},
		{name: "client_secret parameter first", form: "client_assertion=a&client_secret=s", header: basic,
			want: verify.Request{Assertion: "a", OtherAuthentication: "client_secret_post"}},
		{name: "other header", form: "client_assertion=a", header: http.Header{"Cookie": {"x"}},
			want: verify.Request{Assertion: "a"}},
		{name: "assertion twice", form: "client_assertion_type=t&client_assertion=a&client_assertion=b", err: verify.ErrRepeatedParameter},
		{name: "type twice", form: "client_assertion_type=t&client_assertion_type=t&client_assertion=a", err: verify.ErrRepeatedParameter},
		{name: "client_id twice", form: "client_id=c&client_id=c", err: verify.ErrRepeatedParameter},
		{name: "empty repeat", form: "client_assertion=&client_assertion=a", err: verify.ErrRepeatedParameter},
		{name: "repeat beside Basic", form: "client_assertion=a&client_assertion=a", header: basic, err: verify.ErrRepeatedParameter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form, err := url.ParseQuery(tt.form)
			if err != nil {
				t.Fatal(err)
			}
			got, err := verify.RequestFromForm(form, tt.header)
			if tt.err != nil {
				checkError(t, err, tt.err, "")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Request (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRequestFromFormThenVerify: an assertion sent beside an
// Authorization header, as an attacker replaying it with stolen Basic
// credentials would, fails with ErrMultipleMethods.
func TestRequestFromFormThenVerify(t *testing.T) {
	v := newVerifier(t, nil, nil)
	form := url.Values{"client_assertion_type": {verify.AssertionType},
		"client_assertion": {mint(testkeys.RSA2048, "RS256", r1, "rsa", nil)}}
	req, err := verify.RequestFromForm(form, http.Header{"Authorization": {"Basic YzE6cw=="}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), req)
	checkError(t, err, verify.ErrMultipleMethods, form.Get("client_assertion"))
}

func TestNewError(t *testing.T) {
	cause := errors.New("disk on fire")
	e := verify.NewError(verify.ErrBodyTooLarge, cause)
	if e.Reason != "body_too_large" || e.Code != verify.CodeInvalidRequest || e.Description != "the request body is too large" {
		t.Errorf("%+v", e)
	}
	if !errors.Is(e, verify.ErrBodyTooLarge) || !errors.Is(e, cause) {
		t.Errorf("%v does not wrap its check and cause", e)
	}
	if got, want := e.Error(), "verify: the request body is too large: disk on fire"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := verify.NewError(verify.ErrInternal, nil).Error(), "verify: internal server error"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	// A cause that wraps the check names it already.
	wrapped := fmt.Errorf("%w: no key %q", verify.ErrKeyNotFound, "k9")
	if got, want := verify.NewError(verify.ErrKeyNotFound, wrapped).Error(), `verify: no registered key of the client matches the assertion: no key "k9"`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	// Not a sentinel: an internal error that keeps both.
	notCheck := errors.New("not a check")
	e = verify.NewError(notCheck, cause)
	if e.Reason != "internal" || !e.Infrastructure() || !errors.Is(e, verify.ErrInternal) || !errors.Is(e, notCheck) || !errors.Is(e, cause) {
		t.Errorf("NewError(non-sentinel) = %+v", e)
	}
	if e := verify.NewError(nil, nil); e.Reason != "internal" || e.Err != nil {
		t.Errorf("NewError(nil, nil) = %+v", e)
	}
	for _, s := range []error{verify.ErrMethodNotAllowed, verify.ErrContentType, verify.ErrMalformedBody, verify.ErrQueryParameter} {
		if e := verify.NewError(s, nil); e.Code != verify.CodeInvalidRequest || !errors.Is(e, s) {
			t.Errorf("%v: %+v", s, e)
		}
	}
}

func TestNewValidates(t *testing.T) {
	clients := verify.ClientMap{}
	store := &mapStore{}
	if _, err := verify.New("", clients, store, verify.Config{}); err == nil {
		t.Error("empty issuer accepted")
	}
	if _, err := verify.New(issuer, nil, store, verify.Config{}); err == nil {
		t.Error("nil clients accepted")
	}
	if _, err := verify.New(issuer, clients, nil, verify.Config{}); err == nil {
		t.Error("nil store accepted")
	}
	bad := map[string]verify.Config{
		"alg none":              {Algorithms: []string{"RS256", "none"}},
		"alg HS256":             {Algorithms: []string{"HS256"}},
		"alg in lower case":     {Algorithms: []string{"rs256"}},
		"empty algorithms":      {Algorithms: []string{}},
		"endpoints, not legacy": {Endpoints: []string{tokenEndpoint}},
		"empty endpoint":        {Audience: verify.AudienceLegacy, Endpoints: []string{""}},
		"unknown policy":        {Audience: 7},
		"negative lifetime":     {MaxLifetime: -time.Second},
		"negative jti length":   {MaxJTILength: -1},
		"1024-bit RSA":          {MinRSABits: 1024},
		"negative length":       {MaxAssertionLength: -1},
	}
	for name, cfg := range bad {
		if _, err := verify.New(issuer, clients, store, cfg); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.HasPrefix(err.Error(), "verify: ") {
			t.Errorf("%s: error %q lacks the package prefix", name, err)
		}
	}
	// The Config is copied: changing it afterwards changes nothing.
	cfg := verify.Config{Algorithms: []string{"ES256"}}
	v, err := verify.New(issuer, clients, store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Algorithms[0] = "RS256"
	if got := v.SigningAlgorithms(); !cmp.Equal(got, []string{"ES256"}) {
		t.Errorf("SigningAlgorithms after changing the Config: %v", got)
	}
}

func TestMetadata(t *testing.T) {
	v := newVerifier(t, nil, nil)
	if got, want := v.AuthMethods(), []string{"private_key_jwt"}; !cmp.Equal(got, want) {
		t.Errorf("AuthMethods %v, want %v", got, want)
	}
	if got, want := v.SigningAlgorithms(), verify.DefaultAlgorithms(); !cmp.Equal(got, want) {
		t.Errorf("SigningAlgorithms %v, want %v", got, want)
	}
	v = newVerifier(t, &verify.Config{AllowClientSecretJWT: true, Algorithms: verify.FAPIAlgorithms()}, nil)
	if got, want := v.AuthMethods(), []string{"private_key_jwt", "client_secret_jwt"}; !cmp.Equal(got, want) {
		t.Errorf("AuthMethods %v, want %v", got, want)
	}
	if got, want := v.SigningAlgorithms(), []string{"PS256", "ES256", "EdDSA", "Ed25519", "HS256", "HS384", "HS512"}; !cmp.Equal(got, want) {
		t.Errorf("SigningAlgorithms %v, want %v", got, want)
	}
	if v.Issuer() != issuer {
		t.Errorf("Issuer %q", v.Issuer())
	}
}

func TestAudiencePolicyNames(t *testing.T) {
	for _, p := range []verify.AudiencePolicy{verify.AudienceRFC7523bis, verify.AudienceStrict, verify.AudienceLegacy} {
		got, err := verify.ParseAudiencePolicy(p.String())
		if err != nil || got != p {
			t.Errorf("ParseAudiencePolicy(%q) = %v, %v", p.String(), got, err)
		}
	}
	if _, err := verify.ParseAudiencePolicy("Strict"); err == nil {
		t.Error("Strict accepted")
	}
	if s := verify.AudiencePolicy(9).String(); s != "AudiencePolicy(9)" {
		t.Errorf("String of an unknown policy: %q", s)
	}
}

func TestResult(t *testing.T) {
	v := newVerifier(t, nil, nil)
	c := claimsFor("ec")
	c["scope"] = "read"
	res, err := v.Verify(context.Background(), verify.Request{
		AssertionType: verify.AssertionType,
		Assertion:     testkeys.Sign("ES256", testkeys.Signer(testkeys.P256), map[string]any{"kid": "e1"}, c),
		ClientID:      "ec",
	})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Scope string `json:"scope"`
		JTI   string `json:"jti"`
	}
	if err := res.DecodeClaims(&got); err != nil {
		t.Fatal(err)
	}
	want := verify.Result{ClientID: "ec", Method: "private_key_jwt", KeyID: "e1", Algorithm: "ES256", JTI: c["jti"].(string),
		ExpiresAt: now.Add(5 * time.Minute), IssuedAt: now}
	if diff := cmp.Diff(want, *res, cmp.AllowUnexported(verify.Result{}), cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".payload" }, cmp.Ignore())); diff != "" {
		t.Errorf("Result (-want +got):\n%s", diff)
	}
	if got.Scope != "read" || got.JTI != want.JTI {
		t.Errorf("DecodeClaims: %+v", got)
	}
}

func TestKeySet(t *testing.T) {
	rsaPub := testkeys.Public(testkeys.RSA2048)
	if _, err := verify.NewKeySet(verify.Key{Public: testkeys.Signer(testkeys.RSA2048)}); err == nil {
		t.Error("private RSA key accepted")
	}
	if _, err := verify.NewKeySet(verify.Key{Public: testkeys.Signer(testkeys.P256).(*ecdsa.PrivateKey)}); err == nil {
		t.Error("private EC key accepted")
	}
	if _, err := verify.NewKeySet(verify.Key{ID: "s", Public: []byte("secret")}); err == nil || !strings.Contains(err.Error(), `"s"`) {
		t.Errorf("symmetric key: %v", err)
	}
	if _, err := verify.NewKeySet(verify.Key{Public: ed25519.PublicKey{1, 2}}); err == nil {
		t.Error("short Ed25519 key accepted")
	}
	if _, err := verify.NewKeySet(verify.Key{ID: "a", Public: rsaPub}, verify.Key{ID: "a", Public: rsaPub}); err == nil {
		t.Error("duplicate kid accepted")
	}
	keys := []verify.Key{
		{ID: "a", Public: rsaPub},
		{Public: testkeys.Public(testkeys.P256)},
		{ID: "c", Algorithm: "EdDSA", Public: testkeys.Public(testkeys.Ed25519)},
	}
	s := mustKeySet(t, keys...)
	keys[0].ID = "changed"
	if got := s.Keys()[0].ID; got != "a" {
		t.Errorf("KeySet shares its caller's slice: kid %q", got)
	}
	for _, tt := range []struct {
		kid, alg, want string
		err            error
	}{
		{kid: "a", alg: "PS512", want: "a"},
		{kid: "", alg: "RS256", want: "a"},
		{kid: "", alg: "ES256", want: ""},
		{kid: "c", alg: "EdDSA", want: "c"},
		{kid: "a", alg: "ES256", err: verify.ErrKeyNotFound},
		{kid: "b", alg: "RS256", err: verify.ErrKeyNotFound},
		{kid: "", alg: "ES384", err: verify.ErrKeyNotFound},
	} {
		k, err := s.Key(context.Background(), tt.kid, tt.alg)
		if !errors.Is(err, tt.err) || (err == nil && k.ID != tt.want) {
			t.Errorf("Key(%q, %q) = %q, %v; want %q, %v", tt.kid, tt.alg, k.ID, err, tt.want, tt.err)
		}
	}
	two := mustKeySet(t, verify.Key{Public: rsaPub}, verify.Key{Public: testkeys.Public(testkeys.RSA2048Alt)})
	if _, err := two.Key(context.Background(), "", "RS256"); !errors.Is(err, verify.ErrKeyIDRequired) {
		t.Errorf("two RSA keys, no kid: %v", err)
	}
}

func TestCheckKey(t *testing.T) {
	for _, tt := range []struct {
		key string
		alg string
		ok  bool
	}{
		{testkeys.RSA2048, "RS256", true}, {testkeys.RSA2048, "PS384", true}, {testkeys.RSA2048, "ES256", false},
		{testkeys.RSA2048, "HS256", false}, {testkeys.RSA2048, "none", false}, {testkeys.RSA1024, "RS256", false},
		{testkeys.P256, "ES256", true}, {testkeys.P256, "ES384", false}, {testkeys.P384, "ES384", true},
		{testkeys.P384, "ES512", false}, {testkeys.P521, "ES512", true}, {testkeys.P521, "ES256", false},
		{testkeys.Ed25519, "EdDSA", true}, {testkeys.Ed25519, "ES256", false}, {testkeys.Ed25519, "Ed25519", true},
		{testkeys.RSA2048, "Ed25519", false}, {testkeys.P256, "Ed25519", false}, {testkeys.Ed25519, "ed25519", false},
	} {
		err := verify.CheckKey(testkeys.Public(tt.key), tt.alg, 2048)
		if (err == nil) != tt.ok {
			t.Errorf("CheckKey(%s, %s) = %v, want ok %v", tt.key, tt.alg, err, tt.ok)
		}
	}
	if err := verify.CheckKey(testkeys.Signer(testkeys.Ed25519), "EdDSA", 2048); err == nil {
		t.Error("private Ed25519 key accepted")
	}
	if err := verify.CheckKey([]byte("0123456789abcdef0123456789abcdef"), "HS256", 2048); err == nil {
		t.Error("symmetric key accepted")
	}
	if err := verify.CheckKey(nil, "RS256", 2048); err == nil {
		t.Error("nil key accepted")
	}
}

func TestErrorText(t *testing.T) {
	v := newVerifier(t, nil, failingStore{})
	_, err := v.Verify(context.Background(), req(mint(testkeys.RSA2048, "RS256", r1, "rsa", nil)))
	var e *verify.Error
	if !errors.As(err, &e) {
		t.Fatalf("%T", err)
	}
	if got, want := err.Error(), "verify: replay store unavailable: connection refused"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if e.Reason != "replay_unavailable" || e.Description != "replay store unavailable" {
		t.Errorf("%+v", e)
	}
	var zero verify.Error
	if zero.Unwrap() != nil {
		t.Error("zero Error unwraps to something")
	}
}

// TestConcurrentReplay sends one assertion from 1000 goroutines: exactly
// one is accepted.
func TestConcurrentReplay(t *testing.T) {
	v := newVerifier(t, nil, nil)
	r := req(mint(testkeys.P256, "ES256", map[string]any{"kid": "e1"}, "ec", nil))
	var ok, replayed atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 1000 {
		wg.Go(func() {
			<-start
			_, err := v.Verify(context.Background(), r)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, verify.ErrReplayed):
				replayed.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok.Load() != 1 || replayed.Load() != 999 {
		t.Errorf("%d accepted, %d replayed; want 1 and 999", ok.Load(), replayed.Load())
	}
}

// TestReplayScopedToClient: the same jti from two clients is two claims.
func TestReplayScopedToClient(t *testing.T) {
	v := newVerifier(t, nil, nil)
	for _, client := range []struct{ key, alg, id string }{{testkeys.RSA2048, "RS256", "nokid"}, {testkeys.P256, "ES256", "ec"}} {
		a := mint(client.key, client.alg, nil, client.id, set("jti", "same"))
		if _, err := v.Verify(context.Background(), req(a)); err != nil {
			t.Errorf("%s: %v", client.id, err)
		}
	}
}

// TestRejectionKeepsJTI: an assertion rejected for its request (here a
// client_id naming another client) can still be used once.
func TestRejectionKeepsJTI(t *testing.T) {
	v := newVerifier(t, nil, nil)
	a := mint(testkeys.RSA2048, "RS256", r1, "rsa", nil)
	r := req(a)
	r.ClientID = "ec"
	if _, err := v.Verify(context.Background(), r); !errors.Is(err, verify.ErrClientIDMismatch) {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), req(a)); err != nil {
		t.Fatalf("after a rejection: %v", err)
	}
}

func TestCancelledContext(t *testing.T) {
	v := newVerifier(t, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := v.Verify(ctx, req(mint(testkeys.RSA2048, "RS256", r1, "rsa", nil)))
	if !errors.Is(err, verify.ErrReplayUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestCheckKeyRSABounds(t *testing.T) {
	// A 16385-bit modulus: only its size matters here.
	n := new(big.Int).Lsh(big.NewInt(1), 16384) // the documented maximum
	huge := &rsa.PublicKey{N: n.Add(n, big.NewInt(1)), E: 65537}
	if err := verify.CheckKey(huge, "RS256", 2048); err == nil {
		t.Errorf("%d-bit RSA key accepted", huge.N.BitLen())
	}
}

func TestErrorTextNoRepeat(t *testing.T) {
	v := newVerifier(t, nil, nil)
	_, err := v.Verify(context.Background(), req(mint(testkeys.RSA2048, "RS256", map[string]any{"kid": "nope"}, "rsa", nil)))
	if got, want := err.Error(), `verify: no registered key of the client matches the assertion: no key "nope"`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestReplayCauseKept: a replayed assertion fails with ErrReplayed and
// keeps the store's error, so that both errors.Is tests hold.
func TestReplayCauseKept(t *testing.T) {
	v := newVerifier(t, nil, nil)
	r := req(mint(testkeys.RSA2048, "RS256", r1, "rsa", nil))
	if _, err := v.Verify(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	_, err := v.Verify(context.Background(), r)
	checkError(t, err, verify.ErrReplayed, r.Assertion)
	if !errors.Is(err, replay.ErrReplayed) {
		t.Errorf("%v does not wrap replay.ErrReplayed", err)
	}
}

// TestHostValue: the host's own client value comes back unchanged.
func TestHostValue(t *testing.T) {
	type record struct{ name string }
	rec := &record{"the host's row"}
	keys := mustKeySet(t, verify.Key{ID: "r1", Public: testkeys.Public(testkeys.RSA2048)})
	clients := verify.ClientMap{"rsa": {ID: "rsa", Keys: keys, Host: rec}}
	v, err := verify.New(issuer, clients, &mapStore{}, verify.Config{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	res, err := v.Verify(context.Background(), req(mint(testkeys.RSA2048, "RS256", r1, "rsa", nil)))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := res.Host.(*record); !ok || got != rec {
		t.Errorf("Result.Host = %#v, want %p", res.Host, rec)
	}
}
