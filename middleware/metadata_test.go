package middleware_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pkjwt/pkjwt/middleware"
	"github.com/pkjwt/pkjwt/verify"
)

func TestMetadata(t *testing.T) {
	store := newStore(t)
	def, err := verify.New(issuer, verify.ClientMap{}, store, verify.Config{})
	if err != nil {
		t.Fatal(err)
	}
	hs, err := verify.New(issuer, verify.ClientMap{}, store, verify.Config{Algorithms: []string{"ES256"}, AllowClientSecretJWT: true})
	if err != nil {
		t.Fatal(err)
	}
	const defAlgs = `["RS256","RS384","RS512","PS256","PS384","PS512","ES256","ES384","ES512","EdDSA","Ed25519"]`
	tests := []struct {
		name      string
		v         *verify.Verifier
		endpoints []middleware.Endpoint
		want      string
	}{
		{"default", def, nil,
			`{"token_endpoint_auth_methods_supported":["private_key_jwt"],"token_endpoint_auth_signing_alg_values_supported":` + defAlgs + `}`},
		{"revocation only", def, []middleware.Endpoint{middleware.RevocationEndpoint},
			`{"revocation_endpoint_auth_methods_supported":["private_key_jwt"],"revocation_endpoint_auth_signing_alg_values_supported":` + defAlgs + `}`},
		{"all, client_secret_jwt", hs, []middleware.Endpoint{middleware.TokenEndpoint, middleware.IntrospectionEndpoint, middleware.RevocationEndpoint},
			`{"token_endpoint_auth_methods_supported":["private_key_jwt","client_secret_jwt"],` +
				`"token_endpoint_auth_signing_alg_values_supported":["ES256","HS256","HS384","HS512"],` +
				`"introspection_endpoint_auth_methods_supported":["private_key_jwt","client_secret_jwt"],` +
				`"introspection_endpoint_auth_signing_alg_values_supported":["ES256","HS256","HS384","HS512"],` +
				`"revocation_endpoint_auth_methods_supported":["private_key_jwt","client_secret_jwt"],` +
				`"revocation_endpoint_auth_signing_alg_values_supported":["ES256","HS256","HS384","HS512"]}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(middleware.NewMetadata(tt.v, tt.endpoints...))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, string(b)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}

	// Lists are the caller's to extend without touching the verifier's.
	m := middleware.NewMetadata(def, middleware.TokenEndpoint, middleware.IntrospectionEndpoint)
	m.TokenEndpointAuthMethodsSupported = append(m.TokenEndpointAuthMethodsSupported, "client_secret_basic")
	if got := middleware.NewMetadata(def).TokenEndpointAuthMethodsSupported; !cmp.Equal(got, []string{"private_key_jwt"}) {
		t.Errorf("after appending to one Metadata, another has %v", got)
	}
	if got := m.IntrospectionEndpointAuthMethodsSupported; !cmp.Equal(got, []string{"private_key_jwt"}) {
		t.Errorf("appending to the token endpoint's methods changed the introspection endpoint's: %v", got)
	}

	defer func() {
		if recover() == nil {
			t.Error("NewMetadata accepted an unknown Endpoint")
		}
	}()
	middleware.NewMetadata(def, "userinfo_endpoint")
}
