/** PEM <-> DER, for certificate and key files (RFC 7468 textual encoding). */
export function derToPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** DER certificates (leaf first, as given) as one PEM text. */
export function certificatesToPem(ders: readonly Uint8Array[]): string {
  return ders.map((d) => derToPem(d)).join('');
}

/** Every PEM block of `label` in `text`, as DER, in order; other blocks are skipped. */
export function pemToDer(text: string, label = 'CERTIFICATE'): Uint8Array[] {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, 'g');
  const out: Uint8Array[] = [];
  for (const m of text.matchAll(re)) out.push(new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')));
  return out;
}
