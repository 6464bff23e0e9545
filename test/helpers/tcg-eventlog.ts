import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ALG, HASHES, type HashName } from '../../attestors/node/tpm/constants.ts';
import { withEsys, type Swtpm } from './swtpm.ts';

/**
 * Builds crypto-agile TCG PC Client event logs (PFP §10.2) for tests, byte by byte from
 * the spec rather than through the parser under test, and extends a TPM the way the
 * firmware that wrote such a log would have. tpm2_eventlog checks the bytes independently.
 */

/** Event types used here (PFP §10.4.1). */
export const EV = {
  NO_ACTION: 0x3, SEPARATOR: 0x4, POST_CODE: 0x1, S_CRTM_VERSION: 0x8, PLATFORM_CONFIG_FLAGS: 0xa, IPL: 0xd,
  EFI_VARIABLE_DRIVER_CONFIG: 0x80000001, EFI_VARIABLE_BOOT: 0x80000002, EFI_BOOT_SERVICES_APPLICATION: 0x80000003,
  EFI_BOOT_SERVICES_DRIVER: 0x80000004, EFI_ACTION: 0x80000007, EFI_PLATFORM_FIRMWARE_BLOB: 0x80000008,
  EFI_HANDOFF_TABLES: 0x80000009, EFI_VARIABLE_AUTHORITY: 0x800000e0,
} as const;

/** GUIDs in their in-memory form. */
export const GUID = {
  EFI_GLOBAL_VARIABLE: guid('8be4df61-93ca-11d2-aa0d-00e098032b8c'),
  EFI_IMAGE_SECURITY_DATABASE: guid('d719b2cb-3d3a-4596-a3bc-dad00e67656f'),
  EFI_CERT_SHA256: guid('c1c41626-504c-4092-aca9-41f936934328'),
  MICROSOFT_OWNER: guid('77fa9abd-0359-4d32-bd60-28f4e78f784b'),
};

export interface RawDigest { hashAlg: number; digest: Uint8Array }
export interface RawEvent { pcr: number; type: number; digests: RawDigest[]; data: Uint8Array }

const le32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return b; };
const le16 = (v: number) => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return b; };
const le64 = (v: number) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); return b; };
const utf16 = (s: string) => Buffer.from(s, 'utf16le');

function guid(s: string): Buffer {
  const h = s.replace(/-/g, '');
  const swap = (x: string) => Buffer.from(x, 'hex').reverse();
  return Buffer.concat([swap(h.slice(0, 8)), swap(h.slice(8, 12)), swap(h.slice(12, 16)), Buffer.from(h.slice(16), 'hex')]);
}

export class TcgEventLogBuilder {
  readonly events: RawEvent[] = [];
  private readonly algs: { hashAlg: number; size: number }[];

  /** `banks`: the log's digest algorithms; `extraAlgorithms`: further declared ones (by id and size), e.g. one no verifier knows. */
  constructor(readonly banks: HashName[] = ['sha1', 'sha256'], extraAlgorithms: { hashAlg: number; size: number }[] = []) {
    this.algs = [...banks.map((b) => ({ hashAlg: algOf(b), size: HASHES[algOf(b)]!.size })), ...extraAlgorithms];
  }

  /** Any event, digests given as they are (for malformed logs). */
  raw(e: RawEvent): this { this.events.push(e); return this; }

  /** An event whose digest in every bank is H(`digestOf`), by default H(data). */
  event(pcr: number, type: number, data: Uint8Array, digestOf: Uint8Array = data): this {
    const digests = this.algs.map((a) => ({
      hashAlg: a.hashAlg,
      digest: HASHES[a.hashAlg] ? createHash(HASHES[a.hashAlg]!.name).update(digestOf).digest() : Buffer.alloc(a.size, 0xee),
    }));
    return this.raw({ pcr, type, digests, data });
  }

  /** EV_NO_ACTION "StartupLocality" (TPM2_Startup at `locality`): PCR 0 starts at 0…0<locality>. */
  startupLocality(locality: number): this {
    const digests = this.algs.map((a) => ({ hashAlg: a.hashAlg, digest: Buffer.alloc(a.size) }));
    return this.raw({ pcr: 0, type: EV.NO_ACTION, digests, data: Buffer.concat([Buffer.from('StartupLocality\0', 'latin1'), Buffer.from([locality])]) });
  }

  /** A UEFI variable event: data UEFI_VARIABLE_DATA, digest H(UEFI_VARIABLE_DATA) as PFP §10.4.4 says. */
  variable(pcr: number, type: number, name: string, value: Uint8Array, vendor: Uint8Array = GUID.EFI_GLOBAL_VARIABLE): this {
    const data = Buffer.concat([vendor, le64(name.length), le64(value.length), utf16(name), value]);
    return this.event(pcr, type, data);
  }

