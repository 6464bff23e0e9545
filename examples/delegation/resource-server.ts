/**
 * A resource server that accepts delegated tokens: HTTPS over SPIFFE mTLS (node:https
 * via createMtlsHttpsServer), each request's Bearer token verified by the SDK's
 * delegationMiddleware against the authorization server's keys, bound to the caller's
 * certificate (cnf), checked against the revocation push feed, and authorized with
 * authorizeDelegation. It answers (and logs) who acts for whom:
 *
 *   user <issuer>#<user> via <agent A> via <sub-agent B>, scope <scopes>
 *
 *   SPIFFE_ENDPOINT_SOCKET=unix:///run/tessera/agent.sock PORT=9443 \
 *   ISSUER=https://127.0.0.1:8443 AUDIENCE=https://files.example.org REQUIRED_SCOPE=files:read \
 *   ACTORS='spiffe://example.org/agents/*' MAX_DEPTH=2 \
 *   node --import tsx examples/delegation/resource-server.ts
 *
 * TESSERA_URL (default ISSUER) is where the keys and the feed are fetched, when the
 * issuer name is not the address of the server this resource server talks to.
 */
import {
  X509Source, createMtlsHttpsServer, authorizeMemberOf, createRemoteDelegationKeys, RevocationFeed,
  delegationMiddleware, authorizeDelegation, getDelegation,
} from 'tessera';
import { env, log } from './call.ts';

const issuer = env('ISSUER');
const base = env('TESSERA_URL', issuer);
const source = await X509Source.create();
const me = source.getX509Svid().id;

const keys = createRemoteDelegationKeys({ issuer, jwksUri: `${base}/oauth2/jwks`, bundleSource: source });
const revocations = new RevocationFeed({ issuer, url: `${base}/oauth2/revocations`, source, maxStaleness: Number(env('MAX_STALENESS_MS', '30000')) });
revocations.onRevocation((r) => log('revocation', { seq: r.seq, kind: r.kind, value: r.value }));
await revocations.ready();                                        // fail closed until the first snapshot

const checkToken = delegationMiddleware({
  issuer, keys, audience: env('AUDIENCE'), revocations, requireBinding: true,
  authorize: authorizeDelegation({
    actor: env('ACTORS', `spiffe://${me.trustDomain}/*`).split(' '),
    maxDepth: Number(env('MAX_DEPTH', '2')),
    scopes: env('REQUIRED_SCOPE', 'files:read').split(' '),
  }),
});

const server = createMtlsHttpsServer({ source, authorize: authorizeMemberOf(me.trustDomain) }, (req, res) => {
  checkToken(req, res, () => {
    const t = getDelegation(req)!;
    const chain = [...t.actors].reverse().map((a) => a.id.toString()); // root actor first
    const answer = `user ${t.subject} via ${chain.join(' via ')}, scope ${t.scopes.join(' ')}`;
    log('served', { answer, jti: t.jti, grant_id: t.grantId });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ answer }));
  });
});
server.listen(Number(env('PORT', '0')), '127.0.0.1', () => log('listening', { id: me.toString(), address: server.address(), revocation_seq: revocations.seq }));
process.once('SIGTERM', () => { server.close(); revocations.close(); keys.close(); void source.close(); });
