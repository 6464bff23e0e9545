import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';
import { PROTO_DIR } from '../../common/proto.ts';

/**
 * Envoy's Secret Discovery Service v3, loaded from the .proto files vendored under
 * proto/envoy/ (see its README): the agent never loads @grpc/grpc-js-xds at run time.
 */
export const SDS_SERVICE = 'envoy.service.secret.v3.SecretDiscoveryService';
export const SDS_PREFIX = `/${SDS_SERVICE}/`;
export const SECRET_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';
export const SPIFFE_VALIDATOR_NAME = 'envoy.tls.cert_validator.spiffe';
export const SPIFFE_VALIDATOR_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.SPIFFECertValidatorConfig';

/** The vendored trees, each kept in its upstream layout (import paths are relative to these). */
export const ENVOY_PROTO_ROOTS = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(PROTO_DIR, 'envoy', d));
/** The service plus the message types packed into its Any resources (the encoder looks them up by type URL). */
export const SDS_PROTO_FILES = [
  'envoy/service/secret/v3/sds.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls_spiffe_validator_config.proto',
];

/** The parts of the xDS messages the agent reads (proto-loader shapes: keepCase, oneofs). */
/** google.protobuf.Value as decoded (camelCase: protobufjs's bundled struct.proto ignores keepCase). */
export interface ProtoValue { kind?: string; boolValue?: boolean; stringValue?: string }
export interface EnvoyNode {
  id?: string;
  cluster?: string;
  metadata?: { fields?: Record<string, ProtoValue> } | null;
  user_agent_name?: string;
  user_agent_build_version?: { version?: { major_number?: number; minor_number?: number; patch?: number } | null } | null;
}
export interface DiscoveryRequest {
  version_info?: string;
  node?: EnvoyNode | null;
  resource_names?: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string } | null;
}
/** A Secret packed in an Any: protobufjs encodes objects carrying "@type" as that message. */
export type SecretResource = Record<string, unknown> & { '@type': typeof SECRET_TYPE_URL; name: string };
export interface DiscoveryResponse {
  version_info: string;
  resources: SecretResource[];
  type_url: string;
  nonce: string;
}

export interface SdsProto {
  packageDefinition: protoLoader.PackageDefinition;
  service: grpc.ServiceDefinition;
}

let loaded: SdsProto | undefined;

/** Same loader options as the Workload API, so both services share one set of conventions. */
export function loadSdsProto(): SdsProto {
  if (!loaded) {
    const packageDefinition = protoLoader.loadSync(SDS_PROTO_FILES, {
      keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: ENVOY_PROTO_ROOTS,
    });
    const g = grpc.loadPackageDefinition(packageDefinition) as unknown as {
      envoy: { service: { secret: { v3: { SecretDiscoveryService: grpc.ServiceClientConstructor } } } };
    };
    loaded = { packageDefinition, service: g.envoy.service.secret.v3.SecretDiscoveryService.service };
  }
  return loaded;
}
