import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

/**
 * Signed checkpoints: C2SP signed-note (c2sp.org/signed-note) with Ed25519 signatures
 * (type 0x01), whose text is a C2SP tlog-checkpoint (origin, tree size, base64 root). The
 * same bytes golang.org/x/mod/sumdb/note and transparency-log witnesses verify, so the
 * log's checkpoints can be checked and cosigned without any Tessera code.
 *
 *   example.org/tessera/audit
 *   1024
 *   <base64 root hash>
 *
 *   — example.org/tessera/audit <base64(4-byte key id || 64-byte signature)>
 *
 * Key id = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]. The verifier key
 * is published in the note package's text form, "<name>+<key id hex>+<base64(0x01 || key)>".
 */

const ED25519 = 0x01;
const EM_DASH = '\u2014';
/** Key names and origins: non-empty, no Unicode spaces, no '+' (signed-note). */
const NAME = /^[^\s+\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/u;

export class NoteError extends Error {
  constructor(readonly code: 'ERR_NOTE_FORMAT' | 'ERR_NOTE_SIGNATURE' | 'ERR_NOTE_KEY' | 'ERR_CHECKPOINT_FORMAT', message: string) {
    super(message);
    this.name = 'NoteError';
  }
}

export interface NoteVerifier {
  name: string;
  /** 4-byte key id, big-endian, as a number. */
  keyId: number;
  publicKey: KeyObject;
  /** The 32-byte Ed25519 public key. */
  raw: Buffer;
}

export interface NoteSigner extends NoteVerifier { privateKey: KeyObject }

export function checkKeyName(name: string): void {
  if (!NAME.test(name)) throw new NoteError('ERR_NOTE_KEY', `key name "${name}" must be non-empty, without spaces or "+"`);
}

export function keyIdOf(name: string, raw: Uint8Array): number {
  return createHash('sha256').update(name).update(Buffer.from([0x0a, ED25519])).update(raw).digest().readUInt32BE(0);
}

const rawPublicKey = (k: KeyObject): Buffer => Buffer.from(k.export({ format: 'jwk' }).x as string, 'base64url');

export function signerFromKey(name: string, privateKey: KeyObject): NoteSigner {
  checkKeyName(name);
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new NoteError('ERR_NOTE_KEY', `the audit key must be Ed25519, not ${privateKey.asymmetricKeyType}`);
  const publicKey = createPublicKey(privateKey);
  const raw = rawPublicKey(publicKey);
  return { name, keyId: keyIdOf(name, raw), publicKey, raw, privateKey };
}

export function generateSigner(name: string): NoteSigner {
  return signerFromKey(name, generateKeyPairSync('ed25519').privateKey);
}

/** PKCS#8 PEM of a signer's private key (the key file). */
export const signerPem = (s: NoteSigner): string => s.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
export const signerFromPem = (name: string, pem: string | Buffer): NoteSigner => signerFromKey(name, createPrivateKey(pem));

/** "<name>+<8 hex>+<base64(0x01 || key)>": the verifier key text of golang.org/x/mod/sumdb/note. */
export function verifierKeyText(v: NoteVerifier): string {
  return `${v.name}+${v.keyId.toString(16).padStart(8, '0')}+${Buffer.concat([Buffer.from([ED25519]), v.raw]).toString('base64')}`;
}

export function parseVerifierKey(text: string): NoteVerifier {
  const s = text.trim();
  const m = /^(.+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(s);
  if (!m) throw new NoteError('ERR_NOTE_KEY', `verifier key "${s.slice(0, 120)}" is not "<name>+<8 hex digits>+<base64 key>"`);
  const [, name, hash, b64] = m as unknown as [string, string, string, string];
  checkKeyName(name);
  const key = Buffer.from(b64, 'base64');
  if (key.length !== 33 || key[0] !== ED25519) throw new NoteError('ERR_NOTE_KEY', `verifier key for ${name} is not an Ed25519 key (type 0x01, 32 bytes)`);
  const raw = key.subarray(1);
  const keyId = keyIdOf(name, raw);
  if (keyId.toString(16).padStart(8, '0') !== hash) throw new NoteError('ERR_NOTE_KEY', `verifier key for ${name}: key id ${hash} does not match its key`);
  const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
  return { name, keyId, publicKey, raw: Buffer.from(raw) };
}

/** Signs note text (ending in a newline) and returns the whole signed note. */
export function signNote(text: string, signer: NoteSigner): string {
  checkText(text);
  const sig = sign(null, Buffer.from(text, 'utf8'), signer.privateKey);
  const id = Buffer.alloc(4);
  id.writeUInt32BE(signer.keyId);
  return `${text}\n${EM_DASH} ${signer.name} ${Buffer.concat([id, sig]).toString('base64')}\n`;
}

function checkText(text: string): void {
  if (!text.endsWith('\n')) throw new NoteError('ERR_NOTE_FORMAT', 'note text must end with a newline');
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text)) throw new NoteError('ERR_NOTE_FORMAT', 'note text must not contain control characters other than newline');
}

