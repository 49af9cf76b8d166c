package pkjwtzitadel

import "github.com/zitadel/oidc/v3/pkg/op"

// ServerForTest returns the op.Server that Handler serves, for tests that
// call its methods directly.
func ServerForTest(a *Authenticator, s op.ExtendedLegacyServer) op.ExtendedLegacyServer {
	return &server{ExtendedLegacyServer: s, a: a}
}
