/**
 * A small local authorization server standing in for Tessera's until server/oauth
 * registers `grant_type=client_credentials`: HTTPS on a server SVID (client
 * certificates requested, not required), RFC 8414 metadata, and a token endpoint for
 * client_credentials (client authenticated by its X.509-SVID or a JWT-SVID client
 * assertion per draft-ietf-oauth-spiffe-client-auth) and token exchange (actor by mTLS
 * or JWT-SVID actor_token, docs/delegation.md). It mints tokens in the shape of
 * docs/delegation.md with the test's signing key and records every request.
 */
import type { ExecutionContext } from 'ava';
import { createHash, sign } from 'node:crypto';
import * as https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { BundleSet } from '../../spiffe/bundle/set.ts';
import { verifyJwtSvid } from '../../spiffe/jwtsvid/verify.ts';
import { authorizeAny } from '../../spiffe/tls/authorizers.ts';
import { peerChain, verifyChain } from '../../spiffe/tls/verify-peer.ts';
import type { TestSvid } from '../helpers/pki.ts';
import { payloadOf, tlsOf, type SigningKey } from './delegation-fixtures.ts';
import { close, listen } from './fixtures.ts';

export const JWT_SPIFFE = 'urn:ietf:params:oauth:client-assertion-type:jwt-spiffe';
export const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

export interface TokenRequest { form: Record<string, string | undefined>; clientId: string; via: 'mtls' | 'client_assertion' | 'actor_token' }

export interface AsStub {
  issuer: string;
  tokenRequests: TokenRequest[];
  metadataRequests: number;
  /** Overrides: what the metadata says, the token lifetime, the token's iss. */
  set(o: { metadataIssuer?: string; expiresIn?: number; tokenIssuer?: string; allowedScopes?: string[] }): void;
}

