package bench

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	josev3 "github.com/go-jose/go-jose/v3"
	josev4 "github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite"
	"github.com/ory/fosite/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/pkjwt/pkjwt/replay"
	"github.com/pkjwt/pkjwt/verify"
)

// An Authenticator checks the client authentication of one token request,
// given its decoded form, the way an authorization server built on it does.
// Each Authenticator has its own replay store, if its implementation keeps
// one, which starts empty.
type Authenticator interface {
	// Authenticate returns the authenticated client_id.
	Authenticate(ctx context.Context, form url.Values) (string, error)
	// Close releases the replay store.
	Close()
}

// An Implementation is one of the libraries compared.
type Implementation struct {
	Name string
	// Replay says whether it makes each assertion single use (then every
	// measurement must use a fresh assertion per call).
	Replay bool
	// Algs are the algorithms (of Algs) it accepts.
	Algs []string
	// New returns an Authenticator for clients, with an empty replay store.
	New func(clients []Client) (Authenticator, error)
}

// Supports reports whether im accepts assertions signed with alg.
func (im Implementation) Supports(alg string) bool {
	for _, a := range im.Algs {
		if a == alg {
			return true
		}
	}
	return false
}

// Implementations are the three libraries compared.
var Implementations = []Implementation{
	{Name: "pkjwt", Replay: true, Algs: Algs, New: newPkjwt},
	{Name: "zitadel", Replay: false, Algs: []string{"RS256", "PS256", "ES256"}, New: newZitadel},
	{Name: "fosite", Replay: true, Algs: []string{"RS256", "PS256", "ES256"}, New: newFosite},
}

// pkjwt: verify.Verifier with the default policy, a fixed ClientMap and
// replay's memory store, fed by verify.RequestFromForm as the middleware
// does.

type pkjwtAuth struct {
	v     *verify.Verifier
	store *replay.Memory
}

func newPkjwt(clients []Client) (Authenticator, error) {
	cm := verify.ClientMap{}
	for _, c := range clients {
		keys, err := verify.NewKeySet(verify.Key{ID: c.KID, Public: c.Public()})
		if err != nil {
			return nil, err
		}
		cm[c.ID] = &verify.Client{ID: c.ID, Method: verify.MethodPrivateKeyJWT, Keys: keys, SigningAlg: c.Alg}
	}
	store, err := replay.NewMemory(replay.MemoryConfig{CleanupInterval: -1})
	if err != nil {
		return nil, err
	}
	v, err := verify.New(Issuer, cm, store, verify.Config{})
	if err != nil {
		store.Close()
		return nil, err
	}
	return &pkjwtAuth{v: v, store: store}, nil
}

func (a *pkjwtAuth) Authenticate(ctx context.Context, form url.Values) (string, error) {
	req, err := verify.RequestFromForm(form, nil)
	if err != nil {
		return "", err
	}
	res, err := a.v.Verify(ctx, req)
	if err != nil {
		return "", err
	}
	return res.ClientID, nil
}

func (a *pkjwtAuth) Close() { a.store.Close() }

// zitadel/oidc: what its LegacyServer.VerifyClient does for a
// client_assertion: op.AuthorizePrivateJWTKey with the Provider as the
// JWTAuthorizationGrantExchanger, whose JWTProfileVerifier is built per call
// as (*op.Provider).JWTProfileVerifier builds it (max iat age 1 h, offset
// 1 s), keys from Storage.GetKeyByIDAndClientID. The exchanger and storage
// here implement only the methods that path calls. zitadel keeps no jti
// store.

type zitadelAuth struct{ ex *zitadelExchanger }

type zitadelExchanger struct {
	op.JWTAuthorizationGrantExchanger // nil: only the methods below are called
	storage                           *zitadelStorage
}

func (e *zitadelExchanger) Storage() op.Storage { return e.storage }

func (e *zitadelExchanger) JWTProfileVerifier(context.Context) *op.JWTProfileVerifier {
	return op.NewJWTProfileVerifier(e.storage, Issuer, time.Hour, time.Second)
}

