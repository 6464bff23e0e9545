import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { formatTable, optString, UsageError, type Command, type CommandContext, type OptionSpec } from '../../common/cli.ts';
import { loadAdminProto } from '../../common/proto.ts';
import { TrustDomain } from '../../spiffe/id.ts';
import type { Bundle } from '../../proto/gen/tessera-api/tessera/v1/Bundle.ts';
import type { DeleteFederationRelationshipResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/DeleteFederationRelationshipResponse.ts';
import type { FederationAdminClient } from '../../proto/gen/tessera-api/tessera/v1/FederationAdmin.ts';
import type { FederationRelationship, FederationRelationship__Output } from '../../proto/gen/tessera-api/tessera/v1/FederationRelationship.ts';
import type { ListFederationRelationshipsResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/ListFederationRelationshipsResponse.ts';
import { parseBundleText } from '../federation/bundle-file.ts';
import { call, SOCKET_OPTIONS, socketPath, withAdmin } from './admin-client.ts';

/**
 * `tessera-server federation ...` (docs/federation.md), after `spire-server federation`:
 * relationships with other trust domains, whose bundles this server fetches from their
 * SPIFFE bundle endpoints. The fetched bundles are ordinary bundles: `bundle list`,
 * `bundle show --trust-domain`, `bundle set`, `bundle delete` work on them.
 */
const TD_OPT: Record<string, OptionSpec> = { 'trust-domain': { type: 'string', value: 'TD', description: 'the foreign trust domain, e.g. b.example (or as the positional argument)' } };

const PARAM_OPTS: Record<string, OptionSpec> = {
  ...TD_OPT,
  'bundle-endpoint-url': { type: 'string', value: 'URL', description: 'https URL of its SPIFFE bundle endpoint (required)' },
  'bundle-endpoint-profile': { type: 'string', value: 'PROFILE', description: 'https_web or https_spiffe (required: never inferred)' },
  'endpoint-spiffe-id': { type: 'string', value: 'ID', description: 'https_spiffe: the SPIFFE ID the endpoint presents (a Tessera server: spiffe://<td>/tessera/server)' },
  'trust-domain-bundle-path': { type: 'string', value: 'FILE', description: 'bundle of the trust domain to start from (https_spiffe bootstrap), "-" for stdin' },
  'trust-domain-bundle-format': { type: 'string', value: 'FORMAT', description: 'pem or spiffe (default: detected from the file)' },
};

function withFederation<T>(ctx: CommandContext, fn: (c: FederationAdminClient) => Promise<T>): Promise<T> {
  return withAdmin(ctx, async () => {
    const p = loadAdminProto().tessera.v1;
    const client = new p.FederationAdmin(`unix://${socketPath(ctx.options, ctx.io.env)}`, grpc.credentials.createInsecure());
    try { return await fn(client); } finally { client.close(); }
  });
}

function tdArg(ctx: CommandContext): string {
  const td = optString(ctx.options, 'trust-domain') ?? ctx.positionals[0];
  if (!td) throw new UsageError('a trust domain is required (--trust-domain or positional)');
  return td;
}

function required(ctx: CommandContext, k: string): string {
  const v = optString(ctx.options, k);
  if (!v) throw new UsageError(`--${k} is required`);
  return v;
}

/** The relationship as the admin API takes it; the bundle file is read here, on the operator's side. */
function relationshipArgs(ctx: CommandContext): FederationRelationship {
  const trustDomain = tdArg(ctx);
  const profile = required(ctx, 'bundle-endpoint-profile');
  if (profile !== 'https_web' && profile !== 'https_spiffe') throw new UsageError(`--bundle-endpoint-profile must be https_web or https_spiffe, got "${profile}"`);
  const req: FederationRelationship = {
    trust_domain: trustDomain, bundle_endpoint_url: required(ctx, 'bundle-endpoint-url'), bundle_endpoint_profile: profile,
    endpoint_spiffe_id: optString(ctx.options, 'endpoint-spiffe-id') ?? '',
  };
  const path = optString(ctx.options, 'trust-domain-bundle-path');
  if (path) req.trust_domain_bundle = bundleArg(path, trustDomain, optString(ctx.options, 'trust-domain-bundle-format'));
  return req;
}

function bundleArg(path: string, trustDomain: string, format: string | undefined): Bundle {
  if (format !== undefined && format !== 'pem' && format !== 'spiffe') throw new UsageError(`--trust-domain-bundle-format must be pem or spiffe, got "${format}"`);
  let td: TrustDomain;
  try { td = TrustDomain.parse(trustDomain); } catch (e) { throw new UsageError(`--trust-domain: ${(e as Error).message}`); }
  let text: string;
  try { text = readFileSync(path === '-' ? 0 : path, 'utf8'); } catch (e) { throw new UsageError(`--trust-domain-bundle-path ${path}: ${(e as Error).message}`); }
  const isJson = text.trimStart().startsWith('{');
  if (format && (format === 'spiffe') !== isJson) throw new UsageError(`--trust-domain-bundle-path ${path}: not a ${format === 'spiffe' ? 'SPIFFE bundle' : 'PEM file'}`);
  let b;
  try { b = parseBundleText(text, td, `--trust-domain-bundle-path ${path}`); } catch (e) { throw new UsageError((e as Error).message); }
  return {
    trust_domain: td.name, x509_authorities: b.x509Authorities.map((d) => Buffer.from(d)), refresh_hint: b.refreshHint,
    jwt_authorities: b.jwtAuthorities.map((k) => ({ key_id: k.kid, public_key: Buffer.from(k.publicKey) })),
  };
}

const time = (s: number) => (s ? new Date(s * 1000).toISOString() : '-');

/** JSON view: the bundle summarised (bundle show prints it in full). */
function summary(r: FederationRelationship__Output) {
  const b = r.trust_domain_bundle;
  return {
    trust_domain: r.trust_domain, bundle_endpoint_url: r.bundle_endpoint_url, bundle_endpoint_profile: r.bundle_endpoint_profile,
    endpoint_spiffe_id: r.endpoint_spiffe_id, source: r.source, created_at: r.created_at, updated_at: r.updated_at,
    bundle: b ? { sequence: b.sequence, x509_authorities: b.x509_authorities.length, jwt_authorities: b.jwt_authorities.length, refresh_hint: b.refresh_hint } : null,
    status: r.status,
  };
}

function detail(r: FederationRelationship__Output): string {
  const s = r.status;
  const b = r.trust_domain_bundle;
  return [
    `Trust domain          : ${r.trust_domain}`,
    `Bundle endpoint URL   : ${r.bundle_endpoint_url}`,
    `Profile               : ${r.bundle_endpoint_profile}`,
    ...(r.endpoint_spiffe_id ? [`Endpoint SPIFFE ID    : ${r.endpoint_spiffe_id}`] : []),
    `Source                : ${r.source}`,
    `Stored bundle         : ${b ? `${b.x509_authorities.length} X.509 authorities, ${b.jwt_authorities.length} JWT keys (bundle show --trust-domain ${r.trust_domain})` : 'none'}`,
    `Endpoint sequence     : ${s?.bundle_sequence ?? 0}`,
    `Refresh hint          : ${s?.refresh_hint ? `${s.refresh_hint}s` : '-'}`,
    `Last success          : ${time(s?.last_success_at ?? 0)}`,
    `Next refresh          : ${time(s?.next_refresh_at ?? 0)}`,
    ...(s?.last_error_code ? [`Last error            : ${s.last_error_code}: ${s.last_error} (${s.consecutive_failures} in a row)`] : []),
  ].join('\n');
}

const table = (rs: FederationRelationship__Output[]) => formatTable(['TRUST DOMAIN', 'PROFILE', 'BUNDLE ENDPOINT URL', 'SOURCE', 'LAST SUCCESS', 'LAST ERROR'],
  rs.map((r) => [r.trust_domain, r.bundle_endpoint_profile, r.bundle_endpoint_url, r.source, time(r.status?.last_success_at ?? 0), r.status?.last_error_code || '-']));

const EXAMPLE = 'Example (both trust domains run Tessera with federation.bundle_endpoint):\n'
  + '  tessera-server bundle show --format spiffe > a.json        # on a.example, handed to b.example out of band\n'
  + '  tessera-server federation create --trust-domain a.example --bundle-endpoint-url https://a.example:8443/ \\\n'
  + '    --bundle-endpoint-profile https_spiffe --endpoint-spiffe-id spiffe://a.example/tessera/server --trust-domain-bundle-path a.json';

export const federationCommands: Command[] = [
  {
    name: 'federation create', summary: 'create a federation relationship with another trust domain', positionals: '[TRUST-DOMAIN]',
    options: { ...PARAM_OPTS, ...SOCKET_OPTIONS }, details: EXAMPLE,
    async run(ctx) {
      const req = relationshipArgs(ctx);
      await withFederation(ctx, async (c) => {
        const r = await call<FederationRelationship, FederationRelationship__Output>(c, 'CreateFederationRelationship', req);
        ctx.print(summary(r), () => detail(r));
      });
    },
  },
  {
    name: 'federation update', summary: 'change a relationship\'s endpoint (relationships from the config file change there)', positionals: '[TRUST-DOMAIN]',
    options: { ...PARAM_OPTS, ...SOCKET_OPTIONS },
    async run(ctx) {
      const req = relationshipArgs(ctx);
      await withFederation(ctx, async (c) => {
        const r = await call<FederationRelationship, FederationRelationship__Output>(c, 'UpdateFederationRelationship', req);
        ctx.print(summary(r), () => detail(r));
      });
    },
  },
  {
    name: 'federation list', summary: 'list federation relationships and how their fetches are going',
    options: { ...SOCKET_OPTIONS },
    async run(ctx) {
      await withFederation(ctx, async (c) => {
        const res = await call<unknown, ListFederationRelationshipsResponse__Output>(c, 'ListFederationRelationships', {});
        ctx.print(res.relationships.map(summary), () => (res.relationships.length ? table(res.relationships) : 'no federation relationships'));
      });
    },
  },
  {
    name: 'federation show', summary: 'show one relationship, its stored bundle and its last fetch', positionals: '[TRUST-DOMAIN]',
    options: { ...TD_OPT, ...SOCKET_OPTIONS },
    async run(ctx) {
      const td = tdArg(ctx);
      await withFederation(ctx, async (c) => {
        const r = await call<unknown, FederationRelationship__Output>(c, 'GetFederationRelationship', { trust_domain: td });
        ctx.print(summary(r), () => detail(r));
      });
    },
  },
  {
    name: 'federation delete', summary: 'delete a relationship and, unless --keep-bundle, its stored bundle', positionals: '[TRUST-DOMAIN]',
    options: { ...TD_OPT, 'keep-bundle': { type: 'boolean', description: 'keep the stored bundle (workloads keep trusting it)' }, ...SOCKET_OPTIONS },
    async run(ctx) {
      const td = tdArg(ctx);
      await withFederation(ctx, async (c) => {
        const r = await call<unknown, DeleteFederationRelationshipResponse__Output>(c, 'DeleteFederationRelationship', { trust_domain: td, keep_bundle: ctx.options['keep-bundle'] === true });
        ctx.print(r, () => `deleted federation relationship with ${r.trust_domain}${r.bundle_deleted ? ' and its bundle' : ''}`);
      });
    },
  },
  {
    name: 'federation refresh', summary: 'fetch a relationship\'s bundle now; fails with the reason when the fetch fails', positionals: '[TRUST-DOMAIN]',
    options: { ...TD_OPT, ...SOCKET_OPTIONS },
    async run(ctx) {
      const td = tdArg(ctx);
      await withFederation(ctx, async (c) => {
        const r = await call<unknown, FederationRelationship__Output>(c, 'RefreshFederationRelationship', { trust_domain: td }, 30_000);
        ctx.print(summary(r), () => `refreshed bundle of ${r.trust_domain}\n${detail(r)}`);
      });
    },
  },
];
