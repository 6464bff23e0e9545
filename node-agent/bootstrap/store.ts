import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { writeSecretFile } from '../../common/private-files.ts';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { failedPrecondition } from '../../common/errors.ts';
import { bundleFromJson, bundleToJson, type TrustBundle } from './bundle.ts';
import { certificatesToPem, pemToDer } from '../../spiffe/pem.ts';
import type { AgentSvid } from './server-api.ts';

/**
 * The agent's data dir (0700; files 0600): its key, its SVID chain and the last
 * bundle, so a restarted agent resumes without re-attesting (a join token is single
 * use). Files are replaced atomically (write + rename), never half-written.
 */
export interface AgentState { svid: AgentSvid; bundle: TrustBundle }

const KEY = 'agent-key.pem';
const SVID = 'agent-svid.pem';
const BUNDLE = 'bundle.json';

export class AgentStore {
  constructor(readonly dir: string) {}

  /** Creates the directory 0700, or tightens an existing one it owns. */
  init(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const st = statSync(this.dir);
    if (!st.isDirectory()) throw failedPrecondition('ERR_DATA_DIR', `data dir ${this.dir} is not a directory`);
    if ((st.mode & 0o077) !== 0) chmodSync(this.dir, 0o700);
  }

  load(): AgentState | undefined {
    const paths = [KEY, SVID, BUNDLE].map((f) => join(this.dir, f));
    if (!paths.every((p) => existsSync(p))) return undefined;
    const key: KeyObject = createPrivateKey(readFileSync(paths[0]!, 'utf8'));
    const chain = pemToDer(readFileSync(paths[1]!, 'utf8'));
    const bundle = bundleFromJson(readFileSync(paths[2]!, 'utf8'));
    if (chain.length === 0) return undefined;
    return { svid: { key, chain }, bundle };
  }

  saveSvid(svid: AgentSvid): void {
    // Key first: a crash between the two writes leaves a new key with the old SVID, which fails the
    // key/cert check on load and falls back to re-attestation instead of using a mismatched pair.
    this.write(KEY, svid.key.export({ type: 'pkcs8', format: 'pem' }) as string);
    this.write(SVID, certificatesToPem(svid.chain));
  }

  saveBundle(b: TrustBundle): void { this.write(BUNDLE, bundleToJson(b)); }

  /** Forget the agent identity (after a ban or eviction): the next start must attest again. */
  clearSvid(): void {
    for (const f of [KEY, SVID]) rmSync(join(this.dir, f), { force: true });
  }

  private write(name: string, text: string): void {
    writeSecretFile(join(this.dir, name), text);
  }
}
