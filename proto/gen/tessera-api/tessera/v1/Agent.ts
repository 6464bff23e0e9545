// Original file: proto/tessera/types.proto

import type { Selector as _tessera_v1_Selector, Selector__Output as _tessera_v1_Selector__Output } from '../../tessera/v1/Selector';
import type { Long } from '@grpc/proto-loader';

export interface Agent {
  'spiffe_id'?: (string);
  'attestation_type'?: (string);
  'selectors'?: (_tessera_v1_Selector)[];
  'x509_svid_serial'?: (string);
  'x509_svid_expires_at'?: (number | string | Long);
  'banned'?: (boolean);
  'created_at'?: (number | string | Long);
  'updated_at'?: (number | string | Long);
}

export interface Agent__Output {
  'spiffe_id': (string);
  'attestation_type': (string);
  'selectors': (_tessera_v1_Selector__Output)[];
  'x509_svid_serial': (string);
  'x509_svid_expires_at': (number);
  'banned': (boolean);
  'created_at': (number);
  'updated_at': (number);
}
