import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock, type Clock } from '../../common/clock.ts';
import { createLogger, type LogFields } from '../../common/logger.ts';
import { SvidSigner } from '../../server/ca/signer.ts';
import { parseServerConfig } from '../../server/config.ts';
import { startServer, type RunningServer } from '../../server/main.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import { certificatesToPem } from '../../spiffe/pem.ts';
import { startTestIdp, type TestIdp } from '../helpers/test-idp.ts';
import { httpsCall, type HttpResult, type RequestOptions, type Scope, type Workload } from '../oauth/harness.ts';

/**
 * An in-process server with the oauth section (as test/oauth/harness.ts) that can be
 * stopped and started again on the same data dir and config: what a policy stored
 * before the restart must still decide after it. The listener port (so the issuer)
 * changes across a restart, and the server's clock returns to real time; tokens are
 * minted afresh.
 */
export interface RestartableEnv {
  server: RunningServer;
  idp: TestIdp;
  logs: LogFields[];
  advance(ms: number): void;
  svid(path: string): Workload;
  request(method: string, path: string, r?: RequestOptions): Promise<HttpResult>;
  restart(): Promise<void>;
}

export async function startRestartableEnv(scope: Scope): Promise<RestartableEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'tar-'));
  scope.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const idp = await startTestIdp(scope, { dir });
  let offset = 0;
  const clock: Clock = { now: () => Date.now() + offset, sleep: systemClock.sleep };
  const logs: LogFields[] = [];
  const logger = createLogger({ level: 'debug', write: (l) => { logs.push(JSON.parse(l)); } });
  const cfg = parseServerConfig({
    trust_domain: 'example.org', data_dir: dir, agent_api: { listen: '127.0.0.1:0' },
    oauth: { listen: '127.0.0.1:0', token_ttl: '2h', trusted_issuers: [{ issuer: idp.issuer, audience: 'tessera', groups_claim: 'groups', ca_file: idp.caFile }] },
  });
  let server = await startServer(cfg, { clock, logger });
  scope.teardown(() => server.stop());
  const env: RestartableEnv = {
    server, idp, logs,
    advance: (ms) => { offset += ms; },
    svid(path) {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const s = new SvidSigner(server.ca, clock).signX509({ spiffeId: SpiffeId.parse(`spiffe://example.org${path}`), publicKey, ttlSeconds: 3600 });
      return { id: `spiffe://example.org${path}`, key: privateKey, chain: s.chain, x5t: createHash('sha256').update(s.chain[0]!).digest('base64url') };
    },
    request: (method, path, r = {}) => httpsCall(server.oauthAddress!, certificatesToPem(server.ca.x509Authorities()), method, path, r),
    async restart() {
      await server.stop();
      // Back to real time: the new listener's certificate must be valid for the test's own TLS clients.
      offset = 0;
      server = await startServer(cfg, { clock, logger });
      env.server = server;
    },
  };
  return env;
}
