import { BundleSet } from '../../spiffe/bundle/set.ts';
import { SpiffeBundle } from '../../spiffe/bundle/spiffebundle.ts';
import { TrustDomain } from '../../spiffe/id.ts';
import { StaticX509Source } from '../../spiffe/source/static.ts';
import { parseX509Svid } from '../../spiffe/x509svid/parse.ts';
import { ID_TOKEN, startEnv, type Env, type HttpResult, type Scope, type Workload } from '../oauth/harness.ts';

/**
 * A real in-process server for AuthZEN decisions: agent A may act for users in eng on the
 * tools (files:read; payments:send twice per grant; files:delete only with the user's
 * approval) and hand files:read to sub-agents; an indexer may act for itself; the
 * gateway may turn tokens into txn tokens. The PEP is a tool with its own SVID.
 */
export const TOOLS = 'https://tools.example.org';
export const TD = 'spiffe://example.org';
export const AGENT = 'spiffe://example.org/agents/researcher';
export const SUB = 'spiffe://example.org/agents/sub/reviewer';
export const INDEXER = 'spiffe://example.org/agents/indexer';

export interface AuthzenEnv extends Env {
  bundles: BundleSet;
  tool: Workload;
  /** alice's (or `user`'s) delegated token held by agent A. */
  token(o?: { scope?: string; user?: string }): Promise<string>;
  /** A sub-agent's narrower token derived from `parent`. */
  subToken(parent: string): Promise<string>;
  /** POST a JSON body to an AuthZEN endpoint as the tool (or `as`). */
  pdp(path: string, body: unknown, o?: { as?: Workload | null; headers?: Record<string, string>; contentType?: string }): Promise<HttpResult>;
  sourceOf(w: Workload): StaticX509Source;
}

export async function startAuthzenEnv(scope: Scope, oauth?: Record<string, unknown>): Promise<AuthzenEnv> {
  const env = await startEnv(scope, oauth ? { oauth } : {});
  await env.policy({
    id: 'pol_agent', actors: [AGENT], groups: ['eng'], audiences: [TOOLS], scopes: ['files:read', 'payments:send'], maxTtl: 300, maxDepth: 2,
    mayDelegateTo: ['spiffe://example.org/agents/sub/*'], budgets: { 'payments:send': 2 },
    approval: { scopes: ['files:delete'], approvers: ['subject'] },
  });
  await env.policy({ id: 'pol_sub', actors: ['spiffe://example.org/agents/sub/*'], groups: ['eng'], audiences: [TOOLS], scopes: ['files:read'], maxTtl: 120, maxDepth: 2 });
  await env.policy({ id: 'pol_self', actors: [INDEXER], subjectIssuer: env.issuer, audiences: [TOOLS], scopes: ['index:build'], maxTtl: 60 });
  await env.policy({ id: 'pol_gateway', actors: ['spiffe://example.org/services/gateway'], groups: ['eng'], audiences: [TD], scopes: ['files:read'], maxTtl: 60 });
  const bundles = new BundleSet([new SpiffeBundle(TrustDomain.parse('example.org'), { x509Authorities: env.server.ca.x509Authorities() })]);
  const tool = env.svid('/services/tools');
  return Object.assign(env, {
    bundles, tool,
    async token(o: { scope?: string; user?: string } = {}) {
      const r = await env.exchange({ subject_token: await env.idp.token({ sub: o.user ?? 'alice', groups: ['eng'] }), subject_token_type: ID_TOKEN,
        audience: TOOLS, scope: o.scope ?? 'files:read payments:send' }, env.svid('/agents/researcher', { agent_model: 'claude-sonnet-4' }));
      if (r.status !== 200) throw new Error(r.text);
      return r.json.access_token as string;
    },
    async subToken(parent: string) {
      const r = await env.exchange({ subject_token: parent, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', audience: TOOLS, scope: 'files:read' },
        env.svid('/agents/sub/reviewer'));
      if (r.status !== 200) throw new Error(r.text);
      return r.json.access_token as string;
    },
    pdp: (path: string, body: unknown, o: { as?: Workload | null; headers?: Record<string, string>; contentType?: string } = {}) => env.request('POST', path, {
      body: typeof body === 'string' ? body : JSON.stringify(body), contentType: o.contentType ?? 'application/json',
      ...(o.as === null ? {} : { as: o.as ?? tool }), ...(o.headers ? { headers: o.headers } : {}),
    }),
    sourceOf: (w: Workload) => new StaticX509Source({ svid: parseX509Svid(w.chain, new Uint8Array(w.key.export({ type: 'pkcs8', format: 'der' }))), bundles }),
  });
}

/** An evaluation of `action` on a file of the tools by the agent holding `token`. */
export const evaluation = (token: string | undefined, action: string, o: { subject?: { type: string; id: string }; audience?: string; count?: number } = {}) => ({
  subject: { ...(o.subject ?? { type: 'agent', id: AGENT }), ...(token ? { properties: { token } } : {}) },
  action: { name: action, ...(o.count ? { properties: { count: o.count } } : {}) },
  resource: { type: 'file', id: 'report.pdf', properties: { audience: o.audience ?? TOOLS } },
});
