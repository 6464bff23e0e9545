import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { decodeJwt } from 'jose';
import { AttestationError, ConfigError } from '../../../common/errors.ts';
import { makeSelector, type Selector } from '../../../spiffe/selector.ts';
import type { NodeAttestationContext, NodeAttestationResult, NodeAttestorDeps, NodeAttestorServer, ServerAttestorFactory } from '../types.ts';
import { cloudAgentId, cloudSelectors, decodeJsonObject, requireString } from '../cloud/evidence.ts';
import { K8S_PSAT_METHOD, k8sPsatServerConfig, type K8sPsatClusterConfig, type K8sPsatServerConfig } from './config.ts';
import { KubeApiClient } from './kube-api.ts';
import type { KubeNode, KubePod, TokenReviewStatus } from './objects.ts';

const P = 'ERR_K8S_PSAT';
const MAX_TOKEN_CHARS = 16 * 1024;
const SA_USER = /^system:serviceaccount:([^:]+):([^:]+)$/;
const EXTRA = 'authentication.kubernetes.io/';

const denied = (code: string, msg: string) => new AttestationError('permission_denied', `${P}_${code}`, `k8s_psat: ${msg}`);
const malformed = (msg: string) => new AttestationError('invalid_argument', `${P}_PAYLOAD_MALFORMED`, `k8s_psat: ${msg}`);

/** The datastore's single-use record (Datastore.useTokenOnce): true the first time a hash is seen. */
export interface SingleUseTokens {
  useTokenOnce(hash: string, expiresAt: number): Promise<boolean>;
}

/**
 * `usedTokens` is the datastore. server/main.ts hands the datastore to node attestors as
 * `joinTokens`; until it also names it `usedTokens`, that one is used when it has useTokenOnce.
 */
export type K8sPsatServerDeps = NodeAttestorDeps & { usedTokens?: SingleUseTokens; joinTokens?: unknown };

interface Cluster { name: string; config: K8sPsatClusterConfig; api: KubeApiClient }

/**
 * Server half of Kubernetes projected service-account token attestation (SPIRE's
 * k8s_psat). The token is only trusted through the cluster's own TokenReview API, asked
 * for the configured audiences; the pod it is bound to and that pod's node are then read
 * from the API, so every selector comes from the API server, none from the agent. The
 * agent ID is per node: spiffe://<td>/tessera/agent/k8s_psat/<cluster>/<node uid>.
 *
 * The unverified claims are read only to refuse early, with a precise reason, tokens
 * that are expired or for another audience; acceptance always rests on TokenReview.
 * Each token is accepted once per agent ID (datastore single-use record until it
 * expires): a stolen token cannot re-attest the node while it is still valid.
 */
export class K8sPsatServer implements NodeAttestorServer {
  readonly method = K8S_PSAT_METHOD;
  private readonly clusters = new Map<string, Cluster>();

