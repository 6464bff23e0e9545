// reflect-metadata must load before @peculiar/x509 (tsyringe needs the polyfill).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto, type KeyObject } from 'node:crypto';
import { X509SvidError } from '../errors.ts';

/**
 * The one place @peculiar/x509 is set up. It works on WebCrypto keys, so KeyObjects
 * are bridged here (Node 20 has no KeyObject#toCryptoKey).
 */
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;

export { x509 };

type WebAlgorithm = { name: string; namedCurve?: string; hash?: string };

const CURVES: Record<string, { namedCurve: string; hash: string }> = {
  prime256v1: { namedCurve: 'P-256', hash: 'SHA-256' },
  secp384r1: { namedCurve: 'P-384', hash: 'SHA-384' },
  secp521r1: { namedCurve: 'P-521', hash: 'SHA-512' },
};

/** Import and signing algorithms for a KeyObject: ECDSA with the curve's hash, RSA PKCS#1 v1.5 SHA-256, Ed25519. */
export function webAlgorithms(key: KeyObject): { importAlg: WebAlgorithm; signAlg: WebAlgorithm } {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const c = CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (!c) throw new X509SvidError('ERR_X509SVID_INVALID', 'unsupported_algorithm', `unsupported EC curve ${key.asymmetricKeyDetails?.namedCurve}`);
    return { importAlg: { name: 'ECDSA', namedCurve: c.namedCurve }, signAlg: { name: 'ECDSA', hash: c.hash } };
  }
  if (type === 'rsa') {
    const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    return { importAlg: alg, signAlg: alg };
  }
  if (type === 'ed25519') return { importAlg: { name: 'Ed25519' }, signAlg: { name: 'Ed25519' } };
  throw new X509SvidError('ERR_X509SVID_INVALID', 'unsupported_algorithm', `unsupported key type ${type}`);
}

export async function toCryptoKey(key: KeyObject): Promise<CryptoKey> {
  const { importAlg } = webAlgorithms(key);
  if (key.type === 'private') {
    const der = key.export({ type: 'pkcs8', format: 'der' });
    return webcrypto.subtle.importKey('pkcs8', Uint8Array.from(der), importAlg, true, ['sign']) as Promise<CryptoKey>;
  }
  const der = key.export({ type: 'spki', format: 'der' });
  return webcrypto.subtle.importKey('spki', Uint8Array.from(der), importAlg, true, ['verify']) as Promise<CryptoKey>;
}
