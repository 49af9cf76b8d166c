package verify_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/pkjwt/pkjwt/internal/testkeys"
	"github.com/pkjwt/pkjwt/verify"
)

// FuzzVerify feeds arbitrary assertions to Verify and Explain. Neither may
// panic; every error is an *Error with a known code; and Explain's first
// failed check is the one Verify reports.
func FuzzVerify(f *testing.F) {
	for _, tc := range ruleCases() {
		f.Add(tc.req.Assertion, tc.req.ClientID)
	}
	f.Add("", "")
	f.Add("..", "")
	f.Add("e30.e30.", "rsa")
	v := newVerifier(f, &verify.Config{AllowClientSecretJWT: true}, nil)
	f.Fuzz(func(t *testing.T, assertion, clientID string) {
		r := verify.Request{AssertionType: verify.AssertionType, Assertion: assertion, ClientID: clientID}
		first := firstFailure(v.Explain(context.Background(), r))
		res, err := v.Verify(context.Background(), r)
		if err == nil {
			if res == nil || res.ClientID == "" || res.JTI == "" {
				t.Fatalf("accepted with result %+v", res)
			}
			if first != nil {
				t.Fatalf("Verify accepted what Explain rejects: %v", first)
			}
			return
		}
		var e *verify.Error
		if !errors.As(err, &e) {
			t.Fatalf("error %T %v", err, err)
		}
		switch e.Code {
		case verify.CodeInvalidClient, verify.CodeInvalidRequest, verify.CodeServerError:
		default:
			t.Fatalf("code %q", e.Code)
		}
		if !errors.Is(err, verify.ErrReplayed) && !errors.Is(first, e.Unwrap()[0]) {
			t.Fatalf("Verify: %v; Explain's first failure: %v", err, first)
		}
	})
}

func firstFailure(steps []verify.Step) error {
	for _, s := range steps {
		if s.Err != nil {
			return s.Err
		}
	}
	return nil
}

// FuzzClaims signs arbitrary header and claims JSON with the ed client's
// key (Ed25519 signs fast), so that fuzzing reaches the claims checks past
// the signature. If Verify accepts, an independent decoding of the claims
// must show what the checks require.
func FuzzClaims(f *testing.F) {
	good, err := json.Marshal(claimsFor("ed"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"alg":"EdDSA"}`), good)
	f.Add([]byte(`{"alg":"EdDSA","typ":"JWT"}`), []byte(`{"iss":"ed","sub":"ed","aud":["https://as.example.com"],"exp":1800000060,"jti":"a"}`))
	f.Add([]byte(`{"alg":"EdDSA","kid":"x","crit":["x"]}`), []byte(`{"iss":"ed","ISS":"ec","sub":"ed","aud":"https://as.example.com","exp":1800000060.5,"nbf":1,"iat":1800000000,"jti":"b"}`))
	f.Add([]byte(`{"alg":"EdDSA"}`), []byte(`{"iss":"ed","iss":"ec","sub":"ed","aud":"https://as.example.com","exp":1e3,"jti":"c"}`))
	signer := testkeys.Signer(testkeys.Ed25519)
	f.Fuzz(func(t *testing.T, header, claimsJSON []byte) {
		v := newVerifier(t, nil, nil)
		a := testkeys.SignRaw("EdDSA", signer, header, claimsJSON)
		_, err := v.Verify(context.Background(), req(a))
		if err != nil {
			var e *verify.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		var c map[string]any
		if err := json.Unmarshal(claimsJSON, &c); err != nil {
			t.Fatalf("accepted claims that are not a JSON object: %v", err)
		}
		exp, ok := c["exp"].(float64)
		switch {
		case c["iss"] != "ed" || c["sub"] != "ed":
			t.Fatalf("accepted iss %v sub %v", c["iss"], c["sub"])
		case c["aud"] != issuer && !(isOneElement(c["aud"], issuer)):
			t.Fatalf("accepted aud %v", c["aud"])
		case !ok || exp <= float64(now.Add(-15*time.Second).Unix()) || exp > float64(now.Add(10*time.Minute).Unix()):
			t.Fatalf("accepted exp %v", c["exp"])
		case c["jti"] == "" || c["jti"] == nil:
			t.Fatalf("accepted jti %v", c["jti"])
		}
	})
}

func isOneElement(aud any, want string) bool {
	a, ok := aud.([]any)
	return ok && len(a) == 1 && a[0] == want
}
