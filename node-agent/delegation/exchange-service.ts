import * as grpc from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';
import { failedPrecondition, invalidArgument, permissionDenied } from '../../common/errors.ts';
import { toGrpcError, type GrpcError } from '../../common/grpc-status.ts';
import { rateLimited, type Logger } from '../../common/logger.ts';
import type { Clock } from '../../common/clock.ts';
import { loadDelegationProto } from '../../common/proto.ts';
import { X509Bundle, type X509BundleSource } from '../../spiffe/bundle/x509bundle.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import { parseX509Svid, type X509Svid } from '../../spiffe/x509svid/parse.ts';
import type { DelegationHandlers } from '../../proto/gen/tessera-api/tessera/agent/v1/Delegation.ts';
import type { ExchangeTokenRequest__Output } from '../../proto/gen/tessera-api/tessera/agent/v1/ExchangeTokenRequest.ts';
import type { ExchangeTokenResponse } from '../../proto/gen/tessera-api/tessera/agent/v1/ExchangeTokenResponse.ts';
import type { AttestedWorkload, IdentityProvider, WorkloadX509Svid } from '../workload-api/provider.ts';
import type { CallerResolver } from '../workload-api/caller.ts';
import { MAX_AUDIENCE_BYTES, MAX_AUDIENCES } from '../workload-api/handlers.ts';
import { ExchangeLimiter, type ExchangeLimits } from './limits.ts';
import { TokenEndpointClient, TokenEndpointError, type TokenExchangeParams } from './token-endpoint-client.ts';

/** Method paths of the service: attested by the Workload API's caller interceptor like SpiffeWorkloadAPI's. */
export const DELEGATION_PREFIX = '/tessera.agent.v1.Delegation/';
/** Trailing metadata naming the OAuth error the authorization server answered with. */
export const OAUTH_ERROR_TRAILER = 'oauth-error';
export const NOT_CONFIGURED = 'token exchange is not configured on this agent: set delegation.token_endpoint';

export interface DelegationOptions {
  /** The authorization server's token endpoint (https://…/oauth2/token); absent = the RPC answers FAILED_PRECONDITION. */
  tokenEndpoint?: string;
  /** Deadline of one exchange at the token endpoint. Default 10 s. */
  timeoutMs?: number;
  limits?: ExchangeLimits;
}

export interface DelegationServiceDeps {
  provider: IdentityProvider;
  callers: CallerResolver;
  logger: Logger;
  clock: Clock;
  options?: DelegationOptions;
}

const CONTROL = /[\u0000-\u001f\u007f]/;
const MAX_SCOPE_BYTES = 4096;

/**
 * Registers the Delegation service (proto/tessera/delegation.proto) on the Workload API
 * socket's gRPC server; returns its package definition for reflection.
 */
export function addDelegationService(server: grpc.Server, deps: DelegationServiceDeps): protoLoader.PackageDefinition {
  const proto = loadDelegationProto();
  server.addService(proto.grpc.tessera.agent.v1.Delegation.service, delegationHandlers(deps));
  return proto.packageDefinition;
}

/**
 * ExchangeToken: the caller is attested exactly as for FetchX509SVID (interceptor), its
 * X.509-SVID is picked from its own identities (never one it names outside them), and
 * the agent performs the RFC 8693 exchange with that SVID as the mTLS client
 * certificate: the server sees the workload as actor and binds the token to the
 * certificate the workload holds. The workload sends only the subject token.
 */