export interface OpenedNote {
  text: string;
  /** The known keys whose signatures verified. */
  verifiedBy: NoteVerifier[];
}

/**
 * Verifies a signed note against known keys (signed-note rules): unknown signatures are
 * ignored, a known key's bad signature rejects the note, and at least one known key must
 * have signed it.
 */
export function openNote(note: string, known: readonly NoteVerifier[]): OpenedNote {
  if (/[\u0000-\u0009\u000b-\u001f]/.test(note)) throw new NoteError('ERR_NOTE_FORMAT', 'note contains control characters other than newline');
  if (!note.endsWith('\n')) throw new NoteError('ERR_NOTE_FORMAT', 'note does not end with a newline');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new NoteError('ERR_NOTE_FORMAT', 'note has no blank line before its signatures');
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split('\n');
  const verifiedBy: NoteVerifier[] = [];
  for (const line of lines) {
    const m = new RegExp(`^${EM_DASH} (\\S+) ([A-Za-z0-9+/=]+)$`).exec(line);
    if (!m) throw new NoteError('ERR_NOTE_FORMAT', `malformed signature line "${line.slice(0, 120)}"`);
    const sig = Buffer.from(m[2]!, 'base64');
    if (sig.length < 5) throw new NoteError('ERR_NOTE_FORMAT', `signature of ${m[1]} is too short`);
    const id = sig.readUInt32BE(0);
    const key = known.find((k) => k.name === m[1] && k.keyId === id);
    if (!key) continue;
    if (!verify(null, Buffer.from(text, 'utf8'), key.publicKey, sig.subarray(4))) {
      throw new NoteError('ERR_NOTE_SIGNATURE', `signature by ${key.name} (key id ${id.toString(16).padStart(8, '0')}) does not verify`);
    }
    verifiedBy.push(key);
  }
  if (!verifiedBy.length) {
    throw new NoteError('ERR_NOTE_SIGNATURE', `note is not signed by a known key (known: ${known.map((k) => k.name + '+' + k.keyId.toString(16).padStart(8, '0')).join(', ') || 'none'})`);
  }
  return { text, verifiedBy };
}

export interface Checkpoint {
  origin: string;
  size: number;
  root: Buffer;
  /** Extension lines, if any (Tessera writes none). */
  extensions: string[];
}

export function formatCheckpoint(c: { origin: string; size: number; root: Uint8Array }): string {
  checkKeyName(c.origin);
  return `${c.origin}\n${c.size}\n${Buffer.from(c.root).toString('base64')}\n`;
}

export function parseCheckpoint(text: string): Checkpoint {
  const lines = text.split('\n');
  if (lines.length < 4 || lines[lines.length - 1] !== '') throw new NoteError('ERR_CHECKPOINT_FORMAT', 'checkpoint text needs origin, size and root lines, each ending in a newline');
  const [origin, size, root, ...rest] = lines.slice(0, -1) as [string, string, string, ...string[]];
  if (!origin) throw new NoteError('ERR_CHECKPOINT_FORMAT', 'checkpoint origin line is empty');
  if (!/^(0|[1-9][0-9]{0,15})$/.test(size) || !Number.isSafeInteger(Number(size))) {
    throw new NoteError('ERR_CHECKPOINT_FORMAT', `checkpoint size "${size.slice(0, 40)}" is not a decimal without leading zeroes`);
  }
  const r = Buffer.from(root, 'base64');
  if (r.length !== 32 || r.toString('base64') !== root) throw new NoteError('ERR_CHECKPOINT_FORMAT', 'checkpoint root is not a base64 SHA-256 hash');
  if (rest.some((l) => l === '')) throw new NoteError('ERR_CHECKPOINT_FORMAT', 'checkpoint extension lines must not be empty');
  return { origin, size: Number(size), root: r, extensions: rest };
}

/** A signed checkpoint note for the tree. */
export function signCheckpoint(c: { origin: string; size: number; root: Uint8Array }, signer: NoteSigner): string {
  return signNote(formatCheckpoint(c), signer);
}

/** Verifies the note's signature and parses its checkpoint; the origin must be `origin` when given. */
export function openCheckpoint(note: string, known: readonly NoteVerifier[], origin?: string): Checkpoint & OpenedNote {
  const opened = openNote(note, known);
  const cp = parseCheckpoint(opened.text);
  if (origin !== undefined && cp.origin !== origin) throw new NoteError('ERR_CHECKPOINT_FORMAT', `checkpoint origin "${cp.origin}" is not the log's origin "${origin}"`);
  return { ...cp, ...opened };
}
