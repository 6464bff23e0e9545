// @tessera-id/sdk/txn: transaction tokens (draft-ietf-oauth-transaction-tokens; docs/transaction-tokens.md).
export { mintTxnToken, TXN_TOKEN_TYPE, TXN_TOKEN_HEADER } from './mint.ts';
export type { MintTxnTokenOptions, MintedTxnToken } from './mint.ts';
export { verifyTxnToken, TXN_TYP } from './verify.ts';
export type { TxnToken, VerifyTxnTokenOptions } from './types.ts';
export { txnTokenMiddleware, createTxnValidator, getTxnToken, txnTokenOf, contradictions } from './middleware.ts';
export type { TxnMiddlewareOptions } from './middleware.ts';
export { TxnTokenError } from './errors.ts';
export type { TxnTokenErrorCode, TxnTokenReason } from './errors.ts';
export { canonicalJson } from './canonical.ts';
