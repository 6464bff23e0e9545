import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../common/clock.ts';
import { createLogger, type LogFields } from '../../common/logger.ts';
import type { AgentClaims } from '../../spiffe/agent-claims.ts';
import { BundleSet } from '../../spiffe/bundle/set.ts';
import { SpiffeBundle } from '../../spiffe/bundle/spiffebundle.ts';
import { SpiffeId, TrustDomain } from '../../spiffe/id.ts';
import { parseJwtSvidInsecure } from '../../spiffe/jwtsvid/parse.ts';
import { StaticX509Source } from '../../spiffe/source/static.ts';
import type { JwtSvidSource } from '../../spiffe/source/types.ts';
import { SvidSigner } from '../../server/ca/signer.ts';
import { parseServerConfig } from '../../server/config.ts';
import type { DelegationPolicy, NewDelegationPolicy } from '../../server/delegation/types.ts';
import { startServer, type RunningServer } from '../../server/main.ts';
import { startOpenIdProvider, type OpenIdProvider } from '../helpers/oidc-provider.ts';
import { until } from '../oauth/harness.ts';

/**
 * Two in-process Tessera deployments (trust domains a.test and b.test, SQLite, real
 * sockets) and oidc-provider as the enterprise IdP. A issues cross-domain grants for
 * B's authorization server; B trusts A's grants (keys: A's JWKS fetched over TLS
 * authenticated by A's federated bundle) and A's workloads (JWT-SVIDs verified with
 * that bundle). The federation relationship is the bundle store: a.test's bundle is
 * written into B's store, exactly what the bundle endpoint refresher writes.
 */
export type Scope = { teardown(fn: () => unknown): void };
export const A_ISSUER = 'https://as.a.test';
export const B_ISSUER = 'https://as.b.test';
export const TICKETS = 'https://tickets.b.test';
export const FILES = 'https://files.a.test';
export const ID = {
  planner: 'spiffe://a.test/agents/planner',
  helper: 'spiffe://a.test/agents/helper',
  rogue: 'spiffe://a.test/agents/rogue',
};

export interface Workload {
  id: string;
  /** X.509-SVID (mTLS) plus the bundles of both trust domains (to verify either server). */
  x509: StaticX509Source;
  /** JWT-SVIDs minted by the workload's trust domain. */
  jwt: JwtSvidSource;
}

export interface Domain {
  td: string;
  server: RunningServer;
  issuer: string;
  /** https://<real address>/oauth2/token (the issuer's host name is not resolvable). */
  tokenEndpoint: string;
  address: string;
  dataDir: string;
  logs: LogFields[];
  workload(path: string, claims?: AgentClaims): Workload;
  policy(p: Partial<NewDelegationPolicy>): Promise<DelegationPolicy>;
}

export interface Domains { op: OpenIdProvider; a: Domain; b: Domain; bundles: BundleSet }

export async function startDomains(scope: Scope): Promise<Domains> {
  const op = await startOpenIdProvider(scope, { users: [{ sub: 'alice', groups: ['eng'] }, { sub: 'bob', groups: ['sales'] }] });
  const trusted = [{ issuer: op.issuer, audience: 'tessera', groups_claim: 'groups', ca_file: op.caFile }];
  const bundles = new BundleSet();
  const a = await startDomain(scope, 'a.test', { issuer: A_ISSUER, trusted_issuers: trusted, chaining: { audiences: [B_ISSUER], grant_ttl: '1m' } }, op, bundles);
  const b = await startDomain(scope, 'b.test', {
    issuer: B_ISSUER, trusted_issuers: trusted,
    chaining: { trusted_domains: [{ issuer: A_ISSUER, jwks_uri: `https://${a.address}/oauth2/jwks`, spiffe_trust_domain: 'a.test' }] },
  }, op, bundles);
  // Federation b → a: a.test's bundle (X.509 and JWT authorities) in b's bundle store.
  const ab = a.server.ca.bundle();
  await b.server.store.putBundle({ trustDomain: TrustDomain.parse('a.test'), x509Authorities: ab.x509Authorities, jwtAuthorities: ab.jwtAuthorities, refreshHint: 60 });
  // b applied it (its bundle store follows the change feed) once a's keys are fetched over TLS authenticated by it.
  await until('b to fetch a\'s grant-signing keys', () => b.logs.find((l) => l.msg === 'chaining: trusted domain keys fetched'));
  return { op, a, b, bundles };
}

async function startDomain(scope: Scope, td: string, oauth: Record<string, unknown>, op: OpenIdProvider, bundles: BundleSet): Promise<Domain> {
  const dataDir = mkdtempSync(join(tmpdir(), `tch-${td}-`));
  scope.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const logs: LogFields[] = [];
  const logger = createLogger({ level: 'debug', write: (l) => { logs.push(JSON.parse(l)); } });
  const cfg = parseServerConfig({
    trust_domain: td, data_dir: dataDir, agent_api: { listen: '127.0.0.1:0' },
    oauth: { listen: '127.0.0.1:0', token_ttl: '5m', ...oauth },
  });
  const server = await startServer(cfg, { clock: systemClock, logger });
  scope.teardown(() => server.stop());
  bundles.set(new SpiffeBundle(TrustDomain.parse(td), { x509Authorities: server.ca.x509Authorities() }));
  const signer = new SvidSigner(server.ca, systemClock);
  const address = server.oauthAddress!;
  return {
    td, server, issuer: oauth.issuer as string, tokenEndpoint: `https://${address}/oauth2/token`, address, dataDir, logs,
    workload(path, claims) {
      const id = `spiffe://${td}${path}`;
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const s = signer.signX509({ spiffeId: SpiffeId.parse(id), publicKey, ttlSeconds: 3600, claims });
      const x509 = new StaticX509Source({
        svid: { id: SpiffeId.parse(id), certificates: s.chain, privateKey, claims: claims ?? {}, notAfter: new Date(Date.now() + 3600_000) },
        bundles,
      });
      const jwt: JwtSvidSource = {
        async fetchJwtSvid(p) {
          const audience = Array.isArray(p.audience) ? p.audience : [p.audience];
          return parseJwtSvidInsecure((await signer.mintJwt({ spiffeId: SpiffeId.parse(id), audience, ttlSeconds: 300, claims })).token);
        },
      };
      return { id, x509, jwt };
    },
    policy: (p) => server.store.createDelegationPolicy({
      description: 'test', actors: [], subjectIssuer: op.issuer, subjects: [], groups: [], audiences: [], scopes: [],
      maxTtl: 300, maxDepth: 1, mayDelegateTo: [], ...p,
    }),
  };
}

export const payloadOf = (jwt: string): Record<string, any> => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8'));
export const headerOf = (jwt: string): Record<string, any> => JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString('utf8'));
