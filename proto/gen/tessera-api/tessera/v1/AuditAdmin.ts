// Original file: proto/tessera/admin.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AuditCheckpoint as _tessera_v1_AuditCheckpoint, AuditCheckpoint__Output as _tessera_v1_AuditCheckpoint__Output } from '../../tessera/v1/AuditCheckpoint';
import type { AuditExportChunk as _tessera_v1_AuditExportChunk, AuditExportChunk__Output as _tessera_v1_AuditExportChunk__Output } from '../../tessera/v1/AuditExportChunk';
import type { AuditProof as _tessera_v1_AuditProof, AuditProof__Output as _tessera_v1_AuditProof__Output } from '../../tessera/v1/AuditProof';
import type { ExportAuditRequest as _tessera_v1_ExportAuditRequest, ExportAuditRequest__Output as _tessera_v1_ExportAuditRequest__Output } from '../../tessera/v1/ExportAuditRequest';
import type { GetAuditCheckpointRequest as _tessera_v1_GetAuditCheckpointRequest, GetAuditCheckpointRequest__Output as _tessera_v1_GetAuditCheckpointRequest__Output } from '../../tessera/v1/GetAuditCheckpointRequest';
import type { ListAuditEventsRequest as _tessera_v1_ListAuditEventsRequest, ListAuditEventsRequest__Output as _tessera_v1_ListAuditEventsRequest__Output } from '../../tessera/v1/ListAuditEventsRequest';
import type { ListAuditEventsResponse as _tessera_v1_ListAuditEventsResponse, ListAuditEventsResponse__Output as _tessera_v1_ListAuditEventsResponse__Output } from '../../tessera/v1/ListAuditEventsResponse';
import type { ProveAuditConsistencyRequest as _tessera_v1_ProveAuditConsistencyRequest, ProveAuditConsistencyRequest__Output as _tessera_v1_ProveAuditConsistencyRequest__Output } from '../../tessera/v1/ProveAuditConsistencyRequest';
import type { ProveAuditInclusionRequest as _tessera_v1_ProveAuditInclusionRequest, ProveAuditInclusionRequest__Output as _tessera_v1_ProveAuditInclusionRequest__Output } from '../../tessera/v1/ProveAuditInclusionRequest';

