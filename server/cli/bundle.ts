import { readFileSync } from 'node:fs';
import { formatTable, optString, requireString, UsageError, type Command, type CommandContext } from '../../common/cli.ts';
import { createPublicKey } from 'node:crypto';
import { TrustDomain } from '../../spiffe/id.ts';
import { SpiffeBundle } from '../../spiffe/bundle/spiffebundle.ts';
import type { Bundle, Bundle__Output } from '../../proto/gen/tessera-api/tessera/v1/Bundle.ts';
import type { ListFederatedBundlesResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/ListFederatedBundlesResponse.ts';
import { certificatesToPem, pemToDer } from '../../spiffe/pem.ts';
import { call, SOCKET_OPTIONS, withAdmin } from './admin-client.ts';

/**
 * `tessera-server bundle ...`: this trust domain's bundle (show), and bundles of other
 * trust domains for federation (list, show --trust-domain, set, delete), as PEM CA
 * certificates or SPIFFE bundles (JWKS).
 */
const FORMAT_OPT = { format: { type: 'string' as const, value: 'FORMAT', description: 'pem (default) or spiffe (SPIFFE bundle, JWKS; "jwks" also accepted)' } };
const TD_OPT = { 'trust-domain': { type: 'string' as const, value: 'TD', description: 'the other trust domain, e.g. partner.example' } };

function formatFlag(ctx: CommandContext): 'pem' | 'spiffe' {
  const f = optString(ctx.options, 'format') ?? 'pem';
  if (f === 'pem') return 'pem';
  if (f === 'spiffe' || f === 'jwks') return 'spiffe';
  throw new UsageError(`--format must be pem or spiffe, got "${f}"`);
}

function toSpiffe(b: Bundle__Output): SpiffeBundle {
  return new SpiffeBundle(TrustDomain.parse(b.trust_domain), {
    x509Authorities: b.x509_authorities, sequence: b.sequence, refreshHint: b.refresh_hint,
    jwtAuthorities: new Map(b.jwt_authorities.map((k) => [k.key_id, createPublicKey({ key: k.public_key, format: 'der', type: 'spki' })])),
  });
}

/** Prints a bundle as PEM or SPIFFE JWKS; with --output json, both. */
function printBundle(ctx: CommandContext, b: Bundle__Output): void {
  const pem = certificatesToPem(b.x509_authorities);
  if (ctx.output === 'json') { ctx.print({ trust_domain: b.trust_domain, sequence: b.sequence, pem, jwks: toSpiffe(b).toJwks() }); return; }
  if (formatFlag(ctx) === 'spiffe') ctx.io.out(JSON.stringify(toSpiffe(b).toJwks(), null, 2));
  else ctx.io.out(pem);
}

/** Reads a bundle file ("-" = stdin): PEM certificates, or a SPIFFE bundle (detected by its leading "{"). */
function readBundleFile(path: string, td: TrustDomain, format: 'pem' | 'spiffe' | undefined): Bundle {
  let text: string;
  try { text = readFileSync(path === '-' ? 0 : path, 'utf8'); } catch (e) { throw new UsageError(`--path ${path}: ${(e as Error).message}`); }
  const spiffe = format ? format === 'spiffe' : text.trimStart().startsWith('{');
  if (!spiffe) {
    const ders = pemToDer(text);
    if (ders.length === 0) throw new UsageError(`--path ${path}: no PEM certificate in it (use --format spiffe for a SPIFFE bundle)`);
    return { trust_domain: td.name, x509_authorities: ders.map((d) => Buffer.from(d)), jwt_authorities: [] };
  }
  let b: SpiffeBundle;
  try { b = SpiffeBundle.parseJwks(td, text); } catch (e) { throw new UsageError(`--path ${path}: ${(e as Error).message}`); }
  return {
    trust_domain: td.name, x509_authorities: b.x509Authorities.map((d) => Buffer.from(d)), refresh_hint: b.refreshHint,
    jwt_authorities: [...b.jwtAuthorities].map(([kid, key]) => ({ key_id: kid, public_key: key.export({ type: 'spki', format: 'der' }) })),
  };
}

function tdFlag(ctx: CommandContext): TrustDomain {
  const s = requireString(ctx.options, 'trust-domain');
  try { return TrustDomain.parse(s); } catch (e) { throw new UsageError(`--trust-domain: ${(e as Error).message}`); }
}

export const bundleCommands: Command[] = [
  {
    name: 'bundle show', summary: 'print this trust domain\'s bundle, or another\'s with --trust-domain',
    options: { ...FORMAT_OPT, ...TD_OPT, ...SOCKET_OPTIONS },
    async run(ctx) {
      formatFlag(ctx);
      const td = optString(ctx.options, 'trust-domain');
      await withAdmin(ctx, async (c) => {
        const b = td
          ? await call<unknown, Bundle__Output>(c.bundle, 'GetFederatedBundle', { trust_domain: tdFlag(ctx).name })
          : await call<unknown, Bundle__Output>(c.bundle, 'GetBundle', {});
        printBundle(ctx, b);
      });
    },
  },
  {
    name: 'bundle list', summary: 'list the bundles of other trust domains (federation)',
    options: { ...SOCKET_OPTIONS },
    async run(ctx) {
      await withAdmin(ctx, async (c) => {
        const r = await call<unknown, ListFederatedBundlesResponse__Output>(c.bundle, 'ListFederatedBundles', {});
        const rows = r.bundles.map((b) => ({ trust_domain: b.trust_domain, x509_authorities: b.x509_authorities.length, jwt_authorities: b.jwt_authorities.length, sequence: b.sequence }));
        ctx.print(rows, () => (rows.length === 0 ? 'no federated bundles' : formatTable(['TRUST DOMAIN', 'X509 CAS', 'JWT KEYS', 'SEQUENCE'],
          rows.map((x) => [x.trust_domain, x.x509_authorities, x.jwt_authorities, x.sequence]))));
      });
    },
  },
  {
    name: 'bundle set', summary: 'create or replace the bundle of another trust domain',
    options: {
      ...TD_OPT,
      path: { type: 'string', value: 'FILE', description: 'bundle file, "-" for stdin (required): PEM CA certificates or a SPIFFE bundle' },
      format: { type: 'string', value: 'FORMAT', description: 'pem or spiffe (default: detected from the file)' },
      ...SOCKET_OPTIONS,
    },
    async run(ctx) {
      const td = tdFlag(ctx);
      const f = optString(ctx.options, 'format');
      const bundle = readBundleFile(requireString(ctx.options, 'path'), td, f === undefined ? undefined : formatFlag(ctx));
      await withAdmin(ctx, async (c) => {
        const b = await call<unknown, Bundle__Output>(c.bundle, 'SetFederatedBundle', bundle);
        ctx.print({ trust_domain: b.trust_domain, sequence: b.sequence, x509_authorities: b.x509_authorities.length, jwt_authorities: b.jwt_authorities.length },
          () => `set bundle of ${b.trust_domain}: ${b.x509_authorities.length} X.509 authorities, ${b.jwt_authorities.length} JWT keys`);
      });
    },
  },
  {
    name: 'bundle delete', summary: 'delete the bundle of another trust domain',
    options: { ...TD_OPT, ...SOCKET_OPTIONS },
    async run(ctx) {
      const td = tdFlag(ctx);
      await withAdmin(ctx, async (c) => {
        await call(c.bundle, 'DeleteFederatedBundle', { trust_domain: td.name });
        ctx.print({ deleted: td.name }, () => `deleted bundle of ${td.name}`);
      });
    },
  },
];
