package main

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pkjwt/pkjwt/internal/oidcprovidertest"
	"github.com/pkjwt/pkjwt/internal/testkeys"
)

// oidcProviderAccepted are the probes node oidc-provider (the version
// package-lock.json pins, default settings, a client registered with
// token_endpoint_auth_signing_alg RS256) accepts. This is an observation of
// that server, which the README explains, not a verdict on it: it follows
// RFC 7523 (2015) and OpenID Connect Core as published, which allow the
// token endpoint URL as aud and set no bound on lifetime, iat or jti
// length, and it does not check typ.
var oidcProviderAccepted = []string{
	"exp-1h", "exp-1y", "iat-future", "iat-old",
	"aud-token-endpoint", "aud-array-other-first",
	"jti-long", "typ-foreign",
}

// TestProbeOIDCProvider probes a real third-party authorization server,
// node oidc-provider, with a private_key_jwt client: the probe completes
// (baseline and control get tokens, every endpoint of its metadata is
// probed, nothing is inconclusive) and reports what the README describes.
func TestProbeOIDCProvider(t *testing.T) {
	jwks := testkeys.JWKS(testkeys.JWK(testkeys.Signer(testkeys.RSA2048), probeClientKid, "RS256", "sig"))
	op := oidcprovidertest.Start(t, oidcprovidertest.Client{ID: probeClientID, JWKS: jwks, SigningAlg: "RS256"})
	r, rep := runProbeJSON(t, probeArgs(op.Issuer, probeKeyFile(t))...)
	if r.code != 1 || rep.Exit != 1 {
		t.Errorf("exit %d (report %d), want 1", r.code, rep.Exit)
	}
	want := map[string][]string{
		outAccepted: oidcProviderAccepted,
		outRefused:  catalogIDs(oidcProviderAccepted...),
	}
	if diff := cmp.Diff(want, outcomes(rep)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s\n%v", diff, r)
	}
	wantEndpoints := map[string]string{
		epToken:         op.TokenURL,
		epIntrospection: op.IntrospectionURL,
		epRevocation:    op.RevocationURL,
		epPAR:           op.Issuer + "/request",
	}
	if diff := cmp.Diff(wantEndpoints, rep.Endpoints); diff != "" {
		t.Errorf("endpoints (-want +got):\n%s", diff)
	}
	if rep.Baseline.Outcome != outAccepted || rep.Control == nil || rep.Control.Outcome != outAccepted {
		t.Errorf("baseline %+v, control %+v", rep.Baseline, rep.Control)
	}
	if rep.Metadata == nil || !slices.Contains(rep.Metadata.AuthMethods, "private_key_jwt") || len(rep.Metadata.Warnings) != 0 {
		t.Errorf("metadata: %+v", rep.Metadata)
	}
	for _, res := range rep.Results {
		if res.Fetched {
			t.Errorf("%s: oidc-provider fetched the URL from the assertion", res.ID)
		}
	}
}
