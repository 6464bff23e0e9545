import { formatTable, requireString, type Command, type CommandContext } from '../../common/cli.ts';
import type { AuthorityState__Output } from '../../proto/gen/tessera-api/tessera/v1/AuthorityState.ts';
import type { AuthorityStateResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/AuthorityStateResponse.ts';
import { call, SOCKET_OPTIONS, withAdmin } from './admin-client.ts';

/**
 * `tessera-server localauthority x509|jwt show|prepare|activate|taint|revoke`: CA
 * rotation by hand, as spire-server localauthority. The usual emergency sequence after
 * a key compromise: prepare, wait until agents have the new bundle, activate, taint the
 * old authority (agents replace what it signed at once), then revoke it (it leaves the
 * bundle).
 */
const time = (s: number) => (s ? new Date(s * 1000).toISOString() : '');
const KIND_NAME = { x509: 'X.509', jwt: 'JWT' } as const;

const table = (list: AuthorityState__Output[]) => (list.length === 0 ? 'no authorities' : formatTable(
  ['AUTHORITY ID', 'STATE', 'EXPIRES AT', 'TAINTED', 'REVOKED', 'SLOT'],
  list.map((a) => [a.authority_id, a.state, time(a.expires_at), a.tainted, a.revoked, a.slot]),
));
const one = (verb: string) => (a: AuthorityState__Output) => `${verb} ${KIND_NAME[a.kind as 'x509' | 'jwt']} authority ${a.authority_id} (${a.state}, expires ${time(a.expires_at)})`;

const ID_OPT = (kind: 'x509' | 'jwt', what: string) => ({
  'authority-id': {
    type: 'string' as const, value: 'ID',
    description: `${what} (${kind === 'x509' ? 'the CA certificate\'s subject key ID, hex' : 'the JWT key ID'}; see "localauthority ${kind} show")`,
  },
});

function commandsFor(kind: 'x509' | 'jwt'): Command[] {
  const k = KIND_NAME[kind];
  const rpc = (ctx: CommandContext, method: string, authorityId: string, verb: string) => withAdmin(ctx, async (c) => {
    const a = await call<unknown, AuthorityState__Output>(c.localAuthority, method, { kind, authority_id: authorityId });
    ctx.print(a, () => one(verb)(a));
  });
  const together = kind === 'jwt' ? ' (with its X.509 CA: Tessera rotates both together)' : ' (with its JWT key: Tessera rotates both together)';
  return [
    {
      name: `localauthority ${kind} show`, summary: `show this server's ${k} authorities: active, prepared and old`,
      options: { ...SOCKET_OPTIONS },
      async run(ctx) {
        await withAdmin(ctx, async (c) => {
          const r = await call<unknown, AuthorityStateResponse__Output>(c.localAuthority, 'GetAuthorityState', { kind });
          ctx.print(r.authorities, () => table(r.authorities));
        });
      },
    },
    {
      name: `localauthority ${kind} prepare`, summary: `prepare the next ${k} authority now${together}`,
      details: 'It is published in the bundle at once but signs nothing until activated. Give agents time to receive the\nnew bundle (bundle.refresh_hint; connected agents get it within seconds) before activating.',
      options: { ...SOCKET_OPTIONS },
      run: (ctx) => rpc(ctx, 'PrepareAuthority', '', 'prepared'),
    },
    {
      name: `localauthority ${kind} activate`, summary: `activate the prepared ${k} authority${together}`,
      details: 'The active authority becomes old: still trusted until it expires, tainted or revoked.',
      options: { ...ID_OPT(kind, 'the prepared authority (required)'), ...SOCKET_OPTIONS },
      run: (ctx) => rpc(ctx, 'ActivateAuthority', requireString(ctx.options, 'authority-id'), 'activated'),
    },
    {
      name: `localauthority ${kind} taint`, summary: `taint an old ${k} authority: agents replace at once every SVID it signed`,
      details: 'Only an old authority (neither active nor prepared) can be tainted. It stays in the bundle, so SVIDs it\nsigned keep verifying while agents replace them; revoke it afterwards.',
      options: { ...ID_OPT(kind, 'the old authority to taint (required)'), ...SOCKET_OPTIONS },
      run: (ctx) => rpc(ctx, 'TaintAuthority', requireString(ctx.options, 'authority-id'), 'tainted'),
    },
    {
      name: `localauthority ${kind} revoke`, summary: `revoke a tainted ${k} authority: it leaves the bundle`,
      details: 'Only a tainted authority can be revoked. SVIDs it signed stop verifying everywhere the bundle reaches:\nrevoke after agents have replaced them (watch for "rotated X.509-SVIDs" in agent logs).',
      options: { ...ID_OPT(kind, 'the tainted authority to revoke (required)'), ...SOCKET_OPTIONS },
      run: (ctx) => rpc(ctx, 'RevokeAuthority', requireString(ctx.options, 'authority-id'), 'revoked'),
    },
  ];
}

export const localAuthorityCommands: Command[] = [...commandsFor('x509'), ...commandsFor('jwt')];
