import { t } from '../../../common/config.ts';
import { AttestationError } from '../../../common/errors.ts';
import { agentId } from '../../../spiffe/id.ts';
import { makeSelector } from '../../../spiffe/selector.ts';
import type { NodeAttestorDeps, NodeAttestorServer, ServerAttestorFactory } from '../types.ts';

/**
 * Join token, server half. The operator mints a random single-use token with a TTL
 * (`tessera-server token generate`); the agent presents it once. Consumption is an
 * atomic datastore operation, so of two agents racing with one token exactly one wins.
 */
export const METHOD = 'join_token';
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{8,128}$/;

/** The datastore's atomic consume, handed in by the server (this half has no store of its own). */
export interface JoinTokenConsumer {
  consumeJoinToken(token: string, nowSeconds: number): Promise<'ok' | 'unknown' | 'expired'>;
}

export type JoinTokenServerDeps = NodeAttestorDeps & { joinTokens?: JoinTokenConsumer };

export function createJoinTokenAttestor(tokens: JoinTokenConsumer): NodeAttestorServer {
  return {
    method: METHOD,
    async attest(payload, ctx) {
      const token = Buffer.from(payload).toString('utf8').trim();
      if (!TOKEN_PATTERN.test(token)) {
        throw new AttestationError('invalid_argument', 'ERR_JOIN_TOKEN_MALFORMED', 'join token is malformed (expected 8-128 characters of [A-Za-z0-9_-])');
      }
      const outcome = await tokens.consumeJoinToken(token, Math.floor(ctx.now() / 1000));
      if (outcome === 'unknown') {
        throw new AttestationError('permission_denied', 'ERR_JOIN_TOKEN_UNKNOWN', 'join token is unknown or was already used');
      }
      if (outcome === 'expired') {
        throw new AttestationError('permission_denied', 'ERR_JOIN_TOKEN_EXPIRED', 'join token has expired');
      }
      return {
        agentId: agentId(ctx.trustDomain, METHOD, token),
        selectors: [makeSelector(METHOD, token)],
        // A token is single use, so a second attestation with it can never succeed anyway.
        trustOnFirstUse: false,
        audit: { method: METHOD },
      };
    },
  };
}

export const serverFactory: ServerAttestorFactory<Record<string, never>> = {
  method: METHOD,
  config: t.object({}) as unknown as ServerAttestorFactory<Record<string, never>>['config'],
  create(_config, deps: JoinTokenServerDeps) {
    if (!deps.joinTokens) throw new Error('join_token attestor needs the datastore (deps.joinTokens)');
    return createJoinTokenAttestor(deps.joinTokens);
  },
};
