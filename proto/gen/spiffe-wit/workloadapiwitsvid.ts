import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { SpiffeWorkloadAPIClient as _SpiffeWorkloadAPIClient, SpiffeWorkloadAPIDefinition as _SpiffeWorkloadAPIDefinition } from './SpiffeWorkloadAPI';
import type { WITBundlesRequest as _WITBundlesRequest, WITBundlesRequest__Output as _WITBundlesRequest__Output } from './WITBundlesRequest';
import type { WITBundlesResponse as _WITBundlesResponse, WITBundlesResponse__Output as _WITBundlesResponse__Output } from './WITBundlesResponse';
import type { WITSVID as _WITSVID, WITSVID__Output as _WITSVID__Output } from './WITSVID';
import type { WITSVIDRequest as _WITSVIDRequest, WITSVIDRequest__Output as _WITSVIDRequest__Output } from './WITSVIDRequest';
import type { WITSVIDResponse as _WITSVIDResponse, WITSVIDResponse__Output as _WITSVIDResponse__Output } from './WITSVIDResponse';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  SpiffeWorkloadAPI: SubtypeConstructor<typeof grpc.Client, _SpiffeWorkloadAPIClient> & { service: _SpiffeWorkloadAPIDefinition }
  WITBundlesRequest: MessageTypeDefinition<_WITBundlesRequest, _WITBundlesRequest__Output>
  WITBundlesResponse: MessageTypeDefinition<_WITBundlesResponse, _WITBundlesResponse__Output>
  WITSVID: MessageTypeDefinition<_WITSVID, _WITSVID__Output>
  WITSVIDRequest: MessageTypeDefinition<_WITSVIDRequest, _WITSVIDRequest__Output>
  WITSVIDResponse: MessageTypeDefinition<_WITSVIDResponse, _WITSVIDResponse__Output>
}

