import test, { type ExecutionContext } from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AttestationError } from '../../common/errors.ts';
import { memoryLogger } from '../../common/logger.ts';
import { ALG, HASHES } from '../../attestors/node/tpm/constants.ts';
import { eventTypeName } from '../../attestors/node/tpm/eventlog-constants.ts';
import { parseEventLog } from '../../attestors/node/tpm/eventlog.ts';
import { checkReplay, replayEventLog } from '../../attestors/node/tpm/eventlog-replay.ts';
import { eventLogFacts, eventLogSelectors } from '../../attestors/node/tpm/eventlog-facts.ts';
import { readEventLog } from '../../attestors/node/tpm/eventlog-source.ts';
import { decodeResponse, encodeResponse } from '../../attestors/node/tpm/protocol.ts';
import type { PcrValue } from '../../attestors/node/tpm/verify-quote.ts';
import { formatSelector } from '../../spiffe/selector.ts';
import { tempDir } from '../helpers/tmp.ts';
import { EV, IMAGES, TcgEventLogBuilder, tpm2Eventlog, typicalLog, type Tpm2EventlogView } from '../helpers/tcg-eventlog.ts';

/**
 * The event-log parser and replay without a TPM: every log is also parsed by tpm2_eventlog
 * (tpm2-tools), an independent parser, and both must agree on every event and PCR value.
 */

function throwsCode(t: ExecutionContext, f: () => unknown, code: string, message: RegExp): void {
  const e = t.throws(f, { instanceOf: AttestationError });
  t.is(e?.code, code, e?.message);
  t.regex(e!.message, message);
}

/** Asserts our parse (and, unless `pcrs` is false, our replay) equals tpm2_eventlog's, event by event and PCR by PCR. */
function agreesWithTpm2Tools(t: ExecutionContext, log: Buffer, pcrs = true): void {
  const { view, stderr } = tpm2Eventlog(log);
  if (!view) return t.fail(`tpm2_eventlog refused the log: ${stderr}`);
  const ours = parseEventLog(log);
  t.is(ours.events.length, view.events.length);
  for (const [i, e] of ours.events.entries()) {
    const theirs: Tpm2EventlogView['events'][number] = view.events[i]!;
    t.deepEqual({ num: e.num, pcr: e.pcr, type: eventTypeName(e.type) }, { num: theirs.num, pcr: theirs.pcr, type: theirs.type });
    t.deepEqual(Object.fromEntries(e.digests.map((d) => [HASHES[d.hashAlg]!.name, Buffer.from(d.digest).toString('hex')])), theirs.digests, `event ${e.num}`);
  }
  if (!pcrs) return;
  const mine: Record<string, Record<number, string>> = {};
  for (const [alg, bank] of replayEventLog(ours)) mine[HASHES[alg]!.name] = Object.fromEntries([...bank].map(([i, v]) => [i, v.toString('hex')]));
  t.deepEqual(mine, view.pcrs);
}

