// Original file: proto/tessera/agent.proto

import type { X509SVIDResult as _tessera_v1_X509SVIDResult, X509SVIDResult__Output as _tessera_v1_X509SVIDResult__Output } from '../../tessera/v1/X509SVIDResult';

export interface BatchSignX509SVIDResponse {
  'results'?: (_tessera_v1_X509SVIDResult)[];
}

export interface BatchSignX509SVIDResponse__Output {
  'results': (_tessera_v1_X509SVIDResult__Output)[];
}
