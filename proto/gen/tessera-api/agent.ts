import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Agent as _tessera_v1_Agent, Agent__Output as _tessera_v1_Agent__Output } from './tessera/v1/Agent';
import type { AgentMetadata as _tessera_v1_AgentMetadata, AgentMetadata__Output as _tessera_v1_AgentMetadata__Output } from './tessera/v1/AgentMetadata';
import type { AgentRecordActionRequest as _tessera_v1_AgentRecordActionRequest, AgentRecordActionRequest__Output as _tessera_v1_AgentRecordActionRequest__Output } from './tessera/v1/AgentRecordActionRequest';
import type { AgentRecordActionResponse as _tessera_v1_AgentRecordActionResponse, AgentRecordActionResponse__Output as _tessera_v1_AgentRecordActionResponse__Output } from './tessera/v1/AgentRecordActionResponse';
import type { AgentServiceClient as _tessera_v1_AgentServiceClient, AgentServiceDefinition as _tessera_v1_AgentServiceDefinition } from './tessera/v1/AgentService';
import type { AttestRequest as _tessera_v1_AttestRequest, AttestRequest__Output as _tessera_v1_AttestRequest__Output } from './tessera/v1/AttestRequest';
import type { AttestResponse as _tessera_v1_AttestResponse, AttestResponse__Output as _tessera_v1_AttestResponse__Output } from './tessera/v1/AttestResponse';
import type { AttestResult as _tessera_v1_AttestResult, AttestResult__Output as _tessera_v1_AttestResult__Output } from './tessera/v1/AttestResult';
import type { AttestationParams as _tessera_v1_AttestationParams, AttestationParams__Output as _tessera_v1_AttestationParams__Output } from './tessera/v1/AttestationParams';
import type { BatchSignX509SVIDRequest as _tessera_v1_BatchSignX509SVIDRequest, BatchSignX509SVIDRequest__Output as _tessera_v1_BatchSignX509SVIDRequest__Output } from './tessera/v1/BatchSignX509SVIDRequest';
import type { BatchSignX509SVIDResponse as _tessera_v1_BatchSignX509SVIDResponse, BatchSignX509SVIDResponse__Output as _tessera_v1_BatchSignX509SVIDResponse__Output } from './tessera/v1/BatchSignX509SVIDResponse';
import type { Bundle as _tessera_v1_Bundle, Bundle__Output as _tessera_v1_Bundle__Output } from './tessera/v1/Bundle';
import type { Entry as _tessera_v1_Entry, Entry__Output as _tessera_v1_Entry__Output } from './tessera/v1/Entry';
import type { FederatedBundles as _tessera_v1_FederatedBundles, FederatedBundles__Output as _tessera_v1_FederatedBundles__Output } from './tessera/v1/FederatedBundles';
import type { GetBundleRequest as _tessera_v1_GetBundleRequest, GetBundleRequest__Output as _tessera_v1_GetBundleRequest__Output } from './tessera/v1/GetBundleRequest';
import type { JWTKey as _tessera_v1_JWTKey, JWTKey__Output as _tessera_v1_JWTKey__Output } from './tessera/v1/JWTKey';
import type { MintJWTSVIDRequest as _tessera_v1_MintJWTSVIDRequest, MintJWTSVIDRequest__Output as _tessera_v1_MintJWTSVIDRequest__Output } from './tessera/v1/MintJWTSVIDRequest';
import type { MintJWTSVIDResponse as _tessera_v1_MintJWTSVIDResponse, MintJWTSVIDResponse__Output as _tessera_v1_MintJWTSVIDResponse__Output } from './tessera/v1/MintJWTSVIDResponse';
import type { MintWITSVIDRequest as _tessera_v1_MintWITSVIDRequest, MintWITSVIDRequest__Output as _tessera_v1_MintWITSVIDRequest__Output } from './tessera/v1/MintWITSVIDRequest';
import type { MintWITSVIDResponse as _tessera_v1_MintWITSVIDResponse, MintWITSVIDResponse__Output as _tessera_v1_MintWITSVIDResponse__Output } from './tessera/v1/MintWITSVIDResponse';
import type { RenewAgentRequest as _tessera_v1_RenewAgentRequest, RenewAgentRequest__Output as _tessera_v1_RenewAgentRequest__Output } from './tessera/v1/RenewAgentRequest';
import type { RenewAgentResponse as _tessera_v1_RenewAgentResponse, RenewAgentResponse__Output as _tessera_v1_RenewAgentResponse__Output } from './tessera/v1/RenewAgentResponse';
import type { SVIDParams as _tessera_v1_SVIDParams, SVIDParams__Output as _tessera_v1_SVIDParams__Output } from './tessera/v1/SVIDParams';
import type { Selector as _tessera_v1_Selector, Selector__Output as _tessera_v1_Selector__Output } from './tessera/v1/Selector';
import type { Status as _tessera_v1_Status, Status__Output as _tessera_v1_Status__Output } from './tessera/v1/Status';
import type { SyncEntriesRequest as _tessera_v1_SyncEntriesRequest, SyncEntriesRequest__Output as _tessera_v1_SyncEntriesRequest__Output } from './tessera/v1/SyncEntriesRequest';
import type { SyncEntriesResponse as _tessera_v1_SyncEntriesResponse, SyncEntriesResponse__Output as _tessera_v1_SyncEntriesResponse__Output } from './tessera/v1/SyncEntriesResponse';
import type { X509SVIDResult as _tessera_v1_X509SVIDResult, X509SVIDResult__Output as _tessera_v1_X509SVIDResult__Output } from './tessera/v1/X509SVIDResult';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  tessera: {
    v1: {
      Agent: MessageTypeDefinition<_tessera_v1_Agent, _tessera_v1_Agent__Output>
      AgentMetadata: MessageTypeDefinition<_tessera_v1_AgentMetadata, _tessera_v1_AgentMetadata__Output>
      AgentRecordActionRequest: MessageTypeDefinition<_tessera_v1_AgentRecordActionRequest, _tessera_v1_AgentRecordActionRequest__Output>
      AgentRecordActionResponse: MessageTypeDefinition<_tessera_v1_AgentRecordActionResponse, _tessera_v1_AgentRecordActionResponse__Output>
      AgentService: SubtypeConstructor<typeof grpc.Client, _tessera_v1_AgentServiceClient> & { service: _tessera_v1_AgentServiceDefinition }
      AttestRequest: MessageTypeDefinition<_tessera_v1_AttestRequest, _tessera_v1_AttestRequest__Output>
      AttestResponse: MessageTypeDefinition<_tessera_v1_AttestResponse, _tessera_v1_AttestResponse__Output>
      AttestResult: MessageTypeDefinition<_tessera_v1_AttestResult, _tessera_v1_AttestResult__Output>
      AttestationParams: MessageTypeDefinition<_tessera_v1_AttestationParams, _tessera_v1_AttestationParams__Output>
      BatchSignX509SVIDRequest: MessageTypeDefinition<_tessera_v1_BatchSignX509SVIDRequest, _tessera_v1_BatchSignX509SVIDRequest__Output>
      BatchSignX509SVIDResponse: MessageTypeDefinition<_tessera_v1_BatchSignX509SVIDResponse, _tessera_v1_BatchSignX509SVIDResponse__Output>
      Bundle: MessageTypeDefinition<_tessera_v1_Bundle, _tessera_v1_Bundle__Output>
      Entry: MessageTypeDefinition<_tessera_v1_Entry, _tessera_v1_Entry__Output>
      FederatedBundles: MessageTypeDefinition<_tessera_v1_FederatedBundles, _tessera_v1_FederatedBundles__Output>
      GetBundleRequest: MessageTypeDefinition<_tessera_v1_GetBundleRequest, _tessera_v1_GetBundleRequest__Output>
      JWTKey: MessageTypeDefinition<_tessera_v1_JWTKey, _tessera_v1_JWTKey__Output>
      MintJWTSVIDRequest: MessageTypeDefinition<_tessera_v1_MintJWTSVIDRequest, _tessera_v1_MintJWTSVIDRequest__Output>
      MintJWTSVIDResponse: MessageTypeDefinition<_tessera_v1_MintJWTSVIDResponse, _tessera_v1_MintJWTSVIDResponse__Output>
      MintWITSVIDRequest: MessageTypeDefinition<_tessera_v1_MintWITSVIDRequest, _tessera_v1_MintWITSVIDRequest__Output>
      MintWITSVIDResponse: MessageTypeDefinition<_tessera_v1_MintWITSVIDResponse, _tessera_v1_MintWITSVIDResponse__Output>
      RenewAgentRequest: MessageTypeDefinition<_tessera_v1_RenewAgentRequest, _tessera_v1_RenewAgentRequest__Output>
      RenewAgentResponse: MessageTypeDefinition<_tessera_v1_RenewAgentResponse, _tessera_v1_RenewAgentResponse__Output>
      SVIDParams: MessageTypeDefinition<_tessera_v1_SVIDParams, _tessera_v1_SVIDParams__Output>
      Selector: MessageTypeDefinition<_tessera_v1_Selector, _tessera_v1_Selector__Output>
      Status: MessageTypeDefinition<_tessera_v1_Status, _tessera_v1_Status__Output>
      SyncEntriesRequest: MessageTypeDefinition<_tessera_v1_SyncEntriesRequest, _tessera_v1_SyncEntriesRequest__Output>
      SyncEntriesResponse: MessageTypeDefinition<_tessera_v1_SyncEntriesResponse, _tessera_v1_SyncEntriesResponse__Output>
      X509SVIDResult: MessageTypeDefinition<_tessera_v1_X509SVIDResult, _tessera_v1_X509SVIDResult__Output>
    }
  }
}

