// Original file: proto/tessera/types.proto

import type { JWTKey as _tessera_v1_JWTKey, JWTKey__Output as _tessera_v1_JWTKey__Output } from '../../tessera/v1/JWTKey';
import type { Long } from '@grpc/proto-loader';

export interface Bundle {
  'trust_domain'?: (string);
  'x509_authorities'?: (Buffer | Uint8Array | string)[];
  'jwt_authorities'?: (_tessera_v1_JWTKey)[];
  'sequence'?: (number | string | Long);
  'refresh_hint'?: (number);
  'tainted_x509_authority_ids'?: (string)[];
  'tainted_jwt_key_ids'?: (string)[];
}

export interface Bundle__Output {
  'trust_domain': (string);
  'x509_authorities': (Buffer)[];
  'jwt_authorities': (_tessera_v1_JWTKey__Output)[];
  'sequence': (number);
  'refresh_hint': (number);
  'tainted_x509_authority_ids': (string)[];
  'tainted_jwt_key_ids': (string)[];
}