  secureBoot(enabled: boolean): this {
    return this.variable(7, EV.EFI_VARIABLE_DRIVER_CONFIG, 'SecureBoot', Buffer.from([enabled ? 1 : 0]));
  }

  /** A signature database (db/dbx) of `hashes` SHA-256 entries, one EFI_SIGNATURE_LIST. */
  signatureDb(name: 'db' | 'dbx' | 'KEK' | 'PK', hashes: Uint8Array[]): this {
    const entries = hashes.map((h) => Buffer.concat([GUID.MICROSOFT_OWNER, h]));
    const list = Buffer.concat([GUID.EFI_CERT_SHA256, le32(28 + entries.length * 48), le32(0), le32(48), ...entries]);
    const vendor = name === 'db' || name === 'dbx' ? GUID.EFI_IMAGE_SECURITY_DATABASE : GUID.EFI_GLOBAL_VARIABLE;
    return this.variable(7, EV.EFI_VARIABLE_DRIVER_CONFIG, name, list, vendor);
  }

  /**
   * An image started through LoadImage: EV_EFI_BOOT_SERVICES_APPLICATION (PCR 4) or
   * _DRIVER (PCR 2). The real digest is the image's Authenticode hash; here it is
   * H(`image`), so a test knows what to expect: `sha256(image)`.
   */
  image(image: Uint8Array, path: string, kind: 'application' | 'driver' = 'application'): this {
    const node = Buffer.concat([Buffer.from([4, 4]), le16(4 + (path.length + 1) * 2), utf16(`${path}\0`)]);
    const devicePath = Buffer.concat([node, Buffer.from([0x7f, 0xff, 4, 0])]);
    const data = Buffer.concat([le64(0x7000_0000), le64(image.length), le64(0), le64(devicePath.length), devicePath]);
    return kind === 'application'
      ? this.event(4, EV.EFI_BOOT_SERVICES_APPLICATION, data, image)
      : this.event(2, EV.EFI_BOOT_SERVICES_DRIVER, data, image);
  }

  separator(pcr: number): this { return this.event(pcr, EV.SEPARATOR, Buffer.alloc(4)); }

  action(pcr: number, text: string): this { return this.event(pcr, EV.EFI_ACTION, Buffer.from(text, 'latin1')); }

  /** The binary log: the Spec ID event, then every event as TCG_PCR_EVENT2. */
  build(): Buffer {
    const spec = Buffer.concat([
      Buffer.from('Spec ID Event03\0', 'latin1'), le32(0), Buffer.from([0, 2, 0, 2]), le32(this.algs.length),
      ...this.algs.map((a) => Buffer.concat([le16(a.hashAlg), le16(a.size)])), Buffer.from([0]),
    ]);
    const parts = [le32(0), le32(EV.NO_ACTION), Buffer.alloc(20), le32(spec.length), spec];
    for (const e of this.events) {
      parts.push(le32(e.pcr), le32(e.type), le32(e.digests.length));
      for (const d of e.digests) parts.push(le16(d.hashAlg), Buffer.from(d.digest));
      parts.push(le32(e.data.length), Buffer.from(e.data));
    }
    return Buffer.concat(parts);
  }
}

const algOf = (b: HashName): number => ({ sha1: ALG.SHA1, sha256: ALG.SHA256, sha384: ALG.SHA384, sha512: ALG.SHA512 })[b];

/** Boot images of the typical shim → GRUB → EFI-stub kernel chain (stand-in bytes). */
export const IMAGES = { shim: Buffer.from('shimx64.efi 15.8'), grub: Buffer.from('grubx64.efi 2.12'), kernel: Buffer.from('vmlinuz-6.1.0-tessera') };

/**
 * A log shaped like a UEFI machine's with shim, GRUB and a kernel under Secure Boot:
 * CRTM and firmware blobs in PCR 0, boot variables in 1, option ROM drivers in 2, the
 * Secure Boot policy and a dbx in 7, separators, the three boot applications in 4.
 * `startupLocality` adds a StartupLocality event first. Option ROM drivers are added
 * until the log is at least `targetBytes`. The same options give the same bytes.
 */
