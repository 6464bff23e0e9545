import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadServerConfig } from '../../server/config.ts';
import { parseAgentConfig } from '../../node-agent/config.ts';
import { tempDir } from '../helpers/tmp.ts';
import { ROOT } from '../helpers/proc.ts';
import { K8S_DIR, allows, containerfile, find, label, loadManifests, manifestFiles, modelModule, unknownFieldErrors } from './manifests.ts';

/**
 * deploy/kubernetes against the Kubernetes API schemas (kubernetes-models), and against
 * Tessera itself: the ConfigMaps are parsed by the real config loaders, and what the
 * configs name (ports, paths, cluster, audience, accounts) is what the manifests provide.
 */
const ms = loadManifests();
const serverSts = find(ms, 'StatefulSet', 'tessera-server');
const agentDs = find(ms, 'DaemonSet', 'tessera-agent');
const serverYaml = find(ms, 'ConfigMap', 'tessera-server').data['server.yaml'] as string;
const agentYaml = find(ms, 'ConfigMap', 'tessera-agent').data['agent.yaml'] as string;
const serverRaw = parseYaml(serverYaml), agentRaw = parseYaml(agentYaml);
const container = (w: Record<string, any>) => w.spec.template.spec.containers[0];
const port = (listen: string) => Number(listen.slice(listen.lastIndexOf(':') + 1));

test('kustomization.yaml applies every manifest in deploy/kubernetes', (t) => {
  const k = parseYaml(readFileSync(join(K8S_DIR, 'kustomization.yaml'), 'utf8'));
  t.deepEqual([...k.resources].sort(), manifestFiles());
  t.true(ms.length >= 12, `${ms.length} objects`);
});

