import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { join } from 'node:path';
import { LOADER_OPTIONS, PROTO_DIR } from '../../common/proto.ts';

/**
 * The SPIFFE Broker API (proto/spiffe/brokerapi.proto, vendored from spiffe/spiffe).
 * Method paths are `/spiffe.broker.API/<Rpc>`. Message shapes below are what
 * proto-loader hands us with LOADER_OPTIONS (keepCase, defaults).
 */
export const BROKER_API_SERVICE = 'spiffe.broker.API';
export const BROKER_API_PREFIX = `/${BROKER_API_SERVICE}/`;
/** The SSRF-hardening header every Broker API request must carry (Broker Endpoint §3). */
export const BROKER_SECURITY_HEADER = 'broker.spiffe.io';
export const BROKER_SECURITY_HEADER_VALUE = 'true';
/** The spec's builtin reference types, as packed into WorkloadReference.reference (Any). */
export const PID_REFERENCE_TYPE = 'type.googleapis.com/spiffe.broker.WorkloadPIDReference';
export const K8S_OBJECT_REFERENCE_TYPE = 'type.googleapis.com/spiffe.broker.KubernetesObjectReference';

export interface AnyMessage { type_url: string; value: Buffer }
export interface WorkloadReferenceMsg { reference?: AnyMessage | null }
export interface ReferenceRequest { reference?: WorkloadReferenceMsg | null }
export interface FetchJWTSVIDRequestMsg extends ReferenceRequest { audience: string[]; spiffe_id: string }
export interface X509SVIDMsg { spiffe_id: string; x509_svid: Uint8Array; x509_svid_key: Uint8Array; bundle: Uint8Array; hint: string }
export interface SubscribeToX509SVIDResponseMsg { svids: X509SVIDMsg[]; crl: Uint8Array[]; federated_bundles: Record<string, Uint8Array> }
export interface SubscribeToX509BundlesResponseMsg { crl: Uint8Array[]; bundles: Record<string, Uint8Array> }
export interface SubscribeToJWTBundlesResponseMsg { bundles: Record<string, Uint8Array> }
export interface JWTSVIDMsg { spiffe_id: string; svid: string; hint: string }
export interface FetchJWTSVIDResponseMsg { svids: JWTSVIDMsg[] }

export interface BrokerApiHandlers extends grpc.UntypedServiceImplementation {
  SubscribeToX509SVID: grpc.handleServerStreamingCall<ReferenceRequest, SubscribeToX509SVIDResponseMsg>;
  SubscribeToX509Bundles: grpc.handleServerStreamingCall<ReferenceRequest, SubscribeToX509BundlesResponseMsg>;
  FetchJWTSVID: grpc.handleUnaryCall<FetchJWTSVIDRequestMsg, FetchJWTSVIDResponseMsg>;
  SubscribeToJWTBundles: grpc.handleServerStreamingCall<ReferenceRequest, SubscribeToJWTBundlesResponseMsg>;
}

export interface BrokerApiProto {
  packageDefinition: protoLoader.PackageDefinition;
  service: grpc.ServiceDefinition;
  /** Client constructor (tests, bench, brokers written against this repo). */
  Client: grpc.ServiceClientConstructor;
  /** protobufjs types of the reference messages, to unpack (and, for clients, pack) the Any. */
  types: { pid: protobuf.Type; k8sObject: protobuf.Type };
}

let loaded: BrokerApiProto | undefined;

/** Loads proto/spiffe/brokerapi.proto with the options every other proto here uses. */
export function loadBrokerApiProto(): BrokerApiProto {
  if (loaded) return loaded;
  const packageDefinition = protoLoader.loadSync('spiffe/brokerapi.proto', LOADER_OPTIONS);
  const pkg = grpc.loadPackageDefinition(packageDefinition) as unknown as { spiffe: { broker: { API: grpc.ServiceClientConstructor } } };
  const root = protobuf.loadSync(join(PROTO_DIR, 'spiffe/brokerapi.proto'));
  loaded = {
    packageDefinition,
    service: pkg.spiffe.broker.API.service,
    Client: pkg.spiffe.broker.API,
    types: { pid: root.lookupType('spiffe.broker.WorkloadPIDReference'), k8sObject: root.lookupType('spiffe.broker.KubernetesObjectReference') },
  };
  return loaded;
}

/** A WorkloadReference with a packed WorkloadPIDReference (for clients). */
export function pidReference(pid: number): { reference: AnyMessage } {
  const { pid: type } = loadBrokerApiProto().types;
  return { reference: { type_url: PID_REFERENCE_TYPE, value: Buffer.from(type.encode(type.create({ pid })).finish()) } };
}