  constructor(config: K8sPsatServerConfig, private readonly deps: NodeAttestorDeps, private readonly used: SingleUseTokens) {
    for (const [name, c] of Object.entries(config.clusters)) {
      // Fail at start, naming the key, rather than on every attestation.
      for (const [key, path] of [['ca_file', c.ca_file], ['token_file', c.token_file]] as const) {
        try { readFileSync(path); } catch (e) {
          throw new ConfigError(`config: node_attestors.k8s_psat.clusters.${name}.${key}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
      }
      const api = new KubeApiClient({ cluster: name, apiServer: c.api_server, caFile: c.ca_file, tokenFile: c.token_file, timeoutMs: c.timeout * 1000 });
      this.clusters.set(name, { name, config: c, api });
    }
  }

  async attest(payload: Uint8Array, ctx: NodeAttestationContext): Promise<NodeAttestationResult> {
    const p = decodeJsonObject(payload, `${P}_PAYLOAD_MALFORMED`, 'k8s_psat: payload');
    const clusterName = requireString(p, 'cluster', `${P}_PAYLOAD_MALFORMED`, 'k8s_psat: payload');
    const token = requireString(p, 'token', `${P}_PAYLOAD_MALFORMED`, 'k8s_psat: payload').trim();
    const cluster = this.clusters.get(clusterName);
    if (!cluster) {
      throw denied('CLUSTER_UNKNOWN', `cluster "${clusterName.slice(0, 64)}" is not configured on this server (configured: ${[...this.clusters.keys()].join(', ')})`);
    }
    const { exp, iat } = precheck(token, cluster, ctx.now());

    const review = await cluster.api.tokenReview(token, cluster.config.audience, ctx.signal);
    const { namespace, serviceAccount, podName, podUid } = checkReview(review, cluster);
    const pod = await cluster.api.getPod(namespace, podName, ctx.signal);
    const nodeName = checkPod(pod, { namespace, podName, podUid, serviceAccount }, cluster.name);
    const node = await cluster.api.getNode(nodeName, ctx.signal);
    checkNode(node, nodeName, review, cluster.name);

    const agentId = cloudAgentId(ctx.trustDomain, K8S_PSAT_METHOD, [['cluster', cluster.name], ['node uid', node!.uid]]);
    // Last, so a refusal or an API outage above does not burn the agent's token.
    const hash = createHash('sha256').update(`${K8S_PSAT_METHOD}\0${agentId}\0${token}`).digest('hex');
    if (!await this.used.useTokenOnce(hash, exp)) {
      throw denied('TOKEN_REUSED', `this service account token was already used to attest ${agentId}; each token is accepted once (the kubelet rotates projected tokens: present the current one)`);
    }
    this.deps.logger.info('k8s_psat attested', { agent_id: agentId.toString(), cluster: cluster.name, pod: `${namespace}/${podName}`, node: nodeName });
    return {
      agentId,
      selectors: selectors(cluster, { namespace, serviceAccount }, pod!, node!),
      // A fresh token for the same node attests again (after the agent lost its SVID).
      trustOnFirstUse: false,
      audit: {
        cluster: cluster.name, namespace, service_account: serviceAccount, pod_name: podName, pod_uid: podUid,
        node_name: nodeName, node_uid: node!.uid, token_iat: iat, token_exp: exp,
      },
    };
  }
}

/** Refusals that need no API call: not a bound JWT, expired, or minted for another audience. */
function precheck(token: string, cluster: Cluster, nowMs: number): { exp: number; iat?: number } {
  if (token.length > MAX_TOKEN_CHARS) throw malformed(`token is longer than ${MAX_TOKEN_CHARS} characters`);
  let claims: ReturnType<typeof decodeJwt>;
  try { claims = decodeJwt(token); } catch (e) {
    throw malformed(`token is not a JWT: ${(e as Error).message}`);
  }
  if (typeof claims.exp !== 'number') {
    throw denied('NOT_BOUND', 'token has no exp claim: it is not a projected service account token (legacy secret-based tokens are refused)');
  }
  const now = Math.floor(nowMs / 1000);
  if (claims.exp <= now) {
    throw denied('TOKEN_EXPIRED', `token expired at ${iso(claims.exp)} (now ${iso(now)})`);
  }
  const auds = claims.aud === undefined ? [] : Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!auds.some((a) => cluster.config.audience.includes(a))) {
    throw denied('AUDIENCE_MISMATCH', `token is for audience ${JSON.stringify(auds)}, not ${JSON.stringify(cluster.config.audience)} (project the agent's token with audience ${cluster.config.audience[0]})`);
  }
  return { exp: claims.exp, iat: typeof claims.iat === 'number' ? claims.iat : undefined };
}

function checkReview(r: TokenReviewStatus, cluster: Cluster): { namespace: string; serviceAccount: string; podName: string; podUid: string } {
  const c = `cluster "${cluster.name}"`;
  if (!r.authenticated) {
    throw denied('TOKEN_REJECTED', `${c}: TokenReview did not authenticate the token: ${(r.error ?? 'no reason given').slice(0, 300)}`);
  }
  // An authenticator that ignores spec.audiences would accept a token minted for anyone.
  const auds = r.audiences ?? [];
  if (auds.length === 0 || !auds.every((a) => cluster.config.audience.includes(a))) {
    throw denied('AUDIENCE_UNVERIFIED', `${c}: TokenReview returned audiences ${JSON.stringify(r.audiences ?? null)}, not a subset of the requested ${JSON.stringify(cluster.config.audience)}; the API server did not check the audience`);
  }
  const m = SA_USER.exec(r.username ?? '');
  if (!m) throw denied('NOT_SERVICE_ACCOUNT', `${c}: token belongs to "${r.username ?? ''}", not a service account`);
  const [, namespace, serviceAccount] = m as unknown as [string, string, string];
  const full = `${namespace}:${serviceAccount}`;
  if (!cluster.config.service_account_allow_list.includes(full)) {
    throw denied('SERVICE_ACCOUNT_NOT_ALLOWED', `${c}: service account "${full}" is not in service_account_allow_list`);
  }
  const podName = one(r, 'pod-name'), podUid = one(r, 'pod-uid');
  if (!podName || !podUid) {
    throw denied('NOT_BOUND', `${c}: token of "${full}" is not bound to a pod (TokenReview has no ${EXTRA}pod-name/pod-uid); mount a projected service account token`);
  }
  return { namespace, serviceAccount, podName, podUid };
}

function checkPod(pod: KubePod | undefined, want: { namespace: string; podName: string; podUid: string; serviceAccount: string }, cluster: string): string {
  const ref = `pod ${want.namespace}/${want.podName}`;
  if (!pod) throw denied('POD_NOT_FOUND', `cluster "${cluster}": ${ref}, to which the token is bound, does not exist`);
  if (pod.uid !== want.podUid) throw denied('POD_MISMATCH', `cluster "${cluster}": ${ref} has uid ${pod.uid}, the token is bound to uid ${want.podUid} (the pod was replaced)`);
  if (pod.serviceAccountName !== want.serviceAccount) {
    throw denied('POD_MISMATCH', `cluster "${cluster}": ${ref} runs as service account "${pod.serviceAccountName ?? ''}", the token is for "${want.serviceAccount}"`);
  }
  if (!pod.nodeName) throw denied('POD_NOT_SCHEDULED', `cluster "${cluster}": ${ref} is not scheduled on a node`);
  return pod.nodeName;
}

function checkNode(node: KubeNode | undefined, nodeName: string, r: TokenReviewStatus, cluster: string): void {
  if (!node) throw denied('NODE_NOT_FOUND', `cluster "${cluster}": node ${nodeName} of the agent's pod does not exist`);
  // Kubernetes 1.30+ binds the node into the token too: both views must agree.
  const boundUid = one(r, 'node-uid');
  if (boundUid !== undefined && boundUid !== node.uid) {
    throw denied('NODE_MISMATCH', `cluster "${cluster}": node ${nodeName} has uid ${node.uid}, the token is bound to node uid ${boundUid}`);
  }
}

function selectors(cluster: Cluster, sa: { namespace: string; serviceAccount: string }, pod: KubePod, node: KubeNode): Selector[] {
  const out = cloudSelectors(K8S_PSAT_METHOD, [
    ['cluster', cluster.name], ['agent_ns', sa.namespace], ['agent_sa', sa.serviceAccount],
    ['agent_pod_name', pod.name], ['agent_pod_uid', pod.uid], ['agent_node_ip', pod.hostIP],
    ['agent_node_name', node.name], ['agent_node_uid', node.uid],
  ]);
  const labelSelectors = (kind: string, labels: Record<string, string>, allowed: string[]) => Object.keys(labels).sort()
    .filter((k) => allowed.includes(k)).map((k) => makeSelector(K8S_PSAT_METHOD, `${kind}:${k}:${labels[k]}`));
  return [
    ...out,
    ...labelSelectors('agent_node_label', node.labels, cluster.config.allowed_node_label_keys),
    ...labelSelectors('agent_pod_label', pod.labels, cluster.config.allowed_pod_label_keys),
  ];
}

function one(r: TokenReviewStatus, key: string): string | undefined {
  const v = r.extra[EXTRA + key];
  return v && v.length === 1 && v[0] !== '' ? v[0] : undefined;
}

const iso = (s: number) => new Date(s * 1000).toISOString();

export const serverFactory: ServerAttestorFactory<K8sPsatServerConfig> = {
  method: K8S_PSAT_METHOD,
  config: k8sPsatServerConfig,
  create(config, deps: K8sPsatServerDeps) {
    const fallback = deps.joinTokens as Partial<SingleUseTokens> | undefined;
    const used = deps.usedTokens ?? (typeof fallback?.useTokenOnce === 'function' ? fallback as SingleUseTokens : undefined);
    if (!used) throw new Error('k8s_psat attestor needs the datastore (deps.usedTokens) to accept each token once');
    return new K8sPsatServer(config, deps, used);
  },
};
