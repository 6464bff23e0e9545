// Original file: proto/spiffe/workloadapiwitsvid.proto

import type { WITSVID as _WITSVID, WITSVID__Output as _WITSVID__Output } from './WITSVID';

export interface WITSVIDResponse {
  'svids'?: (_WITSVID)[];
}

export interface WITSVIDResponse__Output {
  'svids': (_WITSVID__Output)[];
}
