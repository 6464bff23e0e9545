/**
 * The aws_iid agent → server payload (JSON). The document travels as base64 of the
 * exact bytes IMDS returned, because the signatures cover those bytes and any
 * re-serialisation of the JSON would break them. Exactly one of `rsa2048` (base64
 * PKCS#7 DER, as IMDS serves it) or `signature` (base64 RSA-SHA256) is set.
 */
export interface AwsIidPayload {
  document: string;
  rsa2048?: string;
  signature?: string;
}

export const AWS_IID_METHOD = 'aws_iid';
