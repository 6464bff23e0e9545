// Original file: proto/spiffe/workloadapiwitsvid.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { WITBundlesRequest as _WITBundlesRequest, WITBundlesRequest__Output as _WITBundlesRequest__Output } from './WITBundlesRequest';
import type { WITBundlesResponse as _WITBundlesResponse, WITBundlesResponse__Output as _WITBundlesResponse__Output } from './WITBundlesResponse';
import type { WITSVIDRequest as _WITSVIDRequest, WITSVIDRequest__Output as _WITSVIDRequest__Output } from './WITSVIDRequest';
import type { WITSVIDResponse as _WITSVIDResponse, WITSVIDResponse__Output as _WITSVIDResponse__Output } from './WITSVIDResponse';

export interface SpiffeWorkloadAPIClient extends grpc.Client {
  FetchWITBundles(argument: _WITBundlesRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_WITBundlesResponse__Output>;
  FetchWITBundles(argument: _WITBundlesRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_WITBundlesResponse__Output>;
  fetchWitBundles(argument: _WITBundlesRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_WITBundlesResponse__Output>;
  fetchWitBundles(argument: _WITBundlesRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_WITBundlesResponse__Output>;
  
  FetchWITSVID(argument: _WITSVIDRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_WITSVIDResponse__Output>;
  FetchWITSVID(argument: _WITSVIDRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_WITSVIDResponse__Output>;
  fetchWitsvid(argument: _WITSVIDRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_WITSVIDResponse__Output>;
  fetchWitsvid(argument: _WITSVIDRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_WITSVIDResponse__Output>;
  
}

export interface SpiffeWorkloadAPIHandlers extends grpc.UntypedServiceImplementation {
  FetchWITBundles: grpc.handleServerStreamingCall<_WITBundlesRequest__Output, _WITBundlesResponse>;
  
  FetchWITSVID: grpc.handleServerStreamingCall<_WITSVIDRequest__Output, _WITSVIDResponse>;
  
}

export interface SpiffeWorkloadAPIDefinition extends grpc.ServiceDefinition {
  FetchWITBundles: MethodDefinition<_WITBundlesRequest, _WITBundlesResponse, _WITBundlesRequest__Output, _WITBundlesResponse__Output>
  FetchWITSVID: MethodDefinition<_WITSVIDRequest, _WITSVIDResponse, _WITSVIDRequest__Output, _WITSVIDResponse__Output>
}