export function typicalLog(opts: { targetBytes?: number; secureBoot?: boolean; banks?: HashName[]; startupLocality?: number } = {}): TcgEventLogBuilder {
  const b = new TcgEventLogBuilder(opts.banks ?? ['sha1', 'sha256']);
  // tpm2-tools 5.4 replays EV_NO_ACTION events as extends (tpm2-tools#3224): logs for it carry none.
  if (opts.startupLocality !== undefined) b.startupLocality(opts.startupLocality);
  b.event(0, EV.S_CRTM_VERSION, utf16('1.0.0\0'));
  for (let i = 0; i < 3; i++) b.event(0, EV.EFI_PLATFORM_FIRMWARE_BLOB, Buffer.concat([le64(0xffd0_0000 + i * 0x10000), le64(0x10000)]), Buffer.from(`fv-${i}`));
  b.secureBoot(opts.secureBoot ?? true);
  b.signatureDb('PK', [hashOf('pk')]).signatureDb('KEK', [hashOf('kek')]).signatureDb('db', [hashOf('db-1'), hashOf('db-2')]);
  b.signatureDb('dbx', Array.from({ length: 40 }, (_, i) => hashOf(`revoked-${i}`)));
  b.variable(1, EV.EFI_VARIABLE_BOOT, 'BootOrder', Buffer.from([0, 0, 1, 0]));
  b.variable(1, EV.EFI_VARIABLE_BOOT, 'Boot0000', Buffer.concat([le32(1), le16(8), utf16('debian\0'), Buffer.from([0x7f, 0xff, 4, 0])]));
  for (let pcr = 0; pcr <= 7; pcr++) if (pcr !== 4) b.separator(pcr);
  b.action(4, 'Calling EFI Application from Boot Option').separator(4);
  b.image(IMAGES.shim, '\\EFI\\debian\\shimx64.efi').image(IMAGES.grub, '\\EFI\\debian\\grubx64.efi').image(IMAGES.kernel, '\\vmlinuz-6.1.0-tessera');
  b.action(5, 'Exit Boot Services Invocation').action(5, 'Exit Boot Services Returned with Success');
  for (let i = 0; (opts.targetBytes ?? 0) > b.build().length; i++) {
    b.image(createHash('sha512').update(`option-rom-${i}`).digest(), `\\Pci(0x1c,0x${(i % 8).toString(16)})\\Pci(0x0,0x0)\\OptionRom${i}.efi`, 'driver');
  }
  return b;
}

const hashOf = (s: string) => createHash('sha256').update(s).digest();

/** Extends every extended event's digests into `tpm`, bank by bank, as the firmware would have. */
export async function extendLog(tpm: Swtpm, log: TcgEventLogBuilder): Promise<void> {
  await withEsys(tpm, (esys) => {
    for (const e of log.events) {
      if (e.type === EV.NO_ACTION) continue;
      for (const d of e.digests) if (HASHES[d.hashAlg]) esys.pcrExtend(e.pcr, d.hashAlg, d.digest);
    }
  });
}

/** What tpm2_eventlog made of a log: every event after the Spec ID event, and its replayed PCRs. */
export interface Tpm2EventlogView {
  events: { num: number; pcr: number; type: string; digests: Record<string, string> }[];
  /** bank name → PCR index → lowercase hex. */
  pcrs: Record<string, Record<number, string>>;
}

/** Runs tpm2_eventlog (tpm2-tools) on `log`; `view` is undefined when it refuses the log. */
export function tpm2Eventlog(log: Uint8Array): { view?: Tpm2EventlogView; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tcg-log-'));
  try {
    const file = join(dir, 'binary_bios_measurements');
    writeFileSync(file, log);
    const r = spawnSync('tpm2_eventlog', [file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0) return { stderr: `${r.stderr}${r.error?.message ?? ''}` };
    // Failsafe schema: every scalar stays a string (YAML would read 0x… digests as numbers).
    type Raw = {
      events: { EventNum: string; PCRIndex: string; EventType: string; Digests?: { AlgorithmId: string; Digest: string }[] }[];
      pcrs?: Record<string, Record<string, string>>;
    };
    const raw = parseYaml(r.stdout, { schema: 'failsafe' }) as Raw;
    const events = raw.events.filter((e) => e.EventNum !== '0').map((e) => ({
      num: Number(e.EventNum), pcr: Number(e.PCRIndex), type: e.EventType,
      digests: Object.fromEntries((e.Digests ?? []).map((d) => [d.AlgorithmId, d.Digest.toLowerCase()])),
    }));
    const pcrs: Tpm2EventlogView['pcrs'] = {};
    for (const [bank, values] of Object.entries(raw.pcrs ?? {})) {
      pcrs[bank] = Object.fromEntries(Object.entries(values).map(([i, v]) => [Number(i.trim()), v.replace(/^0x/, '').toLowerCase()]));
    }
    return { view: { events, pcrs }, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
