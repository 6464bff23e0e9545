// Original file: proto/tessera/agent.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AgentRecordActionRequest as _tessera_v1_AgentRecordActionRequest, AgentRecordActionRequest__Output as _tessera_v1_AgentRecordActionRequest__Output } from '../../tessera/v1/AgentRecordActionRequest';
import type { AgentRecordActionResponse as _tessera_v1_AgentRecordActionResponse, AgentRecordActionResponse__Output as _tessera_v1_AgentRecordActionResponse__Output } from '../../tessera/v1/AgentRecordActionResponse';
import type { AttestRequest as _tessera_v1_AttestRequest, AttestRequest__Output as _tessera_v1_AttestRequest__Output } from '../../tessera/v1/AttestRequest';
import type { AttestResponse as _tessera_v1_AttestResponse, AttestResponse__Output as _tessera_v1_AttestResponse__Output } from '../../tessera/v1/AttestResponse';
import type { BatchSignX509SVIDRequest as _tessera_v1_BatchSignX509SVIDRequest, BatchSignX509SVIDRequest__Output as _tessera_v1_BatchSignX509SVIDRequest__Output } from '../../tessera/v1/BatchSignX509SVIDRequest';
import type { BatchSignX509SVIDResponse as _tessera_v1_BatchSignX509SVIDResponse, BatchSignX509SVIDResponse__Output as _tessera_v1_BatchSignX509SVIDResponse__Output } from '../../tessera/v1/BatchSignX509SVIDResponse';
import type { Bundle as _tessera_v1_Bundle, Bundle__Output as _tessera_v1_Bundle__Output } from '../../tessera/v1/Bundle';
import type { GetBundleRequest as _tessera_v1_GetBundleRequest, GetBundleRequest__Output as _tessera_v1_GetBundleRequest__Output } from '../../tessera/v1/GetBundleRequest';
import type { MintJWTSVIDRequest as _tessera_v1_MintJWTSVIDRequest, MintJWTSVIDRequest__Output as _tessera_v1_MintJWTSVIDRequest__Output } from '../../tessera/v1/MintJWTSVIDRequest';
import type { MintJWTSVIDResponse as _tessera_v1_MintJWTSVIDResponse, MintJWTSVIDResponse__Output as _tessera_v1_MintJWTSVIDResponse__Output } from '../../tessera/v1/MintJWTSVIDResponse';
import type { MintWITSVIDRequest as _tessera_v1_MintWITSVIDRequest, MintWITSVIDRequest__Output as _tessera_v1_MintWITSVIDRequest__Output } from '../../tessera/v1/MintWITSVIDRequest';
import type { MintWITSVIDResponse as _tessera_v1_MintWITSVIDResponse, MintWITSVIDResponse__Output as _tessera_v1_MintWITSVIDResponse__Output } from '../../tessera/v1/MintWITSVIDResponse';
import type { RenewAgentRequest as _tessera_v1_RenewAgentRequest, RenewAgentRequest__Output as _tessera_v1_RenewAgentRequest__Output } from '../../tessera/v1/RenewAgentRequest';
import type { RenewAgentResponse as _tessera_v1_RenewAgentResponse, RenewAgentResponse__Output as _tessera_v1_RenewAgentResponse__Output } from '../../tessera/v1/RenewAgentResponse';
import type { SyncEntriesRequest as _tessera_v1_SyncEntriesRequest, SyncEntriesRequest__Output as _tessera_v1_SyncEntriesRequest__Output } from '../../tessera/v1/SyncEntriesRequest';
import type { SyncEntriesResponse as _tessera_v1_SyncEntriesResponse, SyncEntriesResponse__Output as _tessera_v1_SyncEntriesResponse__Output } from '../../tessera/v1/SyncEntriesResponse';

