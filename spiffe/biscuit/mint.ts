import { authorityCode, type AuthorityClaims } from './vocabulary.ts';
import { biscuitLibLoaded, loadBiscuit } from './wasm.ts';

/**
 * Creates a Tessera Biscuit: the authority block of docs/attenuation.md, signed by a
 * root key (raw Ed25519 private key) and naming it by `rootKeyId`. The token endpoint
 * calls this after the policy decision; tests and fixtures may too.
 */
export async function mintBiscuit(claims: AuthorityClaims, key: { rootKeyId: number; privateKey: Uint8Array }): Promise<{ token: string; revocationIds: string[] }> {
  const lib = biscuitLibLoaded() ?? await loadBiscuit();
  const { code, params } = authorityCode(claims);
  const b = lib.Biscuit.builder();
  b.addCodeWithParameters(code, params, {});
  b.setRootKeyId(key.rootKeyId);
  const sk = lib.PrivateKey.fromBytes(key.privateKey, lib.SignatureAlgorithm.Ed25519);
  const token = b.build(sk);
  try {
    return { token: token.toBase64(), revocationIds: (token.getRevocationIdentifiers() as string[]).map(String) };
  } finally { token.free(); sk.free(); }
}
