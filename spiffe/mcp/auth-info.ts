import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { InsufficientScopeError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { Actor, DelegatedToken } from '../delegation/types.ts';

/**
 * The caller of an MCP request as tool handlers see it. The resource server puts the
 * verified delegated token into the MCP SDK's `AuthInfo` (`req.auth`, which
 * StreamableHTTPServerTransport hands to every handler as `extra.authInfo`):
 * `clientId` = the current agent, `scopes`, `expiresAt`, `resource`, and
 * `extra.delegation` = the DelegatedToken itself. callerOf() reads it back typed.
 */
export interface McpCaller {
  /** The user the agents act for: `<idp issuer>#<subject>`. */
  user: string;
  userIssuer: string;
  userName: string;
  /** The agent presenting the token (current actor, = client_id). */
  agent: string;
  /** Every agent of the delegation chain, current first (`[agent, its delegator, …]`). */
  chain: string[];
  /** The same with agent claims (model, provider, version, instance). */
  actors: Actor[];
  scopes: string[];
  delegation: DelegatedToken;
}

/** What `AuthInfo.extra` holds for a Tessera token. */
export interface TesseraAuthExtra extends Record<string, unknown> {
  delegation: DelegatedToken;
  user: string;
  chain: string[];
}

export function toAuthInfo(t: DelegatedToken, resource: URL): AuthInfo {
  const extra: TesseraAuthExtra = { delegation: t, user: t.subject, chain: t.actors.map((a) => a.id.toString()) };
  return {
    token: t.token, clientId: t.clientId, scopes: t.scopes,
    expiresAt: Math.floor(t.expiresAt.getTime() / 1000), resource, extra,
  };
}

/** The Tessera caller behind an `AuthInfo`, or undefined when the request was not authenticated by the Tessera resource server. */
export function callerOf(authInfo: AuthInfo | undefined): McpCaller | undefined {
  const t = (authInfo?.extra as Partial<TesseraAuthExtra> | undefined)?.delegation;
  if (!t || typeof t !== 'object' || !Array.isArray(t.actors)) return undefined;
  const chain = t.actors.map((a) => a.id.toString());
  return {
    user: t.subject, userIssuer: t.subjectIssuer, userName: t.subjectName,
    agent: chain[0] ?? t.clientId, chain, actors: t.actors, scopes: t.scopes, delegation: t,
  };
}

/**
 * Which granted scopes satisfy which needed ones. MCP authorization: servers "MUST
 * account for scope hierarchies, where a broader scope implies narrower ones":
 * `implies` maps a broad scope to the narrower ones it covers (transitively).
 */
export type ScopeImplications = Readonly<Record<string, readonly string[]>>;

export function missingScopes(granted: readonly string[], needed: readonly string[], implies?: ScopeImplications): string[] {
  if (needed.length === 0) return [];
  const missing = needed.filter((s) => !granted.includes(s));
  if (missing.length === 0 || !implies) return missing;
  const covered = closure(granted, implies);
  return missing.filter((s) => !covered.has(s));
}

function closure(granted: readonly string[], implies: ScopeImplications): Set<string> {
  const out = new Set<string>(granted);
  const todo = [...granted];
  while (todo.length > 0) {
    for (const s of implies[todo.pop()!] ?? []) if (!out.has(s)) { out.add(s); todo.push(s); }
  }
  return out;
}

/**
 * Inside a tool handler: throws the MCP SDK's InsufficientScopeError naming the
 * scopes (all of them, as one challenge) when the caller lacks any. The SDK turns a
 * handler's error into a tool error result (HTTP 200), so the 403 step-up a client
 * can act on comes from the resource server's check before the transport, which
 * `resourceServer.requireScopes(tool, scopes)` declares; this is the same rule
 * enforced a second time where the work happens.
 */
export function requireScopes(authInfo: AuthInfo | undefined, ...scopes: string[]): void {
  const granted = authInfo?.scopes ?? [];
  const missing = missingScopes(granted, scopes);
  if (missing.length > 0) {
    throw new InsufficientScopeError(`insufficient_scope: this operation needs scope "${scopes.join(' ')}"; the token lacks ${missing.join(' ')} (it has: ${granted.join(' ') || 'none'})`);
  }
}
