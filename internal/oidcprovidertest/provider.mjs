// provider.mjs runs node oidc-provider for pkjwt's Go tests (see
// oidcprovidertest.go). It reads its configuration as JSON from the
// environment variable PKJWT_OIDC_CONFIG, listens on a free port of
// 127.0.0.1 and prints one JSON line {"issuer": "http://127.0.0.1:PORT"} to
// stdout once it serves requests. It exits when its stdin closes, so it
// never outlives the test that started it.
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const cfg = JSON.parse(process.env.PKJWT_OIDC_CONFIG || '{}');

const clientAuthAlgs = [
  'RS256', 'RS384', 'RS512',
  'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512',
  'Ed25519', 'EdDSA',
];

const scopes = new Set(['openid']);
const clients = (cfg.clients || []).map((c) => {
  for (const s of (c.scope || '').split(' ').filter(Boolean)) scopes.add(s);
  const client = {
    client_id: c.client_id,
    token_endpoint_auth_method: 'private_key_jwt',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
  };
  if (c.jwks) client.jwks = c.jwks;
  if (c.jwks_uri) client.jwks_uri = c.jwks_uri;
  if (c.signing_alg) client.token_endpoint_auth_signing_alg = c.signing_alg;
  if (c.scope) client.scope = c.scope;
  return client;
});

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients,
    scopes: [...scopes],
    clockTolerance: cfg.clock_tolerance_seconds || 0,
    enabledJWA: { clientAuthSigningAlgValues: clientAuthAlgs },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
    },
    // oidc-provider refuses to fetch a jwks_uri on a loopback address (SSRF
    // protection); the tests serve their clients' keys on 127.0.0.1.
    fetch: (url, options) => {
      delete options.dispatcher;
      return globalThis.fetch(url, options);
    },
  });
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