export interface AgentServiceClient extends grpc.Client {
  Attest(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_tessera_v1_AttestRequest, _tessera_v1_AttestResponse__Output>;
  Attest(options?: grpc.CallOptions): grpc.ClientDuplexStream<_tessera_v1_AttestRequest, _tessera_v1_AttestResponse__Output>;
  attest(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_tessera_v1_AttestRequest, _tessera_v1_AttestResponse__Output>;
  attest(options?: grpc.CallOptions): grpc.ClientDuplexStream<_tessera_v1_AttestRequest, _tessera_v1_AttestResponse__Output>;
  
  BatchSignX509SVID(argument: _tessera_v1_BatchSignX509SVIDRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_BatchSignX509SVIDResponse__Output>): grpc.ClientUnaryCall;
  BatchSignX509SVID(argument: _tessera_v1_BatchSignX509SVIDRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_BatchSignX509SVIDResponse__Output>): grpc.ClientUnaryCall;
  BatchSignX509SVID(argument: _tessera_v1_BatchSignX509SVIDRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_BatchSignX509SVIDResponse__Output>): grpc.ClientUnaryCall;
  BatchSignX509SVID(argument: _tessera_v1_BatchSignX509SVIDRequest, callback: grpc.requestCallback<_tessera_v1_BatchSignX509SVIDResponse__Output>): grpc.ClientUnaryCall;
  batchSignX509Svid(argument: _tessera_v1_BatchSignX509SVIDRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_BatchSignX509SVIDResponse__Output>): grpc.ClientUnaryCall;
  batchSignX509Svid(argument: _tessera_v1_BatchSignX509SVIDRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_BatchSignX509SVIDResponse__Output>): grpc.ClientUnaryCall;
  batchSignX509Svid(argument: _tessera_v1_BatchSignX509SVIDRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_BatchSignX509SVIDResponse__Output>): grpc.ClientUnaryCall;
  batchSignX509Svid(argument: _tessera_v1_BatchSignX509SVIDRequest, callback: grpc.requestCallback<_tessera_v1_BatchSignX509SVIDResponse__Output>): grpc.ClientUnaryCall;
  
  GetBundle(argument: _tessera_v1_GetBundleRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  GetBundle(argument: _tessera_v1_GetBundleRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  GetBundle(argument: _tessera_v1_GetBundleRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  GetBundle(argument: _tessera_v1_GetBundleRequest, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  getBundle(argument: _tessera_v1_GetBundleRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  getBundle(argument: _tessera_v1_GetBundleRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  getBundle(argument: _tessera_v1_GetBundleRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  getBundle(argument: _tessera_v1_GetBundleRequest, callback: grpc.requestCallback<_tessera_v1_Bundle__Output>): grpc.ClientUnaryCall;
  
  MintJWTSVID(argument: _tessera_v1_MintJWTSVIDRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_MintJWTSVIDResponse__Output>): grpc.ClientUnaryCall;
  MintJWTSVID(argument: _tessera_v1_MintJWTSVIDRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_MintJWTSVIDResponse__Output>): grpc.ClientUnaryCall;
  MintJWTSVID(argument: _tessera_v1_MintJWTSVIDRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_MintJWTSVIDResponse__Output>): grpc.ClientUnaryCall;
  MintJWTSVID(argument: _tessera_v1_MintJWTSVIDRequest, callback: grpc.requestCallback<_tessera_v1_MintJWTSVIDResponse__Output>): grpc.ClientUnaryCall;
  mintJwtsvid(argument: _tessera_v1_MintJWTSVIDRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_MintJWTSVIDResponse__Output>): grpc.ClientUnaryCall;
  mintJwtsvid(argument: _tessera_v1_MintJWTSVIDRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_MintJWTSVIDResponse__Output>): grpc.ClientUnaryCall;
  mintJwtsvid(argument: _tessera_v1_MintJWTSVIDRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_MintJWTSVIDResponse__Output>): grpc.ClientUnaryCall;
  mintJwtsvid(argument: _tessera_v1_MintJWTSVIDRequest, callback: grpc.requestCallback<_tessera_v1_MintJWTSVIDResponse__Output>): grpc.ClientUnaryCall;
  
  MintWITSVID(argument: _tessera_v1_MintWITSVIDRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_MintWITSVIDResponse__Output>): grpc.ClientUnaryCall;
  MintWITSVID(argument: _tessera_v1_MintWITSVIDRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_MintWITSVIDResponse__Output>): grpc.ClientUnaryCall;
  MintWITSVID(argument: _tessera_v1_MintWITSVIDRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_MintWITSVIDResponse__Output>): grpc.ClientUnaryCall;
  MintWITSVID(argument: _tessera_v1_MintWITSVIDRequest, callback: grpc.requestCallback<_tessera_v1_MintWITSVIDResponse__Output>): grpc.ClientUnaryCall;
  mintWitsvid(argument: _tessera_v1_MintWITSVIDRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_MintWITSVIDResponse__Output>): grpc.ClientUnaryCall;
  mintWitsvid(argument: _tessera_v1_MintWITSVIDRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_MintWITSVIDResponse__Output>): grpc.ClientUnaryCall;
  mintWitsvid(argument: _tessera_v1_MintWITSVIDRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_MintWITSVIDResponse__Output>): grpc.ClientUnaryCall;
  mintWitsvid(argument: _tessera_v1_MintWITSVIDRequest, callback: grpc.requestCallback<_tessera_v1_MintWITSVIDResponse__Output>): grpc.ClientUnaryCall;
  
  RecordAction(argument: _tessera_v1_AgentRecordActionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AgentRecordActionResponse__Output>): grpc.ClientUnaryCall;
  RecordAction(argument: _tessera_v1_AgentRecordActionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AgentRecordActionResponse__Output>): grpc.ClientUnaryCall;
  RecordAction(argument: _tessera_v1_AgentRecordActionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AgentRecordActionResponse__Output>): grpc.ClientUnaryCall;
  RecordAction(argument: _tessera_v1_AgentRecordActionRequest, callback: grpc.requestCallback<_tessera_v1_AgentRecordActionResponse__Output>): grpc.ClientUnaryCall;
  recordAction(argument: _tessera_v1_AgentRecordActionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AgentRecordActionResponse__Output>): grpc.ClientUnaryCall;
  recordAction(argument: _tessera_v1_AgentRecordActionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_AgentRecordActionResponse__Output>): grpc.ClientUnaryCall;
  recordAction(argument: _tessera_v1_AgentRecordActionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_AgentRecordActionResponse__Output>): grpc.ClientUnaryCall;
  recordAction(argument: _tessera_v1_AgentRecordActionRequest, callback: grpc.requestCallback<_tessera_v1_AgentRecordActionResponse__Output>): grpc.ClientUnaryCall;
  
  RenewAgent(argument: _tessera_v1_RenewAgentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_RenewAgentResponse__Output>): grpc.ClientUnaryCall;
  RenewAgent(argument: _tessera_v1_RenewAgentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_RenewAgentResponse__Output>): grpc.ClientUnaryCall;
  RenewAgent(argument: _tessera_v1_RenewAgentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_RenewAgentResponse__Output>): grpc.ClientUnaryCall;
  RenewAgent(argument: _tessera_v1_RenewAgentRequest, callback: grpc.requestCallback<_tessera_v1_RenewAgentResponse__Output>): grpc.ClientUnaryCall;
  renewAgent(argument: _tessera_v1_RenewAgentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_RenewAgentResponse__Output>): grpc.ClientUnaryCall;
  renewAgent(argument: _tessera_v1_RenewAgentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_RenewAgentResponse__Output>): grpc.ClientUnaryCall;
  renewAgent(argument: _tessera_v1_RenewAgentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_RenewAgentResponse__Output>): grpc.ClientUnaryCall;
  renewAgent(argument: _tessera_v1_RenewAgentRequest, callback: grpc.requestCallback<_tessera_v1_RenewAgentResponse__Output>): grpc.ClientUnaryCall;
  
  SyncEntries(argument: _tessera_v1_SyncEntriesRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tessera_v1_SyncEntriesResponse__Output>;
  SyncEntries(argument: _tessera_v1_SyncEntriesRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tessera_v1_SyncEntriesResponse__Output>;
  syncEntries(argument: _tessera_v1_SyncEntriesRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tessera_v1_SyncEntriesResponse__Output>;
  syncEntries(argument: _tessera_v1_SyncEntriesRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tessera_v1_SyncEntriesResponse__Output>;
  
}

export interface AgentServiceHandlers extends grpc.UntypedServiceImplementation {
  Attest: grpc.handleBidiStreamingCall<_tessera_v1_AttestRequest__Output, _tessera_v1_AttestResponse>;
  
  BatchSignX509SVID: grpc.handleUnaryCall<_tessera_v1_BatchSignX509SVIDRequest__Output, _tessera_v1_BatchSignX509SVIDResponse>;
  
  GetBundle: grpc.handleUnaryCall<_tessera_v1_GetBundleRequest__Output, _tessera_v1_Bundle>;
  
  MintJWTSVID: grpc.handleUnaryCall<_tessera_v1_MintJWTSVIDRequest__Output, _tessera_v1_MintJWTSVIDResponse>;
  
  MintWITSVID: grpc.handleUnaryCall<_tessera_v1_MintWITSVIDRequest__Output, _tessera_v1_MintWITSVIDResponse>;
  
  RecordAction: grpc.handleUnaryCall<_tessera_v1_AgentRecordActionRequest__Output, _tessera_v1_AgentRecordActionResponse>;
  
  RenewAgent: grpc.handleUnaryCall<_tessera_v1_RenewAgentRequest__Output, _tessera_v1_RenewAgentResponse>;
  
  SyncEntries: grpc.handleServerStreamingCall<_tessera_v1_SyncEntriesRequest__Output, _tessera_v1_SyncEntriesResponse>;
  
}

export interface AgentServiceDefinition extends grpc.ServiceDefinition {
  Attest: MethodDefinition<_tessera_v1_AttestRequest, _tessera_v1_AttestResponse, _tessera_v1_AttestRequest__Output, _tessera_v1_AttestResponse__Output>
  BatchSignX509SVID: MethodDefinition<_tessera_v1_BatchSignX509SVIDRequest, _tessera_v1_BatchSignX509SVIDResponse, _tessera_v1_BatchSignX509SVIDRequest__Output, _tessera_v1_BatchSignX509SVIDResponse__Output>
  GetBundle: MethodDefinition<_tessera_v1_GetBundleRequest, _tessera_v1_Bundle, _tessera_v1_GetBundleRequest__Output, _tessera_v1_Bundle__Output>
  MintJWTSVID: MethodDefinition<_tessera_v1_MintJWTSVIDRequest, _tessera_v1_MintJWTSVIDResponse, _tessera_v1_MintJWTSVIDRequest__Output, _tessera_v1_MintJWTSVIDResponse__Output>
  MintWITSVID: MethodDefinition<_tessera_v1_MintWITSVIDRequest, _tessera_v1_MintWITSVIDResponse, _tessera_v1_MintWITSVIDRequest__Output, _tessera_v1_MintWITSVIDResponse__Output>
  RecordAction: MethodDefinition<_tessera_v1_AgentRecordActionRequest, _tessera_v1_AgentRecordActionResponse, _tessera_v1_AgentRecordActionRequest__Output, _tessera_v1_AgentRecordActionResponse__Output>
  RenewAgent: MethodDefinition<_tessera_v1_RenewAgentRequest, _tessera_v1_RenewAgentResponse, _tessera_v1_RenewAgentRequest__Output, _tessera_v1_RenewAgentResponse__Output>
  SyncEntries: MethodDefinition<_tessera_v1_SyncEntriesRequest, _tessera_v1_SyncEntriesResponse, _tessera_v1_SyncEntriesRequest__Output, _tessera_v1_SyncEntriesResponse__Output>
}