/** The replayed values as if a TPM had quoted them (bank `alg`, PCRs 0-7). */
function quotedFrom(log: Buffer, alg: number = ALG.SHA256, pcrs = [0, 1, 2, 3, 4, 5, 6, 7]): PcrValue[] {
  const bank = replayEventLog(parseEventLog(log)).get(alg)!;
  return pcrs.map((index) => ({ hashAlg: alg, index, value: bank.get(index) ?? Buffer.alloc(HASHES[alg]!.size) }));
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('parses and replays a typical UEFI log exactly as tpm2_eventlog does (sha1 + sha256)', (t) => {
  agreesWithTpm2Tools(t, typicalLog().build());
});

test('agrees with tpm2_eventlog on a 50 kB log with sha1, sha256, sha384 and sha512 banks', (t) => {
  const log = typicalLog({ targetBytes: 50_000, banks: ['sha1', 'sha256', 'sha384', 'sha512'] }).build();
  t.true(log.length >= 50_000);
  agreesWithTpm2Tools(t, log);
});

test('a StartupLocality event sets PCR 0\'s start value and is not itself extended', (t) => {
  const log = new TcgEventLogBuilder().startupLocality(3).event(0, EV.S_CRTM_VERSION, Buffer.from('1.0')).separator(0).build();
  // Same events as tpm2_eventlog; not the same PCR 0: tpm2-tools 5.4 extends EV_NO_ACTION events
  // and ignores the locality (tpm2-tools#3224 and #3146, fixed in 5.5 and 5.6), so PCR 0 is computed here.
  agreesWithTpm2Tools(t, log, false);
  const h = (...parts: Uint8Array[]) => parts.reduce((x, p) => x.update(p), createHash('sha256')).digest();
  const start = Buffer.alloc(32); start[31] = 3;
  const want = h(h(start, h(Buffer.from('1.0'))), h(Buffer.alloc(4)));
  t.is(replayEventLog(parseEventLog(log)).get(ALG.SHA256)!.get(0)!.toString('hex'), want.toString('hex'));
});

test('derives Secure Boot state, boot loader and boot applications from verified PCRs 4 and 7', (t) => {
  const log = typicalLog().build();
  const parsed = parseEventLog(log);
  const facts = eventLogFacts(parsed, checkReplay(replayEventLog(parsed), quotedFrom(log)));
  t.is(facts.secureBoot, 'enabled');
  t.deepEqual(facts.bootApps.get('sha256'), [sha256(IMAGES.shim), sha256(IMAGES.grub), sha256(IMAGES.kernel)]);
  t.false(facts.bootApps.has('sha1'), 'the sha1 bank was not quoted: its digests prove nothing');
  t.is(facts.eventTypes.EV_EFI_BOOT_SERVICES_APPLICATION, 3);
  t.is(facts.eventTypes.EV_SEPARATOR, 8);
  t.false('EV_NO_ACTION' in facts.eventTypes);
  t.deepEqual(eventLogSelectors(facts).map(formatSelector), [
    'tpm:secure_boot:enabled',
    `tpm:boot_loader:sha256:${sha256(IMAGES.shim)}`,
    `tpm:boot_app:sha256:${sha256(IMAGES.shim)}`,
    `tpm:boot_app:sha256:${sha256(IMAGES.grub)}`,
    `tpm:boot_app:sha256:${sha256(IMAGES.kernel)}`,
  ]);
});

test('reports Secure Boot disabled, and nothing from PCRs the quote does not cover', (t) => {
  const log = typicalLog({ secureBoot: false }).build();
  const parsed = parseEventLog(log);
  const all = eventLogFacts(parsed, checkReplay(replayEventLog(parsed), quotedFrom(log)));
  t.is(all.secureBoot, 'disabled');
  const without47 = eventLogFacts(parsed, checkReplay(replayEventLog(parsed), quotedFrom(log, ALG.SHA256, [0, 1, 2])));
  t.is(without47.secureBoot, 'unknown');
  t.is(without47.bootApps.size, 0);
  t.deepEqual(eventLogSelectors(without47), []);
});

test('refuses a SecureBoot event whose data does not hash to its digest', (t) => {
  const b = typicalLog({ secureBoot: false });
  const sb = b.events.find((e) => e.type === EV.EFI_VARIABLE_DRIVER_CONFIG)!;
  sb.data = Buffer.from(sb.data);
  sb.data[sb.data.length - 1] = 1; // claims enabled; the digests (replayed, quoted) are those of "disabled"
  const log = b.build();
  const parsed = parseEventLog(log);
  throwsCode(t, () => eventLogFacts(parsed, checkReplay(replayEventLog(parsed), quotedFrom(log))), 'ERR_TPM_EVENTLOG_EVENT_DATA',
    /event \d+ \(EV_EFI_VARIABLE_DRIVER_CONFIG, PCR 7\): the SecureBoot variable data does not hash to the event's sha256 digest/);
});

test('refuses a log that does not replay to the quote, naming the PCR and both values', (t) => {
  const good = typicalLog().build();
  const other = typicalLog({ secureBoot: false }).build();
  const parsed = parseEventLog(other);
  throwsCode(t, () => checkReplay(replayEventLog(parsed), quotedFrom(good)), 'ERR_TPM_EVENTLOG_REPLAY',
    /PCR sha256:7 replays to [0-9a-f]{64} but the quote shows [0-9a-f]{64}$/);
});

test('refuses a log truncated inside any event, naming the event and the field', (t) => {
  const log = typicalLog().build();
  // A cut between two events leaves a shorter well-formed log: only the replay can tell (next test).
  const boundaries = new Set([...parseEventLog(log).events.map((e) => e.offset), log.length]);
  let cuts = 0;
  for (let cut = 0; cut < log.length; cut++) {
    if (boundaries.has(cut)) continue;
    cuts++;
    const e = t.throws(() => parseEventLog(log.subarray(0, cut)), { instanceOf: AttestationError }, `cut at ${cut}`);
    if (e?.code !== 'ERR_TPM_EVENTLOG_MALFORMED' || !/^event log is truncated: event \d+ \(at byte \d+\) needs \d+ bytes for /.test(e.message)) {
      return t.fail(`cut at ${cut}: ${e?.code}: ${e?.message}`);
    }
  }
  t.true(cuts > 3000);
  t.is(tpm2Eventlog(log.subarray(0, log.length - 3)).view, undefined, 'tpm2_eventlog refuses it too');
});

test('a log cut at an event boundary parses but does not replay to the quote', (t) => {
  const log = typicalLog().build();
  const events = parseEventLog(log).events;
  const lastBootApp = events.filter((e) => e.type === EV.EFI_BOOT_SERVICES_APPLICATION).pop()!;
  const next = events[events.indexOf(lastBootApp) + 1]!;
  const cut = Buffer.concat([log.subarray(0, lastBootApp.offset), log.subarray(next.offset)]); // the kernel's event left out
  throwsCode(t, () => checkReplay(replayEventLog(parseEventLog(cut)), quotedFrom(log)), 'ERR_TPM_EVENTLOG_REPLAY', /^event log does not replay to the quoted PCRs: PCR sha256:4 replays to/);
});

test('refuses a digest algorithm the Spec ID event does not declare', (t) => {
  const b = new TcgEventLogBuilder(['sha256']).separator(0);
  b.raw({ pcr: 4, type: EV.SEPARATOR, data: Buffer.alloc(4), digests: [{ hashAlg: 0x0012, digest: Buffer.alloc(32) }] });
  throwsCode(t, () => parseEventLog(b.build()), 'ERR_TPM_EVENTLOG_DIGEST_ALG',
    /event 2 \(EV_SEPARATOR, at byte \d+\) has a digest of algorithm 0x0012, which the Spec ID event does not declare \(declared: sha256\)/);
});

test('skips a declared bank it cannot hash, but refuses a log with no bank it can', (t) => {
  const sm3 = { hashAlg: 0x0012, size: 32 };
  const mixed = new TcgEventLogBuilder(['sha256'], [sm3]).separator(0).build();
  t.deepEqual([...replayEventLog(parseEventLog(mixed)).keys()], [ALG.SHA256]);
  const only = new TcgEventLogBuilder([], [sm3]).separator(0).build();
  throwsCode(t, () => replayEventLog(parseEventLog(only)), 'ERR_TPM_EVENTLOG_DIGEST_ALG',
    /carries only digest algorithms this server cannot replay \(0x0012\); supported: sha1, sha256, sha384, sha512/);
});

test('refuses a known algorithm declared with the wrong digest size', (t) => {
  const log = new TcgEventLogBuilder(['sha1'], [{ hashAlg: ALG.SHA256, size: 20 }]).build();
  throwsCode(t, () => parseEventLog(log), 'ERR_TPM_EVENTLOG_DIGEST_ALG', /declares sha256 digests of 20 bytes; sha256 digests are 32 bytes/);
});

test('refuses an event that lacks a declared bank\'s digest', (t) => {
  const b = new TcgEventLogBuilder(['sha1', 'sha256']);
  b.raw({ pcr: 0, type: EV.SEPARATOR, data: Buffer.alloc(4), digests: [{ hashAlg: ALG.SHA256, digest: Buffer.alloc(32) }] });
  throwsCode(t, () => parseEventLog(b.build()), 'ERR_TPM_EVENTLOG_MALFORMED', /event 1 \(EV_SEPARATOR, at byte \d+\) carries 1 digests; the Spec ID event declares 2 \(sha1, sha256\)/);
});

test('refuses an oversized log before parsing, and a compressed one without inflating past the limit', (t) => {
  const log = typicalLog({ targetBytes: 50_000 }).build();
  throwsCode(t, () => parseEventLog(log, { maxBytes: 16 * 1024 }), 'ERR_TPM_EVENTLOG_TOO_LARGE', /event log is \d{5} bytes; at most 16384 are accepted/);
  // 64 MiB of zeros deflate to ~64 KiB: refused while inflating, at the limit.
  const bomb = encodeResponse({ secret: new Uint8Array(1), quote: new Uint8Array(1), signature: new Uint8Array(1), pcrs: [], eventLog: new Uint8Array(64 * 1024 * 1024) });
  t.true(bomb.length < 200 * 1024);
  throwsCode(t, () => decodeResponse(bomb), 'ERR_TPM_EVENTLOG_TOO_LARGE', /larger than the 1048576 bytes accepted/);
});

test('refuses logs that are not crypto-agile, or carry a malformed header', (t) => {
  // A SHA-1 (TCG 1.2 format) log starts with an extended event, not the Spec ID event.
  const sha1Log = Buffer.concat([Buffer.from([0, 0, 0, 0, 8, 0, 0, 0]), Buffer.alloc(20, 1), Buffer.from([0, 0, 0, 0])]);
  throwsCode(t, () => parseEventLog(sha1Log), 'ERR_TPM_EVENTLOG_MALFORMED', /does not start with the Spec ID event .*found EV_S_CRTM_VERSION in PCR 0/);
  const event00 = typicalLog().build();
  event00.write('Spec ID Event00', 32, 'latin1');
  throwsCode(t, () => parseEventLog(event00), 'ERR_TPM_EVENTLOG_MALFORMED', /SHA-1-only log \("Spec ID Event00"\)/);
  const badPcr = new TcgEventLogBuilder().event(24, EV.POST_CODE, Buffer.from('x')).build();
  throwsCode(t, () => parseEventLog(badPcr), 'ERR_TPM_EVENTLOG_MALFORMED', /event 1 \(EV_POST_CODE, at byte \d+\) is for PCR 24; PCRs are 0-23/);
  throwsCode(t, () => parseEventLog(new Uint8Array()), 'ERR_TPM_EVENTLOG_MALFORMED', /truncated: event 0/);
});

test('a log the quote cannot check proves nothing and is refused', (t) => {
  const log = typicalLog().build();
  throwsCode(t, () => checkReplay(replayEventLog(parseEventLog(log)), [{ hashAlg: ALG.SHA256, index: 10, value: Buffer.alloc(32, 7) }]),
    'ERR_TPM_EVENTLOG_UNVERIFIED', /the quote covers none of the PCRs the event log extends \(sha1:0, sha1:1, .*, sha256:6, sha256:7\); add them to the agent's pcrs/);
});

test('the agent sends its log file as it is, and warns instead of failing when it cannot send one', async (t) => {
  const dir = tempDir(t, 'evsrc-');
  const file = (name: string, bytes: Uint8Array) => { const p = join(dir, name); writeFileSync(p, bytes); return p; };
  const log = typicalLog({ targetBytes: 50_000 }).build();
  const logger = memoryLogger();
  t.true(Buffer.from((await readEventLog(file('log', log), logger))!).equals(log));
  t.is(await readEventLog(join(dir, 'absent'), logger), undefined);
  t.is(await readEventLog('', logger), undefined);
  t.is(await readEventLog(file('empty', new Uint8Array()), logger), undefined);
  t.is(await readEventLog(file('big', log), logger, 16 * 1024), undefined);
  // Incompressible bytes: 100 kB stays ~100 kB compressed, over the 44 KiB the response has room for.
  t.is(await readEventLog(file('noise', randomBytes(100_000)), logger), undefined);
  t.is(await readEventLog(dir, logger), undefined, 'a directory: EISDIR');
  const warned = logger.records.filter((r) => r.level === 'warn').map((r) => r.msg);
  t.deepEqual(warned, [
    'tpm event log is empty; attesting without it',
    'tpm event log is too large; attesting without it',
    'tpm event log does not fit in the attestation message; attesting without it',
    'cannot read the tpm event log; attesting without it',
  ]);
});
