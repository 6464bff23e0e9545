import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatTable, optString, optStrings, UsageError, type Command } from '../../common/cli.ts';
import { agentClaimsFromCertificate } from '../../spiffe/x509svid/claims-extension.ts';
import { parseJwtSvidInsecure } from '../../spiffe/jwtsvid/parse.ts';
import type { X509SvidMessage, X509SvidUpdate } from '../../spiffe/workloadapi/client.ts';
import { certificatesToPem, derToPem } from '../../spiffe/pem.ts';
import { certInfo } from '../bootstrap/cert-info.ts';
import { readCertificate } from '../../spiffe/x509svid/certificate.ts';
import { issuerKeyId } from '../cache/taint.ts';
import { socketOption, timeoutMs, withClient } from './socket.ts';

/** `tessera-agent api ...`: a Workload API client for operators, scripts and the demo. */

interface X509Summary {
  spiffe_id: string; hint: string; serial: string; not_after: string; chain_length: number;
  /** Subject key ID (hex) of the authority that signed it, as `tessera-server localauthority x509 show` lists them. */
  authority_id: string;
  claims: Record<string, string>;
}

/** Subject key IDs (hex) of bundle CAs: the authority IDs an operator sees on the server. */
const authorityIds = (bundle: Uint8Array[]) => bundle.map((d) => {
  try { return Buffer.from(readCertificate(d).subjectKeyId ?? []).toString('hex'); } catch { return ''; }
});

function summarize(s: X509SvidMessage): X509Summary {
  const info = certInfo(s.certificates[0]!);
  let claims: Record<string, string> = {};
  try { claims = { ...agentClaimsFromCertificate(s.certificates[0]!) } as Record<string, string>; } catch { /* no extension */ }
  return {
    spiffe_id: s.spiffeId, hint: s.hint, serial: info.serial, not_after: new Date(info.notAfter).toISOString(), chain_length: s.certificates.length,
    authority_id: issuerKeyId(s.certificates[0]!), claims,
  };
}

const claimText = (c: Record<string, unknown>) => Object.entries(c).map(([k, v]) => `${k}=${String(v)}`).join(' ');

function x509Table(u: X509SvidUpdate): string {
  const rows = u.svids.map(summarize).map((s) => [s.spiffe_id, s.hint, s.not_after, s.serial, claimText(s.claims)]);
  return formatTable(['SPIFFE ID', 'HINT', 'EXPIRES', 'SERIAL', 'AGENT CLAIMS'], rows);
}

/** Writes svid.pem / svid.key / bundle.pem (default SVID) and svid.N.* for the others. Keys 0600. */
function writeSvids(dir: string, u: X509SvidUpdate): string[] {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  u.svids.forEach((s, i) => {
    const base = i === 0 ? 'svid' : `svid.${i}`;
    writeFileSync(join(dir, `${base}.pem`), certificatesToPem(s.certificates));
    writeFileSync(join(dir, `${base}.key`), derToPem(s.privateKey, 'PRIVATE KEY'), { mode: 0o600 });
    files.push(`${base}.pem`, `${base}.key`);
  });
  const bundle = [...(u.svids[0]?.bundle ?? []), ...[...u.federatedBundles.values()].flat()];
  writeFileSync(join(dir, 'bundle.pem'), certificatesToPem(bundle));
  files.push('bundle.pem');
  return files.map((f) => join(dir, f));
}

const fetchX509: Command = {
  name: 'api fetch x509',
  summary: 'fetch this process\'s X.509-SVIDs; print a summary or write PEM files',
  options: {
    ...socketOption,
    write: { type: 'string', value: 'DIR', description: 'write svid.pem, svid.key and bundle.pem into DIR' },
  },
  async run(ctx) {
    const u = await withClient(ctx.options, ctx.io.env, (c) => c.fetchX509Svids({ timeoutMs: timeoutMs(ctx.options) }));
    const dir = optString(ctx.options, 'write');
    const written = dir ? writeSvids(dir, u) : undefined;
    ctx.print({ svids: u.svids.map(summarize), federated_bundles: [...u.federatedBundles.keys()], ...(written ? { written } : {}) },
      () => x509Table(u) + (written ? `\n\nwrote ${written.join(', ')}` : ''));
  },
};

