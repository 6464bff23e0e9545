import test from 'ava';
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  generateSigner, keyIdOf, NoteError, openCheckpoint, openNote, parseCheckpoint, parseVerifierKey, signCheckpoint, signerFromKey,
  signNote, verifierKeyText,
} from '../../server/audit/checkpoint.ts';

const go = JSON.parse(readFileSync(new URL('../fixtures/ct-vectors/note.json', import.meta.url), 'utf8')) as {
  verifierKey: string; signerKey: string; text: string; note: string;
};

/** "PRIVATE+KEY+<name>+<id>+<base64(0x01 || seed)>" → the Ed25519 key (PKCS#8 DER prefix + seed). */
function goSigner() {
  const parts = go.signerKey.split('+');
  const name = parts[2]!;
  // The key material is base64 and may itself contain '+': everything after the 4th separator.
  const seed = Buffer.from(parts.slice(4).join('+'), 'base64').subarray(1);
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  return signerFromKey(name, createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
}

test('signs the Go sumdb/note example byte for byte and publishes the same verifier key', (t) => {
  const s = goSigner();
  t.is(verifierKeyText(s), go.verifierKey);
  t.is(s.keyId, 0xc74f20a3);
  t.is(signNote(go.text, s), go.note);
});

test('opens the Go example note with the published verifier key and refuses a changed text', (t) => {
  const v = parseVerifierKey(go.verifierKey);
  t.is(openNote(go.note, [v]).text, go.text);
  t.throws(() => openNote(go.note.replace('cryptography', 'cryptographY'), [v]), { instanceOf: NoteError, message: /does not verify/ });
});

test('ignores signatures of unknown keys but needs one known key', (t) => {
  const ours = generateSigner('example.org/tessera/audit');
  const other = generateSigner('witness.example/w1');
  const note = signNote('hello\n', ours);
  const cosigned = note + signNote('hello\n', other).split('\n\n')[1];
  t.is(openNote(cosigned, [ours]).verifiedBy.length, 1);
  t.is(openNote(cosigned, [ours, other]).verifiedBy.length, 2);
  t.throws(() => openNote(note, [other]), { instanceOf: NoteError, message: /not signed by a known key/ });
});

test('a key with the right name but another key id is unknown; the right id with a wrong key fails', (t) => {
  const a = generateSigner('example.org/log');
  const b = generateSigner('example.org/log');
  const note = signNote('x\n', a);
  t.throws(() => openNote(note, [b]), { message: /not signed by a known key/ });
  t.throws(() => openNote(note, [{ ...b, keyId: a.keyId }]), { message: /does not verify/ });
});

test('checkpoints are origin, decimal size and base64 root, signed; the origin must match', (t) => {
  const s = generateSigner('example.org/tessera/audit');
  const root = Buffer.alloc(32, 7);
  const note = signCheckpoint({ origin: s.name, size: 1024, root }, s);
  t.true(note.startsWith(`example.org/tessera/audit\n1024\n${root.toString('base64')}\n\n\u2014 example.org/tessera/audit `));
  const cp = openCheckpoint(note, [parseVerifierKey(verifierKeyText(s))], 'example.org/tessera/audit');
  t.is(cp.size, 1024);
  t.deepEqual(cp.root, root);
  t.throws(() => openCheckpoint(note, [s], 'other.example/log'), { message: /origin/ });
});

test('refuses malformed checkpoints with a message naming the line', (t) => {
  t.throws(() => parseCheckpoint('o\n0012\nAAAA\n'), { message: /leading zeroes/ });
  t.throws(() => parseCheckpoint('o\n12\nAAAA\n'), { message: /root/ });
  t.throws(() => parseCheckpoint('o\n12\n'), { message: /origin, size and root/ });
});

test('verifier keys: key id is SHA-256(name || 0x0A || 0x01 || key)[:4]; manglings are refused', (t) => {
  const v = parseVerifierKey(go.verifierKey);
  t.is(keyIdOf(v.name, v.raw), 0xc74f20a3);
  t.throws(() => parseVerifierKey(go.verifierKey.replace('c74f20a3', 'c74f20a4')), { instanceOf: NoteError });
  t.throws(() => parseVerifierKey('PeterNeumann+c74f20a3+AhpcQ=='), { instanceOf: NoteError });
  t.throws(() => parseVerifierKey('bad name+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'), { instanceOf: NoteError });
});
