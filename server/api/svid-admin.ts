import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { invalidArgument } from '../../common/errors.ts';
import { SpiffeId, type TrustDomain } from '../../spiffe/id.ts';
import type { CaManager } from '../ca/manager.ts';
import { SvidSigner } from '../ca/signer.ts';
import { withTaint } from '../ca/local-authority.ts';
import { toWireBundle } from '../entries/wire.ts';
import type { SvidAdminHandlers } from '../../proto/gen/tessera-api/tessera/v1/SvidAdmin.ts';
import { unary } from './unary.ts';

/**
 * Break-glass SVIDs (tessera-server x509 mint / jwt mint): any SPIFFE ID of our trust
 * domain, signed by the active authority, no entry needed. Whoever can open the admin
 * socket is an operator, so this is no wider than what the socket already allows
 * (they can create an entry); every mint is audited.
 */
const MAX_TTL = 30 * 86_400;

export function svidAdminHandlers(d: {
  trustDomain: TrustDomain; ca: CaManager; clock: Clock; logger: Logger;
  x509SvidTtlSeconds: number; jwtSvidTtlSeconds: number;
  /** `iss` of minted JWT-SVIDs (oidc_discovery.issuer, docs/oidc-discovery.md). */
  jwtIssuer?: string;
  audit(event: string, subject: string, data?: Record<string, unknown>): Promise<void>;
}): SvidAdminHandlers {
  const signer = new SvidSigner(d.ca, d.clock);
  signer.jwtIssuer = d.jwtIssuer;
  const log = d.logger;
  const idArg = (s: string): SpiffeId => {
    let id: SpiffeId;
    try { id = SpiffeId.parse(s); } catch (e) { throw invalidArgument('ERR_SPIFFE_ID', `spiffe_id: ${(e as Error).message}`, e); }
    if (!id.trustDomain.equals(d.trustDomain)) throw invalidArgument('ERR_SPIFFE_ID', `spiffe_id: ${id} is not in trust domain ${d.trustDomain.name}`);
    return id;
  };
  const ttlArg = (ttl: number, def: number): number => {
    if (ttl < 0 || ttl > MAX_TTL) throw invalidArgument('ERR_TTL', `ttl: ${ttl} must be between 1 and ${MAX_TTL} seconds (0 = server default)`);
    return ttl || def;
  };
  return {
    MintX509SVID: unary(log, 'MintX509SVID', async (call) => {
      const r = call.request;
      const id = idArg(r.spiffe_id);
      const csr = await SvidSigner.readCsrAsync(r.csr);
      if (csr.uriSans.length > 0 && !(csr.uriSans.length === 1 && csr.uriSans[0] === id.toString())) {
        throw invalidArgument('ERR_CSR_URI_SAN', `csr: its URI SANs (${csr.uriSans.join(', ')}) must be empty or exactly ${id}`);
      }
      const s = await signer.signX509Async({ spiffeId: id, publicKey: csr.spki, ttlSeconds: ttlArg(r.ttl, d.x509SvidTtlSeconds), dnsNames: r.dns_names });
      await d.audit('svid.minted', id.toString(), { kind: 'x509', serial: s.serial, expires_at: Math.floor(s.notAfter / 1000) });
      log.warn('X.509-SVID minted through the admin API', { spiffe_id: id.toString(), serial: s.serial });
      return { cert_chain: s.chain.map((c) => Buffer.from(c)), expires_at: Math.floor(s.notAfter / 1000), bundle: withTaint(toWireBundle(d.ca.bundle()), d.ca) };
    }),
    MintJWTSVID: unary(log, 'MintJWTSVID', async (call) => {
      const r = call.request;
      const id = idArg(r.spiffe_id);
      if (r.audience.length === 0 || r.audience.some((a) => !a)) throw invalidArgument('ERR_AUDIENCE', 'audience: at least one non-empty audience is required');
      const j = await signer.mintJwt({ spiffeId: id, audience: r.audience, ttlSeconds: ttlArg(r.ttl, d.jwtSvidTtlSeconds) });
      await d.audit('svid.minted', id.toString(), { kind: 'jwt', audience: r.audience, expires_at: j.expiresAt });
      log.warn('JWT-SVID minted through the admin API', { spiffe_id: id.toString(), audience: r.audience });
      return { token: j.token, expires_at: j.expiresAt };
    }),
  };
}
