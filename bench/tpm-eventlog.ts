/**
 * TCG event-log replay time (docs/tpm.md), all measured in this run on the same bytes:
 * a ~50 kB crypto-agile log (sha1 + sha256 banks, shaped like a UEFI machine's with
 * option ROMs, a dbx and shim → GRUB → kernel; test/helpers/tcg-eventlog.ts).
 *
 *   parse       parseEventLog: header, every TCG_PCR_EVENT2, bounds checks
 *   replay      replayEventLog: every extend of every bank (one hash per digest)
 *   verify      what the server does per attestation after the quote: inflate the wire
 *               form, parse, replay, check against the quoted PCRs (sha256:0-7), facts
 *   sha256      raw SHA-256 of the same log bytes, the yardstick: ratio = verify / sha256
 *
 * Median and p99 of N runs each after a warm-up; no TPM, no network.
 * Run: node --import tsx bench/tpm-eventlog.ts   (optional: BENCH_RUNS=500)
 */
import { createHash } from 'node:crypto';
import { deflateSync, inflateSync } from 'node:zlib';
import { ALG } from '../attestors/node/tpm/constants.ts';
import { parseEventLog } from '../attestors/node/tpm/eventlog.ts';
import { replayEventLog } from '../attestors/node/tpm/eventlog-replay.ts';
import { verifyEventLog } from '../attestors/node/tpm/eventlog-verify.ts';
import { DEFAULT_EVENT_LOG_SETTINGS } from '../attestors/node/tpm/config.ts';
import type { PcrValue } from '../attestors/node/tpm/verify-quote.ts';
import { typicalLog } from '../test/helpers/tcg-eventlog.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 500);
const WARMUP = 50;

const log = typicalLog({ targetBytes: 50_000 }).build();
const wire = deflateSync(log);
const parsed = parseEventLog(log);
const bank = replayEventLog(parsed).get(ALG.SHA256)!;
const quoted: PcrValue[] = [0, 1, 2, 3, 4, 5, 6, 7].map((index) => ({ hashAlg: ALG.SHA256, index, value: bank.get(index)! }));

function measure(f: () => unknown): { p50: number; p99: number } {
  for (let i = 0; i < WARMUP; i++) f();
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    f();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { p50: ms[Math.floor(ms.length / 2)]!, p99: ms[Math.min(ms.length - 1, Math.floor(ms.length * 0.99))]! };
}

const parse = measure(() => parseEventLog(log));
const replay = measure(() => replayEventLog(parsed));
const verify = measure(() => {
  const m = verifyEventLog(new Uint8Array(inflateSync(wire)), quoted, DEFAULT_EVENT_LOG_SETTINGS);
  if (m?.facts.secureBoot !== 'enabled') throw new Error('bench log did not verify');
});
const sha256 = measure(() => createHash('sha256').update(log).digest());

const round = (v: number) => Math.round(v * 1000) / 1000;
console.log(JSON.stringify({
  log_bytes: log.length,
  wire_bytes: wire.length,
  events: parsed.events.length,
  extends: parsed.events.length * parsed.header.algorithms.length,
  runs: RUNS,
  ms: {
    parse: { p50: round(parse.p50), p99: round(parse.p99) },
    replay: { p50: round(replay.p50), p99: round(replay.p99) },
    verify: { p50: round(verify.p50), p99: round(verify.p99) },
    sha256_raw: { p50: round(sha256.p50), p99: round(sha256.p99) },
  },
  ratio_verify_to_sha256_p50: Math.round((verify.p50 / sha256.p50) * 10) / 10,
}, null, 2));
