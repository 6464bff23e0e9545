// Original file: proto/tessera/agent.proto

import type { SVIDParams as _tessera_v1_SVIDParams, SVIDParams__Output as _tessera_v1_SVIDParams__Output } from '../../tessera/v1/SVIDParams';

export interface BatchSignX509SVIDRequest {
  'params'?: (_tessera_v1_SVIDParams)[];
}

export interface BatchSignX509SVIDRequest__Output {
  'params': (_tessera_v1_SVIDParams__Output)[];
}
