import { tmpdir } from 'node:os';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { spawnTs, type Proc } from '../helpers/proc.ts';
import type { Scope } from '../helpers/server.ts';
import { until } from '../helpers/agent-e2e.ts';
import { splitDerCertificates } from '../../spiffe/der.ts';

/** Drives test/fixtures/envoy-sds-client.ts (a separate process playing Envoy) for the sds-*.test.ts files. */
export interface SdsEvent {
  ev: 'ready' | 'response' | 'status' | 'end' | 'wapi' | 'bad-command';
  id?: string;
  at?: number;
  code?: number;
  details?: string;
  response?: { version_info: string; nonce: string; type_url: string; resources?: SecretJson[] };
  svids?: { spiffe_id: string; x509_svid: string; x509_svid_key: string; bundle: string }[];
}
export interface SecretJson {
  '@type': string;
  name: string;
  tls_certificate?: { certificate_chain: { inline_bytes: string }; private_key: { inline_bytes: string } };
  validation_context?: {
    trusted_ca?: { inline_bytes: string };
    custom_validator_config?: { name: string; typed_config: { '@type': string; trust_domains: { name: string; trust_bundle: { inline_bytes: string } }[] } };
  };
}

export interface EnvoyClient extends Proc {
  send(cmd: Record<string, unknown>): void;
  events(): SdsEvent[];
  /** The `n`th (0-based) event of stream/call `id`, waited for. */
  event(id: string, n?: number): Promise<SdsEvent>;
  count(id: string): number;
}

export async function envoyClient(t: Scope, socketPath: string, who: { uid: number; gid: number }): Promise<EnvoyClient> {
  const p = spawnTs(undefined, 'test/fixtures/envoy-sds-client.ts', [socketPath], {
    stdio: ['pipe', 'pipe', 'pipe'], uid: who.uid, gid: who.gid, env: { ...process.env, HOME: tmpdir() },
  });
  t.teardown(() => p.stop());
  await p.waitFor(/"ev":"ready"/, 90_000);
  const events = () => p.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as SdsEvent);
  const of = (id: string) => events().filter((e) => e.id === id);
  return Object.assign(p, {
    send: (cmd: Record<string, unknown>) => { p.child.stdin!.write(JSON.stringify(cmd) + '\n'); },
    events,
    event: (id: string, n = 0) => until(`event ${n} of ${id}`, () => of(id)[n]),
    count: (id: string) => of(id).length,
  });
}

export const b64 = (s: string) => Buffer.from(s, 'base64');
export const pemCerts = (pem: string) => [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map((m) => new X509Certificate(m[0]).raw);
/** DER certificates concatenated, as the Workload API sends them, split. */
export const derCerts = (der: Buffer) => splitDerCertificates(der).map((c) => Buffer.from(c));
/** Whether a PEM private key is the key of a certificate. */
export const keyMatches = (keyPem: string, cert: Buffer) =>
  createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' }).equals(new X509Certificate(cert).publicKey.export({ type: 'spki', format: 'der' }));
