/**
 * Offline attenuation with Biscuit tokens (docs/attenuation.md): its own entry
 * (@tessera-id/sdk/biscuit) because it needs @biscuit-auth/biscuit-wasm, an optional
 * peer that SDK users who never attenuate do not install.
 */
export { attenuate } from './attenuate.ts';
export type { AttenuateOptions } from './attenuate.ts';
export { verifyBiscuit } from './verify.ts';
export type { VerifyBiscuitOptions } from './verify.ts';
export { createStaticBiscuitKeys, importBiscuitKeys, RemoteBiscuitKeys } from './keys.ts';
export type { BiscuitRootKey, BiscuitRootKeySource, RemoteBiscuitKeysOptions } from './keys.ts';
export { BISCUIT_TOKEN_TYPE } from './vocabulary.ts';