type zitadelStorage struct {
	op.Storage // nil: only the methods below are called
	keys       map[string]map[string]*josev4.JSONWebKey
	clients    map[string]op.Client
}

var errNotFound = errors.New("not found")

func (s *zitadelStorage) GetKeyByIDAndClientID(_ context.Context, keyID, clientID string) (*josev4.JSONWebKey, error) {
	k, ok := s.keys[clientID][keyID]
	if !ok {
		return nil, errNotFound
	}
	return k, nil
}

func (s *zitadelStorage) GetClientByClientID(_ context.Context, clientID string) (op.Client, error) {
	c, ok := s.clients[clientID]
	if !ok {
		return nil, errNotFound
	}
	return c, nil
}

type zitadelClient struct {
	op.Client // nil: only the methods below are called
	id        string
}

func (c *zitadelClient) GetID() string               { return c.id }
func (c *zitadelClient) AuthMethod() oidc.AuthMethod { return oidc.AuthMethodPrivateKeyJWT }

func newZitadel(clients []Client) (Authenticator, error) {
	s := &zitadelStorage{keys: map[string]map[string]*josev4.JSONWebKey{}, clients: map[string]op.Client{}}
	for _, c := range clients {
		s.keys[c.ID] = map[string]*josev4.JSONWebKey{
			c.KID: {Key: c.Public(), KeyID: c.KID, Algorithm: c.Alg, Use: "sig"},
		}
		s.clients[c.ID] = &zitadelClient{id: c.ID}
	}
	return &zitadelAuth{ex: &zitadelExchanger{storage: s}}, nil
}

func (a *zitadelAuth) Authenticate(ctx context.Context, form url.Values) (string, error) {
	if form.Get("client_assertion_type") != oidc.ClientAssertionTypeJWTAssertion {
		return "", errors.New("zitadel: not a client assertion")
	}
	c, err := op.AuthorizePrivateJWTKey(ctx, form.Get("client_assertion"), a.ex)
	if err != nil {
		return "", err
	}
	return c.GetID(), nil
}

func (a *zitadelAuth) Close() {}

// fosite: (*fosite.Fosite).AuthenticateClient, which the token endpoint's
// NewAccessRequest calls, with the default client authentication strategy,
// storage.MemoryStore (clients and the jti blacklist) and
// DefaultOpenIDConnectClients registered with an inline JWK Set. fosite
// checks aud against its TokenURL; it is set to Issuer so that the same
// assertions serve every implementation.

type fositeAuth struct {
	f   *fosite.Fosite
	req *http.Request
}

func newFosite(clients []Client) (Authenticator, error) {
	store := storage.NewMemoryStore()
	for _, c := range clients {
		store.Clients[c.ID] = &fosite.DefaultOpenIDConnectClient{
			DefaultClient:                     &fosite.DefaultClient{ID: c.ID, GrantTypes: []string{"client_credentials"}},
			JSONWebKeys:                       &josev3.JSONWebKeySet{Keys: []josev3.JSONWebKey{{Key: c.Public(), KeyID: c.KID, Algorithm: c.Alg, Use: "sig"}}},
			TokenEndpointAuthMethod:           "private_key_jwt",
			TokenEndpointAuthSigningAlgorithm: c.Alg,
		}
	}
	f := &fosite.Fosite{Store: store, Config: &fosite.Config{TokenURL: Issuer}}
	req, err := http.NewRequest(http.MethodPost, Issuer+"/token", nil)
	if err != nil {
		return nil, err
	}
	return &fositeAuth{f: f, req: req}, nil
}

func (a *fositeAuth) Authenticate(ctx context.Context, form url.Values) (string, error) {
	c, err := a.f.AuthenticateClient(ctx, a.req, form)
	if err != nil {
		return "", err
	}
	return c.GetID(), nil
}

func (a *fositeAuth) Close() {}
