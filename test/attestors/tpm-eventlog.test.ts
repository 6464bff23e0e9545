import test, { type ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AttestationError, type ErrorKind } from '../../common/errors.ts';
import { silentLogger } from '../../common/logger.ts';
import { systemClock } from '../../common/clock.ts';
import { TrustDomain } from '../../spiffe/id.ts';
import { formatSelector } from '../../spiffe/selector.ts';
import { agentFactory, type TpmAttestorAgent } from '../../attestors/node/tpm/agent.ts';
import { serverFactory } from '../../attestors/node/tpm/server.ts';
import type { NodeAttestationContext, NodeAttestorServer } from '../../attestors/node/types.ts';
import { startSwtpm, type Swtpm } from '../helpers/swtpm.ts';
import { tempDir } from '../helpers/tmp.ts';
import { EV, IMAGES, TcgEventLogBuilder, extendLog, typicalLog } from '../helpers/tcg-eventlog.ts';

/**
 * Measured boot on a real (software) TPM: the test plays the firmware — it extends the
 * swtpm's PCRs with a crypto-agile log's digests and leaves the log where the agent reads
 * it — then the agent quotes and sends the log, and the server replays it against the quote.
 */

const td = TrustDomain.parse('example.org');
const deps = { logger: silentLogger, clock: systemClock, dataDir: '/nonexistent' };
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function makeServer(tpm: Swtpm, extra: Record<string, unknown> = {}): NodeAttestorServer {
  const config = { ek_ca_certs: [tpm.golden.rootCertPath], ek_intermediate_certs: [tpm.golden.intermediateCertPath], ...extra };
  return serverFactory.create(serverFactory.config.parse(config, 'node_attestors.tpm'), deps);
}

function ctxFor(agent: TpmAttestorAgent): NodeAttestationContext {
  return { trustDomain: td, now: () => Date.now(), challenge: (c) => agent.respond(c) };
}

/**
 * A swtpm booted through `booted` (its digests extended), and an agent whose event log
 * file holds `sent` (by default the same log; null: no file).
 */
async function measuredBoot(t: ExecutionContext, booted: TcgEventLogBuilder, o: { sent?: Uint8Array | null; pcrs?: string } = {}) {
  const tpm = await startSwtpm(t);
  await extendLog(tpm, booted);
  const path = join(tempDir(t, 'evlog-'), 'binary_bios_measurements');
  if (o.sent !== null) writeFileSync(path, o.sent ?? booted.build());
  const agent = agentFactory.create(agentFactory.config.parse({ tcti: tpm.tcti, timeout: '180s', event_log_path: path, pcrs: o.pcrs }, 'node_attestor.tpm'), deps) as TpmAttestorAgent;
  t.teardown(() => agent.close());
  return { tpm, agent, path };
}

async function rejects(t: ExecutionContext, p: Promise<unknown>, code: string, message: RegExp, kind: ErrorKind = 'permission_denied'): Promise<void> {
  const e = await t.throwsAsync(p, { instanceOf: AttestationError, code, message });
  t.is(e?.kind, kind);
}

test('a 50 kB event log replays to the quote of both banks; Secure Boot, boot loader and boot apps become selectors', async (t) => {
  const log = typicalLog({ targetBytes: 50_000, startupLocality: 0 });
  const { tpm, agent } = await measuredBoot(t, log, { pcrs: 'sha1:0-7+sha256:0-7' });
  const result = await makeServer(tpm, { event_log: { required: true } }).attest(await agent.payload(), ctxFor(agent));
  const sels = result.selectors.map(formatSelector);
  for (const s of [
    'tpm:secure_boot:enabled',
    `tpm:boot_loader:sha256:${sha256(IMAGES.shim)}`,
    ...[IMAGES.shim, IMAGES.grub, IMAGES.kernel].map((i) => `tpm:boot_app:sha256:${sha256(i)}`),
    `tpm:boot_loader:sha1:${createHash('sha1').update(IMAGES.shim).digest('hex')}`,
  ]) t.true(sels.includes(s), `${s} in\n${sels.join('\n')}`);
  const audit = result.audit!.event_log as Record<string, unknown>;
  t.is(audit.bytes, log.build().length);
  t.true((audit.bytes as number) >= 50_000);
  t.deepEqual(audit.replayed_pcrs, ['sha1:0', 'sha1:1', 'sha1:2', 'sha1:3', 'sha1:4', 'sha1:5', 'sha1:6', 'sha1:7', 'sha256:0', 'sha256:1', 'sha256:2', 'sha256:3', 'sha256:4', 'sha256:5', 'sha256:6', 'sha256:7']);
  t.is(audit.secure_boot, 'enabled');
  t.true((audit.event_types as Record<string, number>).EV_EFI_BOOT_SERVICES_DRIVER! > 100);
  t.is(audit.sha256, sha256(log.build()));
});

test('refuses a log that does not replay to the quote, naming the PCR', async (t) => {
  // The firmware measured Secure Boot on; the log the agent sends says off.
  const { tpm, agent } = await measuredBoot(t, typicalLog(), { sent: typicalLog({ secureBoot: false }).build() });
  await rejects(t, makeServer(tpm).attest(await agent.payload(), ctxFor(agent)), 'ERR_TPM_EVENTLOG_REPLAY',
    /^event log does not replay to the quoted PCRs: PCR sha256:7 replays to [0-9a-f]{64} but the quote shows [0-9a-f]{64}$/);
});

