import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import type { ProtoGrpcType as AgentProto } from '../proto/gen/tessera-api/agent.ts';
import type { ProtoGrpcType as AdminProto } from '../proto/gen/tessera-api/admin.ts';
import type { ProtoGrpcType as DelegationProto } from '../proto/gen/tessera-api/delegation.ts';

/**
 * Loads Tessera's own server APIs. The options must match the ones the typed
 * bindings in proto/gen were generated with (npm run gen:proto).
 */
export const PROTO_DIR = fileURLToPath(new URL('../proto/', import.meta.url));
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR],
};

let agentProto: AgentProto | undefined;
let adminProto: AdminProto | undefined;
let delegationProto: { grpc: DelegationProto; packageDefinition: protoLoader.PackageDefinition } | undefined;

export function loadAgentProto(): AgentProto {
  agentProto ??= grpc.loadPackageDefinition(
    protoLoader.loadSync('tessera/agent.proto', LOADER_OPTIONS)) as unknown as AgentProto;
  return agentProto;
}

export function loadAdminProto(): AdminProto {
  adminProto ??= grpc.loadPackageDefinition(
    protoLoader.loadSync('tessera/admin.proto', LOADER_OPTIONS)) as unknown as AdminProto;
  return adminProto;
}

/**
 * The agent's Delegation service (token exchange on the Workload API socket), with its
 * package definition for the socket's reflection service.
 */
export function loadDelegationProto(): { grpc: DelegationProto; packageDefinition: protoLoader.PackageDefinition } {
  if (!delegationProto) {
    const packageDefinition = protoLoader.loadSync('tessera/delegation.proto', LOADER_OPTIONS);
    delegationProto = { grpc: grpc.loadPackageDefinition(packageDefinition) as unknown as DelegationProto, packageDefinition };
  }
  return delegationProto;
}