export function delegationHandlers(d: DelegationServiceDeps): DelegationHandlers {
  const { provider, callers, clock } = d;
  const opts = d.options ?? {};
  const log = d.logger.child({ component: 'delegation' });
  // Refusals before any exchange cost the caller nothing: bound their log lines.
  const refusalLog = rateLimited(log, 10_000, () => clock.now());
  const client = opts.tokenEndpoint
    ? new TokenEndpointClient({ url: new URL(opts.tokenEndpoint), timeoutMs: opts.timeoutMs, now: () => clock.now() })
    : undefined;
  const limiter = new ExchangeLimiter(opts.limits, () => clock.now());
  // One parsed SVID (and so one TLS context) per SVID the provider hands out, until it rotates.
  const parsed = new WeakMap<WorkloadX509Svid, X509Svid>();
  const actorOf = (s: WorkloadX509Svid): X509Svid => {
    let v = parsed.get(s);
    if (!v) parsed.set(s, v = parseX509Svid(s.certChain, s.privateKey));
    return v;
  };

  return {
    ExchangeToken(call, callback) {
      let w: AttestedWorkload | undefined;
      let req: ParsedRequest | undefined;
      let actor: string | undefined;
      let reached = false;
      const ac = new AbortController();
      call.on('cancelled', () => ac.abort(new Error('the caller cancelled the call')));
      const run = async (): Promise<ExchangeTokenResponse> => {
        w = callers.callerOf(call);
        if (!client) throw failedPrecondition('ERR_DELEGATION_NOT_CONFIGURED', NOT_CONFIGURED);
        req = parseRequest(call.request);
        if (!provider.hasIdentity(w)) throw noIdentity();
        const release = limiter.acquire(w.uid);
        try {
          const svids = await provider.x509Svids(w);
          if (svids.length === 0) throw noIdentity();
          const chosen = req.spiffeId === undefined ? svids[0]! : svids.find((s) => s.spiffeId === req!.spiffeId);
          if (!chosen) {
            throw permissionDenied('ERR_DELEGATION_NOT_YOUR_IDENTITY',
              `spiffe_id ${req.spiffeId} is not an identity of this caller (it holds ${svids.map((s) => s.spiffeId).join(', ')})`);
          }
          actor = chosen.spiffeId;
          // Attestation happened when the call arrived; the pid must still be that process
          // before the agent acts as it (pid reuse → PermissionDenied).
          callers.verifierOf(call)();
          const svid = actorOf(chosen);
          reached = true;
          const r = await client.exchange(svid, bundleSourceOf(svid, chosen.bundle), req.params, ac.signal);
          return {
            access_token: r.accessToken, issued_token_type: r.issuedTokenType, token_type: r.tokenType,
            expires_in: Math.min(r.expiresIn, 0xffffffff), scope: r.scope, spiffe_id: chosen.spiffeId,
          };
        } finally {
          release();
        }
      };
      run().then((res) => {
        log.info('token exchange', {
          outcome: 'issued', pid: w!.pid, uid: w!.uid, actor, audience: req!.params.audience, resource: req!.params.resource,
          scope: res.scope, expires_in: res.expires_in,
        });
        callback(null, res);
      }, (e: unknown) => {
        const fields = {
          outcome: 'refused', pid: w?.pid, uid: w?.uid, actor, audience: req?.params.audience, resource: req?.params.resource,
          scope: req?.params.scope, code: (e as { code?: unknown }).code, oauth_error: e instanceof TokenEndpointError ? e.oauthError : undefined,
          err: e as Error,
        };
        // Every exchange that reached the authorization server is audited; local refusals are rate-limited.
        (reached ? log : refusalLog).info('token exchange', fields);
        callback(toStatus(e));
      });
    },
  };
}

interface ParsedRequest { params: TokenExchangeParams; spiffeId?: string }

const bad = (msg: string, cause?: unknown) => invalidArgument('ERR_DELEGATION_INVALID_ARGUMENT', msg, cause);
const noIdentity = () => permissionDenied('ERR_WORKLOADAPI_PERMISSION_DENIED', 'caller has no identity: no registration entry matches its selectors');

/** Shape checks only (sizes, emptiness): what the token may carry is the server's decision. */
function parseRequest(r: ExchangeTokenRequest__Output): ParsedRequest {
  if (!r.subject_token) throw bad('subject_token must be specified');
  const list = (name: string, values: string[]) => {
    if (values.length > MAX_AUDIENCES) throw bad(`${name}: at most ${MAX_AUDIENCES} values, got ${values.length}`);
    if (values.some((a) => a.length === 0)) throw bad(`${name} must not contain an empty value`);
    if (values.some((a) => Buffer.byteLength(a) > MAX_AUDIENCE_BYTES)) throw bad(`${name}: a value is longer than ${MAX_AUDIENCE_BYTES} bytes`);
    if (values.some((a) => CONTROL.test(a))) throw bad(`${name}: values must not contain control characters`);
    return values;
  };
  const audience = list('audience', r.audience ?? []);
  const resource = list('resource', r.resource ?? []);
  const scope = (r.scope ?? '').trim();
  if (Buffer.byteLength(scope) > MAX_SCOPE_BYTES) throw bad(`scope is longer than ${MAX_SCOPE_BYTES} bytes`);
  if (CONTROL.test(scope)) throw bad('scope must not contain control characters');
  for (const [name, v] of [['subject_token_type', r.subject_token_type], ['requested_token_type', r.requested_token_type]] as const) {
    if (v && (v.length > 256 || CONTROL.test(v))) throw bad(`${name} is not a token type URI`);
  }
  let spiffeId: string | undefined;
  if (r.spiffe_id) {
    try { spiffeId = SpiffeId.parse(r.spiffe_id).toString(); } catch (e) {
      throw bad(`spiffe_id "${r.spiffe_id.slice(0, 256)}" is not a valid SPIFFE ID: ${(e as Error).message.slice(0, 256)}`, e);
    }
  }
  return {
    spiffeId,
    params: {
      subjectToken: r.subject_token, subjectTokenType: r.subject_token_type || undefined,
      audience, resource, scope: scope || undefined, expiresIn: r.expires_in || undefined,
      requestedTokenType: r.requested_token_type || undefined,
    },
  };
}

/** The server is verified against the bundle of the workload SVID's own trust domain. */
function bundleSourceOf(svid: X509Svid, bundle: readonly Uint8Array[]): X509BundleSource {
  const own = new X509Bundle(svid.id.trustDomain, [...bundle]);
  return { getX509BundleForTrustDomain: (td) => (td.equals(own.trustDomain) ? own : undefined) };
}

/** The transport edge: typed error → status, plus the OAuth error code as a trailer when the server gave one. */
function toStatus(e: unknown): GrpcError {
  const g = toGrpcError(e);
  if (e instanceof TokenEndpointError && e.oauthError) {
    g.metadata ??= new grpc.Metadata();
    g.metadata.set(OAUTH_ERROR_TRAILER, e.oauthError);
  }
  return g;
}
