// A panva/oidc-provider instance for oidcfed's interop suite.
//
//   node oidc-provider/server.mjs CONFIG.json
//
// CONFIG (written by the Go test): {
//   "port": 0,                       // 0 picks a free loopback port
//   "keys": [ private JWKs ],        // the signing keys, RS256 and ES256
//   "clients": [ client metadata ],  // RFC 7591 names
//   "conformIdTokenClaims": true,    // true: profile/email claims only at userinfo
//   "apiResource": "https://api.example", // resource for JWT access tokens
//   "host": "localhost",                  // optional: the issuer's host name
//   "mtls": { "key": PEM, "cert": PEM },  // optional: a TLS listener for
//                                          // self_signed_tls_client_auth
//   "registrationToken": "…"              // optional: the initial access
//                                          // token registration requires
// }
//
// With "mtls" a second listener, https on another loopback port, asks for
// client certificates (any: requestCert without rejectUnauthorized, as a
// provider of self-signed clients must); the discovery document names its
// token, userinfo and device authorization endpoints as
// mtls_endpoint_aliases (RFC 8705 §5). The issuer stays on plain http, so
// a certificate can only reach the provider through the aliases.
//
// Prints "listening <issuer>" on stdout once it serves requests. Users are
// fixed: "alice" (verified email, groups) and "bob" (unverified email). Any
// password is accepted by the provider's development login page.
import { createServer } from 'node:http';
import { createServer as createTLSServer } from 'node:https';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));

const accounts = {
  alice: {
    email: 'alice@example.com', email_verified: true,
    name: 'Alice Liddell', given_name: 'Alice', family_name: 'Liddell',
    groups: ['admins', 'staff'],
  },
  bob: {
    email: 'bob@example.com', email_verified: false,
    name: 'Bob Builder', given_name: 'Bob', family_name: 'Builder',
    groups: [],
  },
};

// listen resolves when server serves on a loopback port (0: a free one).
const listen = (server, port) => new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));

const server = createServer();
const tlsServer = config.mtls && createTLSServer({
  key: config.mtls.key, cert: config.mtls.cert, requestCert: true, rejectUnauthorized: false,
});

await listen(server, config.port || 0);
if (tlsServer) await listen(tlsServer, 0);
{
  // "host": "localhost" names the issuer http://localhost:PORT, another
  // site than a relying party on 127.0.0.1 (it still listens on 127.0.0.1).
  const issuer = `http://${config.host || '127.0.0.1'}:${server.address().port}`;
  const mtlsBase = tlsServer && `https://127.0.0.1:${tlsServer.address().port}`;
  const provider = new Provider(issuer, {
    clients: config.clients,
    jwks: { keys: config.keys },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    pkce: { required: () => true },
    // oidc-provider refuses outgoing requests (back-channel logout) to
    // special-use addresses, loopback included, as an SSRF guard. The
    // relying party under test is on loopback, so the guard is dropped here.
    fetch: (url, options) => {
      delete options.dispatcher;
      return globalThis.fetch(url, options);
    },
    // Refresh tokens for every client allowed the grant, not only with
    // offline_access (which needs prompt=consent).
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    conformIdTokenClaims: config.conformIdTokenClaims,
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups', 'api:read'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name'],
      groups: ['groups'],
    },
    async findAccount(_ctx, sub) {
      const claims = accounts[sub];
      if (!claims) return undefined;
      return { accountId: sub, claims: async () => ({ sub, ...claims }) };
    },
    // The client authentication methods of the client-auth cases.
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt',
      'self_signed_tls_client_auth', 'none'],
    discovery: mtlsBase ? {
      mtls_endpoint_aliases: {
        token_endpoint: `${mtlsBase}/token`,
        userinfo_endpoint: `${mtlsBase}/me`,
        device_authorization_endpoint: `${mtlsBase}/device/auth`,
      },
    } : {},
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
      requestObjects: { enabled: true },
      introspection: { enabled: true },
      jwtUserinfo: { enabled: true }, // for clients with userinfo_signed_response_alg
      // ID tokens and userinfo encrypted to clients that register
      // id_token_encrypted_response_alg or userinfo_encrypted_response_alg.
      encryption: { enabled: true },
      // Dynamic client registration (RFC 7591), behind the initial access
      // token CONFIG.registrationToken when set.
      registration: { enabled: true, initialAccessToken: config.registrationToken || false },
      // DPoP (RFC 9449), with server nonces at the token endpoint and
      // userinfo, so a client's one retry is exercised.
      dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true },
      revocation: { enabled: true },
      mTLS: {
        enabled: true,
        selfSignedTlsClientAuth: true,
        // The peer certificate of this request's TLS connection, if any.
        getCertificate: (ctx) => {
          const cert = ctx.socket.getPeerX509Certificate?.();
          return cert && cert.raw.length ? cert : undefined;
        },
      },
      rpInitiatedLogout: { enabled: true },
      backchannelLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // Only the client that asks for api:read gets a JWT access token
        // for the API; the others keep opaque tokens usable at userinfo.
        defaultResource: (_ctx, client) =>
          client.scope?.split(' ').includes('api:read') ? config.apiResource : undefined,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'api:read',
          audience: config.apiResource,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
  });
  // Log every error the provider reports: the Go test prints this output
  // when a case fails.
  for (const event of ['server_error', 'authorization.error', 'grant.error', 'device_authorization.error', 'end_session.error', 'userinfo.error', 'backchannel.error']) {
    provider.on(event, (_ctx, err) => console.error(`${event}: ${err.name}: ${err.message} ${err.error_description ?? ''} ${err.cause ?? ''}`));
  }
  server.on('request', provider.callback());
  tlsServer?.on('request', provider.callback());
  console.log(`listening ${issuer}`);
}
