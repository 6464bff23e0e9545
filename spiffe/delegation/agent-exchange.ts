import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from '../../proto/gen/tessera-api/delegation.ts';
import type { ExchangeTokenResponse__Output } from '../../proto/gen/tessera-api/tessera/agent/v1/ExchangeTokenResponse.ts';
import { addressFromEnv, grpcTarget, parseWorkloadApiAddress, type WorkloadApiAddress } from '../workloadapi/address.ts';
import { WORKLOAD_HEADER } from '../workloadapi/proto.ts';
import { DelegationError, oauthErrorCode } from './errors.ts';
import type { ExchangeTokenResult } from './exchange.ts';

/**
 * Token exchange through the local node agent (docs/agent.md "Delegated tokens"): the
 * agent knows this process by its kernel credentials, performs the RFC 8693 exchange
 * with this process's own X.509-SVID as the mTLS client certificate, and hands back a
 * token bound to that SVID. The workload sends only the subject token; it can pick
 * one of its own identities (`spiffeId`) but never name another workload as actor,
 * and it needs no token endpoint URL, server bundle or SVID of its own.
 *
 *   const { accessToken } = await exchangeTokenViaAgent({ subjectToken: idToken, audience: ['https://tools.example.org'] });
 */
export interface AgentExchangeOptions {
  subjectToken: string;
  /** Default (decided by the agent): access_token for an `at+jwt`, else jwt. */
  subjectTokenType?: string;
  audience?: string[];
  resource?: string[];
  scope?: string[];
  /** Requested lifetime, seconds. */
  expiresIn?: number;
  /** Which of this workload's own SPIFFE IDs acts; default its default identity. */
  spiffeId?: string;
  requestedTokenType?: string;
  /** The Workload API address (`unix:///path`, `tcp://ip:port`); default SPIFFE_ENDPOINT_SOCKET. */
  address?: string | WorkloadApiAddress;
  /** Deadline of the whole call (the agent's own exchange included). Default 15 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface AgentExchangeResult extends ExchangeTokenResult {
  /** The actor: this workload's SPIFFE ID whose X.509-SVID the token is bound to. */
  spiffeId: string;
}

/** The trailer in which the agent passes on the authorization server's OAuth error code. */
const OAUTH_ERROR_TRAILER = 'oauth-error';

/**
 * OAuth meaning of the agent's own refusals (no `oauth-error` trailer): the request
 * was malformed, this process has no (such) identity, the agent or server is busy or
 * unreachable, or the agent cannot exchange at all (not configured, internal).
 */
const STATUS_OAUTH_ERROR: Partial<Record<grpc.status, string>> = {
  [grpc.status.INVALID_ARGUMENT]: 'invalid_request',
  [grpc.status.PERMISSION_DENIED]: 'invalid_client',
  [grpc.status.UNAUTHENTICATED]: 'invalid_client',
  [grpc.status.UNAVAILABLE]: 'temporarily_unavailable',
  [grpc.status.RESOURCE_EXHAUSTED]: 'temporarily_unavailable',
  [grpc.status.DEADLINE_EXCEEDED]: 'temporarily_unavailable',
};

