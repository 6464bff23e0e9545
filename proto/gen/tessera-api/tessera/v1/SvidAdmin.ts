// Original file: proto/tessera/admin.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AdminMintJWTSVIDRequest as _tessera_v1_AdminMintJWTSVIDRequest, AdminMintJWTSVIDRequest__Output as _tessera_v1_AdminMintJWTSVIDRequest__Output } from '../../tessera/v1/AdminMintJWTSVIDRequest';
import type { AdminMintJWTSVIDResponse as _tessera_v1_AdminMintJWTSVIDResponse, AdminMintJWTSVIDResponse__Output as _tessera_v1_AdminMintJWTSVIDResponse__Output } from '../../tessera/v1/AdminMintJWTSVIDResponse';
import type { AdminMintX509SVIDRequest as _tessera_v1_AdminMintX509SVIDRequest, AdminMintX509SVIDRequest__Output as _tessera_v1_AdminMintX509SVIDRequest__Output } from '../../tessera/v1/AdminMintX509SVIDRequest';
import type { AdminMintX509SVIDResponse as _tessera_v1_AdminMintX509SVIDResponse, AdminMintX509SVIDResponse__Output as _tessera_v1_AdminMintX509SVIDResponse__Output } from '../../tessera/v1/AdminMintX509SVIDResponse';

export interface SvidAdminClient extends grpc.Client {
  MintJWTSVID(argument: _tessera_v1_AdminMintJWTSVIDRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AdminMintJWTSVIDResponse__Output>): grpc.ClientUnaryCall;
  MintJWTSVID(argument: _tessera_v1_AdminMintJWTSVIDRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AdminMintJWTSVIDResponse__Output>): grpc.ClientUnaryCall;
  MintJWTSVID(argument: _tessera_v1_AdminMintJWTSVIDRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AdminMintJWTSVIDResponse__Output>): grpc.ClientUnaryCall;
  MintJWTSVID(argument: _tessera_v1_AdminMintJWTSVIDRequest, callback: grpc.requestCallback<_tessera_v1_AdminMintJWTSVIDResponse__Output>): grpc.ClientUnaryCall;
  mintJwtsvid(argument: _tessera_v1_AdminMintJWTSVIDRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AdminMintJWTSVIDResponse__Output>): grpc.ClientUnaryCall;
  mintJwtsvid(argument: _tessera_v1_AdminMintJWTSVIDRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AdminMintJWTSVIDResponse__Output>): grpc.ClientUnaryCall;
  mintJwtsvid(argument: _tessera_v1_AdminMintJWTSVIDRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AdminMintJWTSVIDResponse__Output>): grpc.ClientUnaryCall;
  mintJwtsvid(argument: _tessera_v1_AdminMintJWTSVIDRequest, callback: grpc.requestCallback<_tessera_v1_AdminMintJWTSVIDResponse__Output>): grpc.ClientUnaryCall;
  
  MintX509SVID(argument: _tessera_v1_AdminMintX509SVIDRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AdminMintX509SVIDResponse__Output>): grpc.ClientUnaryCall;
  MintX509SVID(argument: _tessera_v1_AdminMintX509SVIDRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AdminMintX509SVIDResponse__Output>): grpc.ClientUnaryCall;
  MintX509SVID(argument: _tessera_v1_AdminMintX509SVIDRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AdminMintX509SVIDResponse__Output>): grpc.ClientUnaryCall;
  MintX509SVID(argument: _tessera_v1_AdminMintX509SVIDRequest, callback: grpc.requestCallback<_tessera_v1_AdminMintX509SVIDResponse__Output>): grpc.ClientUnaryCall;
  mintX509Svid(argument: _tessera_v1_AdminMintX509SVIDRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AdminMintX509SVIDResponse__Output>): grpc.ClientUnaryCall;
  mintX509Svid(argument: _tessera_v1_AdminMintX509SVIDRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AdminMintX509SVIDResponse__Output>): grpc.ClientUnaryCall;
  mintX509Svid(argument: _tessera_v1_AdminMintX509SVIDRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AdminMintX509SVIDResponse__Output>): grpc.ClientUnaryCall;
  mintX509Svid(argument: _tessera_v1_AdminMintX509SVIDRequest, callback: grpc.requestCallback<_tessera_v1_AdminMintX509SVIDResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface SvidAdminHandlers extends grpc.UntypedServiceImplementation {
  MintJWTSVID: grpc.handleUnaryCall<_tessera_v1_AdminMintJWTSVIDRequest__Output, _tessera_v1_AdminMintJWTSVIDResponse>;
  
  MintX509SVID: grpc.handleUnaryCall<_tessera_v1_AdminMintX509SVIDRequest__Output, _tessera_v1_AdminMintX509SVIDResponse>;
  
}

export interface SvidAdminDefinition extends grpc.ServiceDefinition {
  MintJWTSVID: MethodDefinition<_tessera_v1_AdminMintJWTSVIDRequest, _tessera_v1_AdminMintJWTSVIDResponse, _tessera_v1_AdminMintJWTSVIDRequest__Output, _tessera_v1_AdminMintJWTSVIDResponse__Output>
  MintX509SVID: MethodDefinition<_tessera_v1_AdminMintX509SVIDRequest, _tessera_v1_AdminMintX509SVIDResponse, _tessera_v1_AdminMintX509SVIDRequest__Output, _tessera_v1_AdminMintX509SVIDResponse__Output>
}
