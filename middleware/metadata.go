package middleware

import (
	"fmt"

	"github.com/pkjwt/pkjwt/verify"
)

// An Endpoint names an endpoint whose client authentication metadata
// [NewMetadata] fills in.
type Endpoint string

// Endpoints with RFC 8414 client authentication metadata. A pushed
// authorization request endpoint (RFC 9126 §2) has none of its own: it uses
// the token endpoint's.
const (
	// TokenEndpoint is the token endpoint (RFC 6749 §3.2), whose metadata
	// also covers the pushed authorization request endpoint.
	TokenEndpoint Endpoint = "token_endpoint"
	// IntrospectionEndpoint is the introspection endpoint (RFC 7662).
	IntrospectionEndpoint Endpoint = "introspection_endpoint"
	// RevocationEndpoint is the revocation endpoint (RFC 7009).
	RevocationEndpoint Endpoint = "revocation_endpoint"
)

// Metadata holds the RFC 8414 §2 authorization server metadata members
// about client authentication at the token, introspection and revocation
// endpoints. It marshals to those JSON members (the empty ones omitted),
// also when embedded in the struct of a whole discovery document.
//
// A server that accepts further methods through [Config.PassThrough] appends
// them (for example "client_secret_basic") to the methods lists.
type Metadata struct {
	// TokenEndpointAuthMethodsSupported is token_endpoint_auth_methods_supported.
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	// TokenEndpointAuthSigningAlgValuesSupported is
	// token_endpoint_auth_signing_alg_values_supported.
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported,omitempty"`
	// IntrospectionEndpointAuthMethodsSupported is
	// introspection_endpoint_auth_methods_supported.
	IntrospectionEndpointAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported,omitempty"`
	// IntrospectionEndpointAuthSigningAlgValuesSupported is
	// introspection_endpoint_auth_signing_alg_values_supported.
	IntrospectionEndpointAuthSigningAlgValuesSupported []string `json:"introspection_endpoint_auth_signing_alg_values_supported,omitempty"`
	// RevocationEndpointAuthMethodsSupported is
	// revocation_endpoint_auth_methods_supported.
	RevocationEndpointAuthMethodsSupported []string `json:"revocation_endpoint_auth_methods_supported,omitempty"`
	// RevocationEndpointAuthSigningAlgValuesSupported is
	// revocation_endpoint_auth_signing_alg_values_supported.
	RevocationEndpointAuthSigningAlgValuesSupported []string `json:"revocation_endpoint_auth_signing_alg_values_supported,omitempty"`
}

// NewMetadata returns the metadata of the given endpoints (default: the
// token endpoint only), derived from what v accepts ([verify.Verifier.AuthMethods],
// [verify.Verifier.SigningAlgorithms]), so that a discovery document cannot
// drift from the verifier. The signing algs never include "none". It
// panics on an Endpoint other than the constants of this package.
func NewMetadata(v *verify.Verifier, endpoints ...Endpoint) Metadata {
	if len(endpoints) == 0 {
		endpoints = []Endpoint{TokenEndpoint}
	}
	var m Metadata
	for _, e := range endpoints {
		methods, algs := v.AuthMethods(), v.SigningAlgorithms()
		switch e {
		case TokenEndpoint:
			m.TokenEndpointAuthMethodsSupported, m.TokenEndpointAuthSigningAlgValuesSupported = methods, algs
		case IntrospectionEndpoint:
			m.IntrospectionEndpointAuthMethodsSupported, m.IntrospectionEndpointAuthSigningAlgValuesSupported = methods, algs
		case RevocationEndpoint:
			m.RevocationEndpointAuthMethodsSupported, m.RevocationEndpointAuthSigningAlgValuesSupported = methods, algs
		default:
			panic(fmt.Sprintf("middleware: unknown Endpoint %q", string(e)))
		}
	}
	return m
}
