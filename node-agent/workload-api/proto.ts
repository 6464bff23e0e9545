import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { LOADER_OPTIONS } from '../../common/proto.ts';
import type { ProtoGrpcType } from '../../proto/gen/spiffe/workload.ts';
import type { SpiffeWorkloadAPIDefinition } from '../../proto/gen/spiffe/SpiffeWorkloadAPI.ts';

/** Method paths carry no package: the spec's `/SpiffeWorkloadAPI/<Rpc>`. */
export const WORKLOAD_API_SERVICE = 'SpiffeWorkloadAPI';
export const WORKLOAD_API_PREFIX = `/${WORKLOAD_API_SERVICE}/`;
/** The security header every Workload API request must carry, with exactly this value. */
export const SECURITY_HEADER = 'workload.spiffe.io';
export const SECURITY_HEADER_VALUE = 'true';

export interface WorkloadApiProto {
  /** For server reflection. */
  packageDefinition: protoLoader.PackageDefinition;
  service: SpiffeWorkloadAPIDefinition;
  grpc: ProtoGrpcType;
}

/** Loads proto/spiffe/workload.proto with the same options the typed bindings use. */
export function loadWorkloadApiProto(): WorkloadApiProto {
  const packageDefinition = protoLoader.loadSync('spiffe/workload.proto', LOADER_OPTIONS);
  const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as ProtoGrpcType;
  return { packageDefinition, service: loaded.SpiffeWorkloadAPI.service, grpc: loaded };
}
