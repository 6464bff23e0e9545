import { t, type Field } from '../../../common/config.ts';
import { ConfigError } from '../../../common/errors.ts';
import { requiredList } from '../cloud/config-fields.ts';

export const K8S_PSAT_METHOD = 'k8s_psat';

/** Audience of the projected token unless configured: the token is minted for the Tessera server only. */
export const DEFAULT_AUDIENCE = 'tessera-server';
/** Where the agent's DaemonSet mounts its projected token (deploy/kubernetes/agent.yaml). */
export const DEFAULT_AGENT_TOKEN_PATH = '/var/run/secrets/tokens/tessera-agent';
/** In-cluster credentials of the server's own service account, mounted by the kubelet. */
const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * A cluster name becomes a segment of agent IDs (spiffe://<td>/tessera/agent/k8s_psat/<cluster>/<node uid>),
 * so it is limited to what a path segment may hold.
 */
const CLUSTER_NAME = /^[a-zA-Z0-9._-]+$/;
/** `namespace:name`, both DNS-1123 labels/subdomains as Kubernetes allows them. */
const SERVICE_ACCOUNT = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?:[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

const clusterConfig = t.object({
  /** The cluster's kube-apiserver (https only: the agent's token travels in the TokenReview). */
  api_server: t.string({ default: 'https://kubernetes.default.svc', pattern: /^https:\/\/[^\s/]+(\/[^\s]*)?$/ }),
  /** PEM CA bundle that signs the kube-apiserver's serving certificate. */
  ca_file: t.string({ default: `${SA_DIR}/ca.crt`, nonEmpty: true }),
  /** Bearer token of the server's own service account (re-read per request: the kubelet rotates it). */
  token_file: t.string({ default: `${SA_DIR}/token`, nonEmpty: true }),
  /** `namespace:name` of the service accounts whose tokens may attest (the agent DaemonSet's). */
  service_account_allow_list: requiredList('namespace:name service account'),
  /** Audiences the token must be for; TokenReview is asked for exactly these. */
  audience: t.array(t.string({ nonEmpty: true }), { default: [DEFAULT_AUDIENCE] }),
  /** Node and pod label keys turned into agent_node_label / agent_pod_label selectors. */
  allowed_node_label_keys: t.array(t.string({ nonEmpty: true }), { default: [] }),
  allowed_pod_label_keys: t.array(t.string({ nonEmpty: true }), { default: [] }),
  /** Per request to the kube-apiserver. */
  timeout: t.duration({ default: 10, min: 0.001, max: 120 }),
});
export type K8sPsatClusterConfig = ReturnType<typeof clusterConfig.parse>;

const clusters: Field<Record<string, K8sPsatClusterConfig>> = {
  describe: 'map of cluster name to cluster config',
  parse(v, p) {
    const map = t.record(clusterConfig).parse(v, p);
    const names = Object.keys(map);
    if (names.length === 0) throw new ConfigError(`config: ${p}: configure at least one cluster`);
    for (const name of names) {
      const c = map[name]!;
      if (!CLUSTER_NAME.test(name) || name === '.' || name === '..') {
        throw new ConfigError(`config: ${p}.${name}: cluster name must match ${CLUSTER_NAME} (it is a segment of agent IDs)`);
      }
      c.service_account_allow_list.forEach((sa, i) => {
        if (!SERVICE_ACCOUNT.test(sa)) throw new ConfigError(`config: ${p}.${name}.service_account_allow_list[${i}]: "${sa}" is not namespace:name`);
      });
      if (c.audience.length === 0) throw new ConfigError(`config: ${p}.${name}.audience: must list at least one audience (a token for any audience must never pass)`);
    }
    return map;
  },
};

/** `node_attestors.k8s_psat` in the server config. */
export const k8sPsatServerConfig = t.object({ clusters });
export type K8sPsatServerConfig = ReturnType<typeof k8sPsatServerConfig.parse>;

/** `node_attestor` section for k8s_psat in the agent config. */
export const k8sPsatAgentConfig = t.object({
  /** Must name a cluster of the server's `clusters`. */
  cluster: t.string({ pattern: CLUSTER_NAME }),
  /** The projected service-account token (audience = the server), re-read at every attestation. */
  token_path: t.string({ default: DEFAULT_AGENT_TOKEN_PATH, nonEmpty: true }),
});
export type K8sPsatAgentConfig = ReturnType<typeof k8sPsatAgentConfig.parse>;

/** The agent → server payload (JSON), as SPIRE's k8s_psat sends it. */
export interface K8sPsatPayload {
  cluster: string;
  token: string;
}
