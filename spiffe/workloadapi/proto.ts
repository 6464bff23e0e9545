import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from '../../proto/gen/spiffe/workload.ts';
import { WORKLOAD_DESCRIPTOR } from './workload-descriptor.ts';

/**
 * Loads the Workload API definition (proto/spiffe/workload.proto, no package line,
 * so method paths are /SpiffeWorkloadAPI/<Rpc>). The definition is embedded as a JSON
 * descriptor (workload-descriptor.ts, npm run gen:descriptor) rather than read from disk:
 * a path relative to this module does not survive bundling or the published SDK.
 * spiffe/ stays independent of common/, so it has its own loader with the options
 * proto/gen was generated with (keepCase is baked into the descriptor).
 */
let loaded: ProtoGrpcType | undefined;

/** The package definition (also what a server needs for gRPC reflection). */
export function workloadPackageDefinition(): protoLoader.PackageDefinition {
  return protoLoader.fromJSON(
    WORKLOAD_DESCRIPTOR as Parameters<typeof protoLoader.fromJSON>[0],
    { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true },
  );
}

export function loadWorkloadProto(): ProtoGrpcType {
  loaded ??= grpc.loadPackageDefinition(workloadPackageDefinition()) as unknown as ProtoGrpcType;
  return loaded;
}

/** The header every Workload API request carries (SPIFFE Workload Endpoint). */
export const WORKLOAD_HEADER = { key: 'workload.spiffe.io', value: 'true' } as const;
