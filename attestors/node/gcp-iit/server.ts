import { AttestationError } from '../../../common/errors.ts';
import type { NodeAttestationContext, NodeAttestationResult, NodeAttestorDeps, NodeAttestorServer, ServerAttestorFactory } from '../types.ts';
import { cloudAgentId, cloudSelectors, decodeJsonObject, requireString } from '../cloud/evidence.ts';
import { verifyCloudJwt } from '../cloud/jwt.ts';
import { RemoteKeySet } from '../cloud/remote-keys.ts';
import { remoteKeySetOptions } from '../cloud/config-fields.ts';
import { GCP_IIT_METHOD, GOOGLE_ISSUER, gcpIitServerConfig, type GcpIitServerConfig } from './config.ts';

const PREFIX = 'ERR_GCP_IIT';

interface ComputeEngineClaims { project_id: string; instance_id: string; instance_name: string; zone: string }

/**
 * Server half: an RS256 token signed by one of Google's current keys, for our
 * audience, from Google's issuer, fresh, from an allowed project. Project and
 * instance come only from the verified google.compute_engine claims.
 */
export class GcpIitServer implements NodeAttestorServer {
  readonly method = GCP_IIT_METHOD;
  private readonly keys: RemoteKeySet;

  constructor(private readonly config: GcpIitServerConfig, private readonly deps: NodeAttestorDeps) {
    this.keys = new RemoteKeySet(config.jwks_url, remoteKeySetOptions(config, deps, PREFIX));
  }

  async attest(payload: Uint8Array, ctx: NodeAttestationContext): Promise<NodeAttestationResult> {
    const p = decodeJsonObject(payload, `${PREFIX}_PAYLOAD_MALFORMED`, 'gcp_iit: payload');
    const token = requireString(p, 'token', `${PREFIX}_PAYLOAD_MALFORMED`, 'gcp_iit: payload');
    const claims = await verifyCloudJwt(token, {
      codePrefix: PREFIX, audience: this.config.audience, issuer: GOOGLE_ISSUER,
      leewaySec: this.config.leeway, maxAgeSec: this.config.max_token_age, nowMs: ctx.now(),
      key: (kid) => this.keys.get(kid),
    });
    const ce = computeEngine(claims);
    if (!this.config.projects.includes(ce.project_id)) {
      throw new AttestationError('permission_denied', `${PREFIX}_PROJECT_NOT_ALLOWED`, `gcp_iit: project "${ce.project_id}" is not in projects`);
    }
    const agentId = cloudAgentId(ctx.trustDomain, GCP_IIT_METHOD, [['project_id', ce.project_id], ['instance_id', ce.instance_id]]);
    const email = typeof claims.email === 'string' ? claims.email : undefined;
    const selectors = cloudSelectors(GCP_IIT_METHOD, [
      ['project-id', ce.project_id], ['zone', ce.zone], ['instance-name', ce.instance_name], ['sa', email],
    ]);
    this.deps.logger.info('gcp_iit attested', { agent_id: agentId.toString() });
    return {
      agentId, selectors, trustOnFirstUse: true,
      audit: { project_id: ce.project_id, instance_id: ce.instance_id, zone: ce.zone, iat: claims.iat, exp: claims.exp },
    };
  }
}

function computeEngine(claims: Record<string, unknown>): ComputeEngineClaims {
  const ce = (claims.google as { compute_engine?: Record<string, unknown> } | undefined)?.compute_engine;
  const missing = (what: string) => new AttestationError('invalid_argument', `${PREFIX}_CLAIMS_MISSING`,
    `gcp_iit: token lacks google.compute_engine${what} (the agent must request format=full)`);
  if (typeof ce !== 'object' || ce === null) throw missing('');
  const out: Record<string, string> = {};
  for (const k of ['project_id', 'instance_id', 'instance_name', 'zone'] as const) {
    const v = ce[k];
    if (typeof v !== 'string' || v === '') throw missing(`.${k}`);
    out[k] = v;
  }
  return out as unknown as ComputeEngineClaims;
}

export const serverFactory: ServerAttestorFactory<GcpIitServerConfig> = {
  method: GCP_IIT_METHOD,
  config: gcpIitServerConfig,
  create: (config, deps) => new GcpIitServer(config, deps),
};