const fetchJwt: Command = {
  name: 'api fetch jwt',
  summary: 'fetch JWT-SVIDs for an audience',
  options: {
    ...socketOption,
    audience: { type: 'string', multiple: true, short: 'a', value: 'AUD', description: 'audience (required)' },
    'spiffe-id': { type: 'string', value: 'ID', description: 'only this identity (default: all of the caller\'s)' },
  },
  async run(ctx) {
    const audience = optStrings(ctx.options, 'audience');
    if (audience.length === 0) throw new UsageError('--audience is required');
    const svids = await withClient(ctx.options, ctx.io.env, (c) => c.fetchJwtSvids({ audience, spiffeId: optString(ctx.options, 'spiffe-id'), timeoutMs: timeoutMs(ctx.options) }));
    const out = svids.map((s) => {
      const p = parseJwtSvidInsecure(s.token);
      return { spiffe_id: s.spiffeId, hint: s.hint, audience: p.audience, expires_at: p.expiresAt.toISOString(), claims: p.agentClaims, token: s.token };
    });
    ctx.print(out, () => out.map((s) => [
      `SPIFFE ID:    ${s.spiffe_id}`, `audience:     ${s.audience.join(', ')}`, `expires:      ${s.expires_at}`,
      `agent claims: ${claimText(s.claims as Record<string, unknown>) || '(none)'}`, `token:        ${s.token}`,
    ].join('\n')).join('\n\n'));
  },
};

const validateJwt: Command = {
  name: 'api validate jwt',
  summary: 'validate a JWT-SVID through the agent (signature, expiry, audience)',
  positionals: '[TOKEN]',
  options: {
    ...socketOption,
    audience: { type: 'string', short: 'a', value: 'AUD', description: 'the audience the token must carry (required)' },
    token: { type: 'string', value: 'JWT', description: 'the token (or give it as the argument)' },
  },
  async run(ctx) {
    const audience = optString(ctx.options, 'audience');
    if (!audience) throw new UsageError('--audience is required');
    const token = optString(ctx.options, 'token') ?? ctx.positionals[0];
    if (!token) throw new UsageError('give the token as --token or as the argument');
    const r = await withClient(ctx.options, ctx.io.env, (c) => c.validateJwtSvid({ token, audience, timeoutMs: timeoutMs(ctx.options) }));
    ctx.print({ valid: true, spiffe_id: r.spiffeId, claims: r.claims },
      () => `valid: ${r.spiffeId}\n` + Object.entries(r.claims).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`).join('\n'));
  },
};

const watch: Command = {
  name: 'api watch',
  summary: 'watch X.509-SVID updates, printing each one (Ctrl-C to stop)',
  details: 'With --output json, prints one JSON object per line per update.',
  options: {
    ...socketOption,
    count: { type: 'string', value: 'N', description: 'exit after N updates' },
  },
  async run(ctx) {
    const max = optString(ctx.options, 'count') ? Number(optString(ctx.options, 'count')) : Infinity;
    if (!(max > 0)) throw new UsageError('--count must be a positive number');
    return withClient(ctx.options, ctx.io.env, (c) => new Promise<number>((resolve, reject) => {
      let n = 0;
      const stop = () => { sub.close(); resolve(0); };
      const sub = c.watchX509Svids({
        onUpdate(u) {
          n++;
          const at = new Date().toISOString();
          if (ctx.output === 'json') ctx.io.out(JSON.stringify({ at, update: n, svids: u.svids.map(summarize), bundle_authority_ids: authorityIds(u.svids[0]?.bundle ?? []) }));
          else ctx.io.out(`# update ${n} at ${at}: ${u.svids.length} SVID(s)\n${x509Table(u)}\n`);
          if (n >= max) { process.off('SIGINT', stop); process.off('SIGTERM', stop); stop(); }
        },
        onError(e) { process.off('SIGINT', stop); process.off('SIGTERM', stop); reject(e); },
      });
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    }));
  },
};

export const apiCommands: Command[] = [fetchX509, fetchJwt, validateJwt, watch];