test('refuses a truncated log', async (t) => {
  const log = typicalLog();
  const bytes = log.build();
  const { tpm, agent } = await measuredBoot(t, log, { sent: bytes.subarray(0, bytes.length - 10) });
  await rejects(t, makeServer(tpm).attest(await agent.payload(), ctxFor(agent)), 'ERR_TPM_EVENTLOG_MALFORMED',
    /^event log is truncated: event 25 \(at byte \d+\) needs \d+ bytes for the event data at byte \d+, only \d+ remain$/, 'invalid_argument');
});

test('refuses a log with a digest of an algorithm it does not declare', async (t) => {
  const log = typicalLog({ banks: ['sha256'] });
  const bad = typicalLog({ banks: ['sha256'] }).raw({ pcr: 5, type: EV.SEPARATOR, data: Buffer.alloc(4), digests: [{ hashAlg: 0x0012, digest: Buffer.alloc(32) }] });
  const { tpm, agent } = await measuredBoot(t, log, { sent: bad.build() });
  await rejects(t, makeServer(tpm).attest(await agent.payload(), ctxFor(agent)), 'ERR_TPM_EVENTLOG_DIGEST_ALG',
    /event 26 \(EV_SEPARATOR, at byte \d+\) has a digest of algorithm 0x0012, which the Spec ID event does not declare \(declared: sha256\)/, 'invalid_argument');
});

test('refuses a log larger than event_log.max_bytes', async (t) => {
  const { tpm, agent } = await measuredBoot(t, typicalLog({ targetBytes: 50_000 }));
  await rejects(t, makeServer(tpm, { event_log: { max_bytes: 16384 } }).attest(await agent.payload(), ctxFor(agent)), 'ERR_TPM_EVENTLOG_TOO_LARGE',
    /event log is larger than the 16384 bytes accepted \(node_attestors\.tpm\.event_log\.max_bytes\)/, 'invalid_argument');
});

test('without a log file the agent sends none: fine unless the server requires one', async (t) => {
  const { tpm, agent } = await measuredBoot(t, typicalLog(), { sent: null });
  const plain = await makeServer(tpm).attest(await agent.payload(), ctxFor(agent));
  t.is(plain.audit!.event_log, undefined);
  t.false(plain.selectors.some((s) => /^(secure_boot|boot_app|boot_loader):/.test(s.value)));
  await rejects(t, makeServer(tpm, { event_log: { required: true } }).attest(await agent.payload(), ctxFor(agent)), 'ERR_TPM_EVENTLOG_MISSING',
    /requires the TPM event log \(node_attestors\.tpm\.event_log\) but the agent sent none/);
});

test('enforces require_secure_boot and allowed_boot_apps against the verified log', async (t) => {
  const { tpm, agent } = await measuredBoot(t, typicalLog({ secureBoot: false }));
  const attest = async (eventLog: Record<string, unknown>) => makeServer(tpm, { event_log: eventLog }).attest(await agent.payload(), ctxFor(agent));
  await rejects(t, attest({ require_secure_boot: true }), 'ERR_TPM_EVENTLOG_POLICY',
    /secure boot is required \(event_log\.require_secure_boot\) but the event log shows SecureBoot disabled/);
  const approved = [sha256(IMAGES.shim), sha256(IMAGES.grub)];
  await rejects(t, attest({ allowed_boot_apps: approved }), 'ERR_TPM_EVENTLOG_POLICY',
    new RegExp(`boot application 3 of 3 in PCR 4 \\(sha256 ${sha256(IMAGES.kernel)}\\) is not in event_log\\.allowed_boot_apps`));
  const ok = await attest({ allowed_boot_apps: [...approved, sha256(IMAGES.kernel).toUpperCase()] });
  t.true(ok.selectors.map(formatSelector).includes('tpm:secure_boot:disabled'));
});

test('refuses a log when the quote covers none of the PCRs it extends', async (t) => {
  const { tpm, agent } = await measuredBoot(t, typicalLog({ banks: ['sha256'] }), { pcrs: 'sha256:10' });
  await rejects(t, makeServer(tpm).attest(await agent.payload(), ctxFor(agent)), 'ERR_TPM_EVENTLOG_UNVERIFIED',
    /the quote covers none of the PCRs the event log extends \(sha256:0, .*sha256:7\); add them to the agent's pcrs/);
});

test('a quoted PCR the log never extends is reported unexplained, not refused', async (t) => {
  const log = new TcgEventLogBuilder(['sha256']).secureBoot(true).separator(7);
  const { tpm, agent } = await measuredBoot(t, log, { pcrs: 'sha256:7,9' });
  // Before the agent connects (swtpm serves one client at a time), PCR 9 moves outside the firmware log (as GRUB's measurements do on hosts whose log lacks them).
  await extendLog(tpm, new TcgEventLogBuilder(['sha256']).event(9, EV.IPL, Buffer.from('grub_cmd: linux')));
  const result = await makeServer(tpm).attest(await agent.payload(), ctxFor(agent));
  const audit = result.audit!.event_log as Record<string, unknown>;
  t.deepEqual(audit.replayed_pcrs, ['sha256:7']);
  t.deepEqual(audit.unexplained_pcrs, ['sha256:9']);
  t.true(result.selectors.map(formatSelector).includes('tpm:secure_boot:enabled'));
});