export interface AuditAdminClient extends grpc.Client {
  ExportAudit(argument: _tessera_v1_ExportAuditRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tessera_v1_AuditExportChunk__Output>;
  ExportAudit(argument: _tessera_v1_ExportAuditRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tessera_v1_AuditExportChunk__Output>;
  exportAudit(argument: _tessera_v1_ExportAuditRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tessera_v1_AuditExportChunk__Output>;
  exportAudit(argument: _tessera_v1_ExportAuditRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tessera_v1_AuditExportChunk__Output>;
  
  GetAuditCheckpoint(argument: _tessera_v1_GetAuditCheckpointRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuditCheckpoint__Output>): grpc.ClientUnaryCall;
  GetAuditCheckpoint(argument: _tessera_v1_GetAuditCheckpointRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AuditCheckpoint__Output>): grpc.ClientUnaryCall;
  GetAuditCheckpoint(argument: _tessera_v1_GetAuditCheckpointRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuditCheckpoint__Output>): grpc.ClientUnaryCall;
  GetAuditCheckpoint(argument: _tessera_v1_GetAuditCheckpointRequest, callback: grpc.requestCallback<_tessera_v1_AuditCheckpoint__Output>): grpc.ClientUnaryCall;
  getAuditCheckpoint(argument: _tessera_v1_GetAuditCheckpointRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuditCheckpoint__Output>): grpc.ClientUnaryCall;
  getAuditCheckpoint(argument: _tessera_v1_GetAuditCheckpointRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AuditCheckpoint__Output>): grpc.ClientUnaryCall;
  getAuditCheckpoint(argument: _tessera_v1_GetAuditCheckpointRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuditCheckpoint__Output>): grpc.ClientUnaryCall;
  getAuditCheckpoint(argument: _tessera_v1_GetAuditCheckpointRequest, callback: grpc.requestCallback<_tessera_v1_AuditCheckpoint__Output>): grpc.ClientUnaryCall;
  
  ListAuditEvents(argument: _tessera_v1_ListAuditEventsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListAuditEventsResponse__Output>): grpc.ClientUnaryCall;
  ListAuditEvents(argument: _tessera_v1_ListAuditEventsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ListAuditEventsResponse__Output>): grpc.ClientUnaryCall;
  ListAuditEvents(argument: _tessera_v1_ListAuditEventsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListAuditEventsResponse__Output>): grpc.ClientUnaryCall;
  ListAuditEvents(argument: _tessera_v1_ListAuditEventsRequest, callback: grpc.requestCallback<_tessera_v1_ListAuditEventsResponse__Output>): grpc.ClientUnaryCall;
  listAuditEvents(argument: _tessera_v1_ListAuditEventsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListAuditEventsResponse__Output>): grpc.ClientUnaryCall;
  listAuditEvents(argument: _tessera_v1_ListAuditEventsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_ListAuditEventsResponse__Output>): grpc.ClientUnaryCall;
  listAuditEvents(argument: _tessera_v1_ListAuditEventsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_ListAuditEventsResponse__Output>): grpc.ClientUnaryCall;
  listAuditEvents(argument: _tessera_v1_ListAuditEventsRequest, callback: grpc.requestCallback<_tessera_v1_ListAuditEventsResponse__Output>): grpc.ClientUnaryCall;
  
  ProveAuditConsistency(argument: _tessera_v1_ProveAuditConsistencyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuditProof__Output>): grpc.ClientUnaryCall;
  ProveAuditConsistency(argument: _tessera_v1_ProveAuditConsistencyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AuditProof__Output>): grpc.ClientUnaryCall;
  ProveAuditConsistency(argument: _tessera_v1_ProveAuditConsistencyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuditProof__Output>): grpc.ClientUnaryCall;
  ProveAuditConsistency(argument: _tessera_v1_ProveAuditConsistencyRequest, callback: grpc.requestCallback<_tessera_v1_AuditProof__Output>): grpc.ClientUnaryCall;
  proveAuditConsistency(argument: _tessera_v1_ProveAuditConsistencyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuditProof__Output>): grpc.ClientUnaryCall;
  proveAuditConsistency(argument: _tessera_v1_ProveAuditConsistencyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AuditProof__Output>): grpc.ClientUnaryCall;
  proveAuditConsistency(argument: _tessera_v1_ProveAuditConsistencyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuditProof__Output>): grpc.ClientUnaryCall;
  proveAuditConsistency(argument: _tessera_v1_ProveAuditConsistencyRequest, callback: grpc.requestCallback<_tessera_v1_AuditProof__Output>): grpc.ClientUnaryCall;
  
  ProveAuditInclusion(argument: _tessera_v1_ProveAuditInclusionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuditProof__Output>): grpc.ClientUnaryCall;
  ProveAuditInclusion(argument: _tessera_v1_ProveAuditInclusionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AuditProof__Output>): grpc.ClientUnaryCall;
  ProveAuditInclusion(argument: _tessera_v1_ProveAuditInclusionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuditProof__Output>): grpc.ClientUnaryCall;
  ProveAuditInclusion(argument: _tessera_v1_ProveAuditInclusionRequest, callback: grpc.requestCallback<_tessera_v1_AuditProof__Output>): grpc.ClientUnaryCall;
  proveAuditInclusion(argument: _tessera_v1_ProveAuditInclusionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuditProof__Output>): grpc.ClientUnaryCall;
  proveAuditInclusion(argument: _tessera_v1_ProveAuditInclusionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AuditProof__Output>): grpc.ClientUnaryCall;
  proveAuditInclusion(argument: _tessera_v1_ProveAuditInclusionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AuditProof__Output>): grpc.ClientUnaryCall;
  proveAuditInclusion(argument: _tessera_v1_ProveAuditInclusionRequest, callback: grpc.requestCallback<_tessera_v1_AuditProof__Output>): grpc.ClientUnaryCall;
  
}

export interface AuditAdminHandlers extends grpc.UntypedServiceImplementation {
  ExportAudit: grpc.handleServerStreamingCall<_tessera_v1_ExportAuditRequest__Output, _tessera_v1_AuditExportChunk>;
  
  GetAuditCheckpoint: grpc.handleUnaryCall<_tessera_v1_GetAuditCheckpointRequest__Output, _tessera_v1_AuditCheckpoint>;
  
  ListAuditEvents: grpc.handleUnaryCall<_tessera_v1_ListAuditEventsRequest__Output, _tessera_v1_ListAuditEventsResponse>;
  
  ProveAuditConsistency: grpc.handleUnaryCall<_tessera_v1_ProveAuditConsistencyRequest__Output, _tessera_v1_AuditProof>;
  
  ProveAuditInclusion: grpc.handleUnaryCall<_tessera_v1_ProveAuditInclusionRequest__Output, _tessera_v1_AuditProof>;
  
}

export interface AuditAdminDefinition extends grpc.ServiceDefinition {
  ExportAudit: MethodDefinition<_tessera_v1_ExportAuditRequest, _tessera_v1_AuditExportChunk, _tessera_v1_ExportAuditRequest__Output, _tessera_v1_AuditExportChunk__Output>
  GetAuditCheckpoint: MethodDefinition<_tessera_v1_GetAuditCheckpointRequest, _tessera_v1_AuditCheckpoint, _tessera_v1_GetAuditCheckpointRequest__Output, _tessera_v1_AuditCheckpoint__Output>
  ListAuditEvents: MethodDefinition<_tessera_v1_ListAuditEventsRequest, _tessera_v1_ListAuditEventsResponse, _tessera_v1_ListAuditEventsRequest__Output, _tessera_v1_ListAuditEventsResponse__Output>
  ProveAuditConsistency: MethodDefinition<_tessera_v1_ProveAuditConsistencyRequest, _tessera_v1_AuditProof, _tessera_v1_ProveAuditConsistencyRequest__Output, _tessera_v1_AuditProof__Output>
  ProveAuditInclusion: MethodDefinition<_tessera_v1_ProveAuditInclusionRequest, _tessera_v1_AuditProof, _tessera_v1_ProveAuditInclusionRequest__Output, _tessera_v1_AuditProof__Output>
}
