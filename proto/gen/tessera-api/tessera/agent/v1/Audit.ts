// Original file: proto/tessera/audit.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { RecordActionRequest as _tessera_agent_v1_RecordActionRequest, RecordActionRequest__Output as _tessera_agent_v1_RecordActionRequest__Output } from '../../../tessera/agent/v1/RecordActionRequest';
import type { RecordActionResponse as _tessera_agent_v1_RecordActionResponse, RecordActionResponse__Output as _tessera_agent_v1_RecordActionResponse__Output } from '../../../tessera/agent/v1/RecordActionResponse';

export interface AuditClient extends grpc.Client {
  RecordAction(argument: _tessera_agent_v1_RecordActionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_agent_v1_RecordActionResponse__Output>): grpc.ClientUnaryCall;
  RecordAction(argument: _tessera_agent_v1_RecordActionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_agent_v1_RecordActionResponse__Output>): grpc.ClientUnaryCall;
  RecordAction(argument: _tessera_agent_v1_RecordActionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_agent_v1_RecordActionResponse__Output>): grpc.ClientUnaryCall;
  RecordAction(argument: _tessera_agent_v1_RecordActionRequest, callback: grpc.requestCallback<_tessera_agent_v1_RecordActionResponse__Output>): grpc.ClientUnaryCall;
  recordAction(argument: _tessera_agent_v1_RecordActionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_agent_v1_RecordActionResponse__Output>): grpc.ClientUnaryCall;
  recordAction(argument: _tessera_agent_v1_RecordActionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_agent_v1_RecordActionResponse__Output>): grpc.ClientUnaryCall;
  recordAction(argument: _tessera_agent_v1_RecordActionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_agent_v1_RecordActionResponse__Output>): grpc.ClientUnaryCall;
  recordAction(argument: _tessera_agent_v1_RecordActionRequest, callback: grpc.requestCallback<_tessera_agent_v1_RecordActionResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface AuditHandlers extends grpc.UntypedServiceImplementation {
  RecordAction: grpc.handleUnaryCall<_tessera_agent_v1_RecordActionRequest__Output, _tessera_agent_v1_RecordActionResponse>;
  
}

export interface AuditDefinition extends grpc.ServiceDefinition {
  RecordAction: MethodDefinition<_tessera_agent_v1_RecordActionRequest, _tessera_agent_v1_RecordActionResponse, _tessera_agent_v1_RecordActionRequest__Output, _tessera_agent_v1_RecordActionResponse__Output>
}
