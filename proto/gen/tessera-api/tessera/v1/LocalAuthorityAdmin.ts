// Original file: proto/tessera/admin.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AuthorityRequest as _tessera_v1_AuthorityRequest, AuthorityRequest__Output as _tessera_v1_AuthorityRequest__Output } from '../../tessera/v1/AuthorityRequest';
import type { AuthorityState as _tessera_v1_AuthorityState, AuthorityState__Output as _tessera_v1_AuthorityState__Output } from '../../tessera/v1/AuthorityState';
import type { AuthorityStateResponse as _tessera_v1_AuthorityStateResponse, AuthorityStateResponse__Output as _tessera_v1_AuthorityStateResponse__Output } from '../../tessera/v1/AuthorityStateResponse';

export interface LocalAuthorityAdminClient extends grpc.Client {
  ActivateAuthority(argument: _tessera_v1_AuthorityRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  ActivateAuthority(argument: _tessera_v1_AuthorityRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  ActivateAuthority(argument: _tessera_v1_AuthorityRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  ActivateAuthority(argument: _tessera_v1_AuthorityRequest, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  activateAuthority(argument: _tessera_v1_AuthorityRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  activateAuthority(argument: _tessera_v1_AuthorityRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  activateAuthority(argument: _tessera_v1_AuthorityRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  activateAuthority(argument: _tessera_v1_AuthorityRequest, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  
  GetAuthorityState(argument: _tessera_v1_AuthorityRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuthorityStateResponse__Output>): grpc.ClientUnaryCall;
  GetAuthorityState(argument: _tessera_v1_AuthorityRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AuthorityStateResponse__Output>): grpc.ClientUnaryCall;
  GetAuthorityState(argument: _tessera_v1_AuthorityRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuthorityStateResponse__Output>): grpc.ClientUnaryCall;
  GetAuthorityState(argument: _tessera_v1_AuthorityRequest, callback: grpc.requestCallback<_tessera_v1_AuthorityStateResponse__Output>): grpc.ClientUnaryCall;
  getAuthorityState(argument: _tessera_v1_AuthorityRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuthorityStateResponse__Output>): grpc.ClientUnaryCall;
  getAuthorityState(argument: _tessera_v1_AuthorityRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AuthorityStateResponse__Output>): grpc.ClientUnaryCall;
  getAuthorityState(argument: _tessera_v1_AuthorityRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuthorityStateResponse__Output>): grpc.ClientUnaryCall;
  getAuthorityState(argument: _tessera_v1_AuthorityRequest, callback: grpc.requestCallback<_tessera_v1_AuthorityStateResponse__Output>): grpc.ClientUnaryCall;
  
  PrepareAuthority(argument: _tessera_v1_AuthorityRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  PrepareAuthority(argument: _tessera_v1_AuthorityRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  PrepareAuthority(argument: _tessera_v1_AuthorityRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  PrepareAuthority(argument: _tessera_v1_AuthorityRequest, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  prepareAuthority(argument: _tessera_v1_AuthorityRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  prepareAuthority(argument: _tessera_v1_AuthorityRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  prepareAuthority(argument: _tessera_v1_AuthorityRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  prepareAuthority(argument: _tessera_v1_AuthorityRequest, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  
  RevokeAuthority(argument: _tessera_v1_AuthorityRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  RevokeAuthority(argument: _tessera_v1_AuthorityRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  RevokeAuthority(argument: _tessera_v1_AuthorityRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  RevokeAuthority(argument: _tessera_v1_AuthorityRequest, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  revokeAuthority(argument: _tessera_v1_AuthorityRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  revokeAuthority(argument: _tessera_v1_AuthorityRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  revokeAuthority(argument: _tessera_v1_AuthorityRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  revokeAuthority(argument: _tessera_v1_AuthorityRequest, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  
  TaintAuthority(argument: _tessera_v1_AuthorityRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  TaintAuthority(argument: _tessera_v1_AuthorityRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  TaintAuthority(argument: _tessera_v1_AuthorityRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  TaintAuthority(argument: _tessera_v1_AuthorityRequest, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  taintAuthority(argument: _tessera_v1_AuthorityRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  taintAuthority(argument: _tessera_v1_AuthorityRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  taintAuthority(argument: _tessera_v1_AuthorityRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  taintAuthority(argument: _tessera_v1_AuthorityRequest, callback: grpc.requestCallback<_tessera_v1_AuthorityState__Output>): grpc.ClientUnaryCall;
  
}

export interface LocalAuthorityAdminHandlers extends grpc.UntypedServiceImplementation {
  ActivateAuthority: grpc.handleUnaryCall<_tessera_v1_AuthorityRequest__Output, _tessera_v1_AuthorityState>;
  
  GetAuthorityState: grpc.handleUnaryCall<_tessera_v1_AuthorityRequest__Output, _tessera_v1_AuthorityStateResponse>;
  
  PrepareAuthority: grpc.handleUnaryCall<_tessera_v1_AuthorityRequest__Output, _tessera_v1_AuthorityState>;
  
  RevokeAuthority: grpc.handleUnaryCall<_tessera_v1_AuthorityRequest__Output, _tessera_v1_AuthorityState>;
  
  TaintAuthority: grpc.handleUnaryCall<_tessera_v1_AuthorityRequest__Output, _tessera_v1_AuthorityState>;
  
}

export interface LocalAuthorityAdminDefinition extends grpc.ServiceDefinition {
  ActivateAuthority: MethodDefinition<_tessera_v1_AuthorityRequest, _tessera_v1_AuthorityState, _tessera_v1_AuthorityRequest__Output, _tessera_v1_AuthorityState__Output>
  GetAuthorityState: MethodDefinition<_tessera_v1_AuthorityRequest, _tessera_v1_AuthorityStateResponse, _tessera_v1_AuthorityRequest__Output, _tessera_v1_AuthorityStateResponse__Output>
  PrepareAuthority: MethodDefinition<_tessera_v1_AuthorityRequest, _tessera_v1_AuthorityState, _tessera_v1_AuthorityRequest__Output, _tessera_v1_AuthorityState__Output>
  RevokeAuthority: MethodDefinition<_tessera_v1_AuthorityRequest, _tessera_v1_AuthorityState, _tessera_v1_AuthorityRequest__Output, _tessera_v1_AuthorityState__Output>
  TaintAuthority: MethodDefinition<_tessera_v1_AuthorityRequest, _tessera_v1_AuthorityState, _tessera_v1_AuthorityRequest__Output, _tessera_v1_AuthorityState__Output>
}