export async function asStub(t: ExecutionContext, o: { cert: TestSvid; bundles: BundleSet; key: SigningKey }): Promise<AsStub> {
  let issuer = '';
  const state = { metadataIssuer: undefined as string | undefined, expiresIn: 300, tokenIssuer: undefined as string | undefined, allowedScopes: ['files:read', 'files:write'] };
  const stub: AsStub = { issuer: '', tokenRequests: [], metadataRequests: 0, set: (x) => { Object.assign(state, x); } };
  const fail = (res: import('node:http').ServerResponse, status: number, error: string, description: string) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify({ error, error_description: description }));
  };
  const server = https.createServer({ ...tlsOf(o.cert), requestCert: true, rejectUnauthorized: false }, (req, res) => {
    if (req.method === 'GET' && req.url === '/.well-known/oauth-authorization-server') {
      stub.metadataRequests++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
        // The MCP SDK's metadata schema requires authorization_endpoint (the authorization-code flow's).
        issuer: state.metadataIssuer ?? issuer, authorization_endpoint: `${issuer}/oauth2/authorize`, token_endpoint: `${issuer}/oauth2/token`,
        jwks_uri: `${issuer}/oauth2/jwks`, grant_types_supported: ['authorization_code', 'client_credentials', EXCHANGE], response_types_supported: ['code'],
        token_endpoint_auth_methods_supported: ['tls_client_auth', 'private_key_jwt'], tls_client_certificate_bound_access_tokens: true,
      }));
      return;
    }
    if (req.method !== 'POST' || req.url !== '/oauth2/token') { res.writeHead(404).end(); return; }
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => { body += d; });
    req.on('end', () => {
      void (async () => {
        const form = Object.fromEntries(new URLSearchParams(body));
        const sock = req.socket as TLSSocket;
        const cert = sock.getPeerCertificate().raw as Buffer | undefined;
        const peer = cert ? verifyChain(peerChain(sock), o.bundles, authorizeAny()) : undefined;
        let clientId: string;
        let via: TokenRequest['via'];
        if (form.grant_type === 'client_credentials') {
          if (form.client_assertion_type !== undefined) {
            if (form.client_assertion_type !== JWT_SPIFFE) return fail(res, 401, 'invalid_client', `client_assertion_type ${form.client_assertion_type}`);
            const svid = await verifyJwtSvid(form.client_assertion!, o.bundles, issuer).catch(() => undefined);
            if (!svid || svid.audience.length !== 1) return fail(res, 401, 'invalid_client', 'client_assertion is not a JWT-SVID for exactly this issuer');
            clientId = svid.id.toString(); via = 'client_assertion';
          } else if (peer) {
            clientId = peer.id.toString(); via = 'mtls';
          } else return fail(res, 401, 'invalid_client', 'no client authentication');
          if (form.client_id !== undefined && form.client_id !== clientId) return fail(res, 401, 'invalid_client', `client_id ${form.client_id} is not ${clientId}`);
        } else if (form.grant_type === EXCHANGE) {
          if (form.actor_token !== undefined) {
            const svid = await verifyJwtSvid(form.actor_token, o.bundles, `${issuer}/oauth2/token`).catch(() => undefined);
            if (!svid) return fail(res, 400, 'invalid_request', 'actor_token is not a JWT-SVID for the token endpoint');
            clientId = svid.id.toString(); via = 'actor_token';
          } else if (peer) {
            clientId = peer.id.toString(); via = 'mtls';
          } else return fail(res, 401, 'invalid_client', 'no actor identity');
        } else return fail(res, 400, 'unsupported_grant_type', String(form.grant_type));
        stub.tokenRequests.push({ form, clientId, via });
        if (!form.resource) return fail(res, 400, 'invalid_target', 'resource is required');
        const scopes = (form.scope ?? '').split(' ').filter(Boolean);
        const subject = form.subject_token ? payloadOf(form.subject_token) : undefined;
        const allowed = subject ? String(subject.scope).split(' ') : state.allowedScopes;
        const tooWide = scopes.filter((s) => !allowed.includes(s));
        if (tooWide.length > 0) return fail(res, 400, 'invalid_scope', `scope ${tooWide.join(' ')} is not allowed`);
        const token = mintToken({
          iss: state.tokenIssuer ?? issuer, resource: form.resource, scope: scopes.join(' '), clientId, subject,
          x5t: via === 'mtls' && cert ? createHash('sha256').update(cert).digest('base64url') : undefined, ttl: state.expiresIn,
        }, o.key);
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify({
          access_token: token, token_type: 'Bearer', expires_in: state.expiresIn, scope: scopes.join(' '),
          ...(subject ? { issued_token_type: 'urn:ietf:params:oauth:token-type:access_token' } : {}),
        }));
      })().catch((err: Error) => fail(res, 500, 'server_error', err.message));
    });
  });
  const port = await listen(server);
  t.teardown(() => close(server));
  issuer = `https://127.0.0.1:${port}`;
  stub.issuer = issuer;
  return stub;
}

let n = 0;

/**
 * A token in the delegated shape. The agent acting for itself (client_credentials) is
 * written as its own subject in the issuer's namespace, so today's verifyDelegatedToken
 * reads it; the real server decides that shape.
 */
function mintToken(p: { iss: string; resource: string; scope: string; clientId: string; subject?: Record<string, unknown>; x5t?: string; ttl: number }, key: SigningKey): string {
  const iat = Math.floor(Date.now() / 1000);
  const id = (pre: string) => `${pre}_${`${iat}${++n}`.padEnd(22, 'x').slice(0, 22)}`;
  const s = p.subject;
  const claims = {
    iss: p.iss, aud: [p.resource], scope: p.scope, iat, nbf: iat, exp: iat + p.ttl, jti: id('tok'), client_id: p.clientId,
    ...(s
      ? { sub: s.sub, subject: s.subject, grant_id: s.grant_id, chain: [...(s.chain as string[]), s.jti], act: { sub: p.clientId, act: s.act } }
      : { sub: `${p.iss}#${p.clientId}`, subject: { iss: p.iss, sub: p.clientId }, grant_id: id('grt'), chain: [], act: { sub: p.clientId } }),
    ...(p.x5t ? { cnf: { 'x5t#S256': p.x5t } } : {}),
  };
  const b64 = (x: unknown) => Buffer.from(JSON.stringify(x)).toString('base64url');
  const input = `${b64({ alg: 'ES256', typ: 'at+jwt', kid: key.kid })}.${b64(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