export async function exchangeTokenViaAgent(o: AgentExchangeOptions): Promise<AgentExchangeResult> {
  if (typeof o.subjectToken !== 'string' || o.subjectToken.length === 0) throw new TypeError('subjectToken is empty');
  if (o.expiresIn !== undefined && (!Number.isInteger(o.expiresIn) || o.expiresIn <= 0 || o.expiresIn > 0xffffffff)) {
    throw new TypeError(`expiresIn must be a positive integer of seconds, got ${o.expiresIn}`);
  }
  const address = typeof o.address === 'string' ? parseWorkloadApiAddress(o.address) : o.address ?? addressFromEnv();
  const Ctor = loadProto().tessera.agent.v1.Delegation;
  const client = new Ctor(grpcTarget(address), grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  md.set(WORKLOAD_HEADER.key, WORKLOAD_HEADER.value);
  const request = {
    subject_token: o.subjectToken, subject_token_type: o.subjectTokenType ?? '',
    audience: o.audience ?? [], resource: o.resource ?? [], scope: (o.scope ?? []).join(' '),
    expires_in: o.expiresIn ?? 0, spiffe_id: o.spiffeId ?? '', requested_token_type: o.requestedTokenType ?? '',
  };
  return new Promise<AgentExchangeResult>((resolve, reject) => {
    const onAbort = () => call.cancel();
    const call = client.ExchangeToken(request, md, { deadline: Date.now() + (o.timeoutMs ?? 15_000) },
      (err: grpc.ServiceError | null, res?: ExchangeTokenResponse__Output) => {
        o.signal?.removeEventListener('abort', onAbort);
        client.close();
        if (err || !res) return reject(o.signal?.aborted ? o.signal.reason : toDelegationError(err));
        resolve({
          accessToken: res.access_token, expiresIn: res.expires_in, scope: res.scope.split(' ').filter(Boolean),
          issuedTokenType: res.issued_token_type, tokenType: res.token_type || 'Bearer', spiffeId: res.spiffe_id,
        });
      });
    if (o.signal?.aborted) onAbort(); else o.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * gRPC status → DelegationError ERR_OAUTH_<ERROR>. With the agent's `oauth-error`
 * trailer that is exactly what the authorization server answered (reason 'oauth');
 * otherwise the agent refused by itself and the status says which OAuth error it is
 * closest to. `cause` keeps the gRPC ServiceError (its `code` is the status).
 */
export function toDelegationError(err: grpc.ServiceError | null | undefined): DelegationError {
  if (!err) return new DelegationError('ERR_OAUTH_SERVER_ERROR', 'the node agent answered without a response', { reason: 'bad_response', oauthError: 'server_error', description: '' });
  const status = grpc.status[err.code] ?? String(err.code);
  const details = err.details || err.message;
  const trailer = err.metadata?.get(OAUTH_ERROR_TRAILER)[0];
  if (typeof trailer === 'string' && trailer.length > 0) {
    const description = details.startsWith(`${trailer}: `) ? details.slice(trailer.length + 2) : details === trailer ? '' : details;
    return new DelegationError(oauthErrorCode(trailer), `token exchange refused: ${details}`, {
      cause: err, reason: 'oauth', oauthError: trailer, description,
    });
  }
  const oauthError = STATUS_OAUTH_ERROR[err.code] ?? 'server_error';
  return new DelegationError(oauthErrorCode(oauthError), `token exchange through the node agent failed: ${status}: ${details}`, {
    cause: err, oauthError, description: details,
  });
}

/**
 * The Delegation service (proto/tessera/delegation.proto) as an embedded protobufjs
 * descriptor: the SDK reads no .proto from disk (bundlers, the published package).
 * test/node-agent/delegation-exchange.test.ts fails when it and the .proto differ.
 */
export const DELEGATION_DESCRIPTOR = {
  nested: { tessera: { nested: { agent: { nested: { v1: { nested: {
    Delegation: { methods: { ExchangeToken: { requestType: 'ExchangeTokenRequest', responseType: 'ExchangeTokenResponse' } } },
    ExchangeTokenRequest: { fields: {
      subject_token: { type: 'string', id: 1 },
      subject_token_type: { type: 'string', id: 2 },
      audience: { rule: 'repeated', type: 'string', id: 3 },
      resource: { rule: 'repeated', type: 'string', id: 4 },
      scope: { type: 'string', id: 5 },
      expires_in: { type: 'uint32', id: 6 },
      spiffe_id: { type: 'string', id: 7 },
      requested_token_type: { type: 'string', id: 8 },
    } },
    ExchangeTokenResponse: { fields: {
      access_token: { type: 'string', id: 1 },
      issued_token_type: { type: 'string', id: 2 },
      token_type: { type: 'string', id: 3 },
      expires_in: { type: 'uint32', id: 4 },
      scope: { type: 'string', id: 5 },
      spiffe_id: { type: 'string', id: 6 },
    } },
  } } } } } } },
};

let loaded: ProtoGrpcType | undefined;

function loadProto(): ProtoGrpcType {
  loaded ??= grpc.loadPackageDefinition(protoLoader.fromJSON(
    DELEGATION_DESCRIPTOR as Parameters<typeof protoLoader.fromJSON>[0],
    { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true },
  )) as unknown as ProtoGrpcType;
  return loaded;
}