for (const m of ms) {
  test(`${label(m)} validates against the Kubernetes ${m.doc.apiVersion} ${m.doc.kind} schema`, async (t) => {
    const mod = await import(modelModule(m.doc.apiVersion, m.doc.kind)) as Record<string, new (d: unknown) => { validate(): void }>;
    const Model = mod[m.doc.kind];
    if (!Model) return t.fail(`kubernetes-models has no ${m.doc.apiVersion} ${m.doc.kind}`);
    t.notThrows(() => new Model(m.doc).validate());
    t.truthy(m.doc.metadata?.name);
    if (!['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(m.doc.kind)) t.is(m.doc.metadata.namespace, 'tessera');
  });
}

test('no manifest sets a field the Kubernetes API does not have', (t) => {
  t.deepEqual(unknownFieldErrors(ms), []);
});

test('a manifest with a misspelt field or a wrongly typed value is caught', async (t) => {
  const bad = structuredClone(serverSts);
  bad.spec.template.spec.containers[0].readinessProbe.httpGet.paht = '/ready';
  t.regex(unknownFieldErrors([{ file: 'x.yaml', index: 0, doc: bad }]).join('\n'), /'"paht"' does not exist in type 'IHTTPGetAction'/);
  const { StatefulSet } = await import('kubernetes-models/apps/v1/StatefulSet');
  const wrong = structuredClone(serverSts);
  wrong.spec.replicas = 'one';
  t.throws(() => new StatefulSet(wrong).validate(), { message: /replicas must be integer/ });
});

test('the server ConfigMap is a tessera-server config: every key exists, and metrics listen on 9988', (t) => {
  const path = join(tempDir(t, 'kcm-'), 'server.yaml');
  writeFileSync(path, serverYaml);
  const c = loadServerConfig(path) as unknown as Record<string, any>;
  t.is(c.trust_domain.name, 'example.org');
  t.is(c.metrics?.listen, '0.0.0.0:9988');
  t.deepEqual(Object.keys(c.node_attestors), ['k8s_psat']);
  t.deepEqual(c.node_attestors.k8s_psat.clusters['example-cluster'].service_account_allow_list, ['tessera:tessera-agent']);
});

test('the agent ConfigMap is a tessera-agent config: every key exists, k8s_psat and the k8s workload attestor on', (t) => {
  const c = parseAgentConfig(agentRaw) as unknown as Record<string, any>;
  t.is(c.nodeAttestor.method, 'k8s_psat');
  t.deepEqual(Object.keys(c.workloadAttestors).sort(), ['k8s', 'unix']);
  t.is(c.metrics?.listen, '0.0.0.0:9988');
  t.is(c.trustDomain.name, serverRaw.trust_domain);
});

test('the agent attests to a cluster the server knows, with a token projected for the server\'s audience by an allowed account', (t) => {
  const cluster = serverRaw.node_attestors.k8s_psat.clusters[agentRaw.node_attestor.k8s_psat.cluster];
  t.truthy(cluster, `server has no cluster ${agentRaw.node_attestor.k8s_psat.cluster}`);
  const pod = agentDs.spec.template.spec;
  t.true(cluster.service_account_allow_list.includes(`${agentDs.metadata.namespace}:${pod.serviceAccountName}`));
  const tokenPath: string = agentRaw.node_attestor.k8s_psat.token_path;
  const mount = container(agentDs).volumeMounts.find((v: any) => tokenPath.startsWith(v.mountPath + '/'));
  t.truthy(mount, `no mount holds ${tokenPath}`);
  const projected = pod.volumes.find((v: any) => v.name === mount.name).projected.sources[0].serviceAccountToken;
  t.is(posix.join(mount.mountPath, projected.path), tokenPath);
  t.true(cluster.audience.includes(projected.audience), `${projected.audience} in ${cluster.audience}`);
  t.true(projected.expirationSeconds >= 600, 'the API server refuses shorter projections');
});

test('the agent finds the server through its Service, and the Service through the StatefulSet\'s labels', (t) => {
  const svc = find(ms, 'Service', 'tessera-server');
  const [host, p] = (agentRaw.server_address as string).split(':');
  t.is(host, `${svc.metadata.name}.${svc.metadata.namespace}.svc`);
  const sp = svc.spec.ports.find((x: any) => x.port === Number(p));
  t.truthy(sp, `Service has no port ${p}`);
  const cp = container(serverSts).ports.find((x: any) => x.name === sp.targetPort);
  t.is(cp.containerPort, port(serverRaw.agent_api.listen));
  t.like(serverSts.spec.template.metadata.labels, svc.spec.selector);
  t.is(find(ms, 'Service', serverSts.spec.serviceName).spec.clusterIP, 'None');
});

test('probes ask /live and /ready of the metrics listener the configs open', (t) => {
  for (const [w, raw] of [[serverSts, serverRaw], [agentDs, agentRaw]] as const) {
    const c = container(w);
    const metrics = c.ports.find((x: any) => x.name === 'metrics');
    t.is(metrics.containerPort, port(raw.metrics.listen));
    t.is(metrics.containerPort, 9988);
    t.deepEqual(c.readinessProbe.httpGet, { path: '/ready', port: 'metrics' });
    t.deepEqual(c.livenessProbe.httpGet, { path: '/live', port: 'metrics' });
    t.truthy(c.startupProbe, `${w.metadata.name} has a startup probe`);
  }
});

test('every path the configs use lies on a volume its container mounts', (t) => {
  const mountOf = (w: Record<string, any>, path: string) => {
    const mounts = container(w).volumeMounts as { name: string; mountPath: string; readOnly?: boolean }[];
    return mounts.filter((v) => path === v.mountPath || path.startsWith(v.mountPath + '/')).sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  };
  const volume = (w: Record<string, any>, name: string) => w.spec.template.spec.volumes?.find((v: any) => v.name === name);
  // The server makes its data dir 0700 itself, which it may not do to the volume's root.
  const data = mountOf(serverSts, serverRaw.data_dir);
  t.truthy(data);
  t.not(data!.mountPath, serverRaw.data_dir);
  t.true(serverSts.spec.volumeClaimTemplates.some((v: any) => v.metadata.name === data!.name), 'server data is on the PVC');
  t.is(mountOf(serverSts, '/etc/tessera/server.yaml')!.name, 'config');
  t.deepEqual(container(serverSts).command.slice(-2), ['--config', '/etc/tessera/server.yaml']);

  const hostPath = (path: string) => volume(agentDs, mountOf(agentDs, path)!.name)?.hostPath?.path;
  t.is(hostPath(agentRaw.data_dir), '/var/lib/tessera/agent', 'agent identity survives pod restarts');
  t.is(hostPath(dirname(agentRaw.socket_path)), '/run/tessera/sockets', 'workloads reach the socket through the host');
  t.is(volume(agentDs, mountOf(agentDs, agentRaw.trust_bundle_path)!.name).configMap.name, 'tessera-bundle');
  for (const p of [agentRaw.data_dir, dirname(agentRaw.socket_path)]) t.not(mountOf(agentDs, p)!.readOnly, true, p);
  t.deepEqual(container(agentDs).command.slice(-2), ['--config', '/etc/tessera/agent.yaml']);
  t.is(mountOf(agentDs, '/etc/tessera/agent.yaml')!.name, 'config');
});

test('the agent pod sees host pids and the kubelet the k8s workload attestor calls', (t) => {
  const pod = agentDs.spec.template.spec;
  t.true(pod.hostPID);
  t.is(agentRaw.workload_attestors.k8s.kubelet_host, '127.0.0.1');
  t.true(pod.hostNetwork, 'the kubelet listens on the node\'s 127.0.0.1');
  t.is(pod.dnsPolicy, 'ClusterFirstWithHostNet', 'and the Service name still resolves');
});

test('RBAC: the server may review tokens and read pods and nodes; the agent may list the kubelet\'s pods', (t) => {
  const boundRules = (sa: string) => ms.filter((m) => m.doc.kind === 'ClusterRoleBinding'
    && m.doc.subjects.some((s: any) => s.kind === 'ServiceAccount' && s.name === sa && s.namespace === 'tessera'))
    .flatMap((b) => find(ms, b.doc.roleRef.kind, b.doc.roleRef.name).rules);
  const server = boundRules(serverSts.spec.template.spec.serviceAccountName);
  t.true(allows(server, 'authentication.k8s.io', 'tokenreviews', 'create'));
  t.true(allows(server, '', 'pods', 'get'));
  t.true(allows(server, '', 'nodes', 'get'));
  const agent = boundRules(agentDs.spec.template.spec.serviceAccountName);
  t.true(allows(agent, '', 'nodes/proxy', 'get'));
  t.false(allows(agent, 'authentication.k8s.io', 'tokenreviews', 'create'), 'the agent needs no more');
  for (const sa of [serverSts, agentDs].map((w) => w.spec.template.spec.serviceAccountName)) t.truthy(find(ms, 'ServiceAccount', sa));
});

test('the Containerfile: two stages on node:20-bookworm-slim, a non-root user the server runs as, and the bins the manifests start', (t) => {
  const ins = containerfile();
  const froms = ins.filter((i) => i.op === 'FROM');
  t.is(froms.length, 2);
  for (const f of froms) t.regex(f.args, /^node:20-bookworm-slim( AS \w+)?$/);
  const final = ins.filter((i) => i.stage === froms.length);
  const user = final.filter((i) => i.op === 'USER').at(-1)!.args;
  t.is(user, '10001:10001');
  t.regex(final.filter((i) => i.op === 'RUN').map((i) => i.args).join(' '), /useradd --system --uid 10001 --gid tessera .*install -d -o tessera -g tessera -m 0700 \/var\/lib\/tessera/);
  const sc = serverSts.spec.template.spec.securityContext;
  t.is(`${sc.runAsUser}:${sc.runAsGroup}`, user);
  t.true(sc.runAsNonRoot);
  const links = final.filter((i) => i.op === 'RUN').map((i) => i.args).join(' ');
  for (const w of [serverSts, agentDs]) t.regex(links, new RegExp(`ln -s /opt/tessera/bin/${container(w).command[0]}\\.js /usr/local/bin/${container(w).command[0]}\\b`));
  for (const w of [serverSts, agentDs]) t.is(container(w).image, 'tessera:0.1.0');
});

test('the Containerfile installs a Debian package for every tpm2-tss library the TPM attestor loads', (t) => {
  const ffi = readFileSync(join(ROOT, 'attestors/node/tpm/esys/ffi.ts'), 'utf8');
  const libs = [...ffi.matchAll(/koffi\.load\('([^']+)'\)/g)].map((m) => m[1]!);
  t.true(libs.length >= 4, libs.join(', '));
  // bookworm's package for each soname (tpm2-tss 3.2.1).
  const PACKAGE: Record<string, string> = {
    'libtss2-esys.so.0': 'libtss2-esys-3.0.2-0', 'libtss2-tctildr.so.0': 'libtss2-tctildr0',
    'libtss2-mu.so.0': 'libtss2-mu0', 'libtss2-rc.so.0': 'libtss2-rc0',
  };
  const ins = containerfile();
  const installs = ins.filter((i) => i.stage === 2 && i.op === 'RUN' && i.args.includes('apt-get install')).map((i) => i.args).join(' ');
  for (const lib of libs) {
    t.truthy(PACKAGE[lib], `no package known for ${lib}`);
    t.true(installs.split(/\s+/).includes(PACKAGE[lib]!), `${PACKAGE[lib]} (${lib})`);
  }
  t.true(installs.split(/\s+/).includes('libtss2-tcti-device0'), 'the TCTI for /dev/tpmrm0');
});
