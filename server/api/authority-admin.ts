import type { Logger } from '../../common/logger.ts';
import type { CaManager } from '../ca/manager.ts';
import { authorityViews, parseKind, slotByAuthorityId, view } from '../ca/local-authority.ts';
import type { LocalAuthorityAdminHandlers } from '../../proto/gen/tessera-api/tessera/v1/LocalAuthorityAdmin.ts';
import { unary } from './unary.ts';

/**
 * CA rotation by hand (tessera-server localauthority x509|jwt ...), after SPIRE's
 * localauthority API: show, prepare, activate, taint, revoke. The rules (only an old
 * authority can be tainted, only a tainted one revoked) live in the CA manager.
 */
export function localAuthorityHandlers(d: {
  ca: CaManager; logger: Logger;
  audit(event: string, subject: string, data?: Record<string, unknown>): Promise<void>;
}): LocalAuthorityAdminHandlers {
  const { ca, logger: log } = d;
  return {
    GetAuthorityState: unary(log, 'GetAuthorityState', async (call) => ({ authorities: authorityViews(ca, parseKind(call.request.kind)) })),
    PrepareAuthority: unary(log, 'PrepareAuthority', async (call) => {
      const kind = parseKind(call.request.kind);
      const s = await ca.prepareNow();
      await d.audit('authority.prepared', s.id, { kind });
      return view(kind, s, 'prepared');
    }),
    ActivateAuthority: unary(log, 'ActivateAuthority', async (call) => {
      const kind = parseKind(call.request.kind);
      const s = await ca.activateNow(slotByAuthorityId(ca, kind, call.request.authority_id).id);
      await d.audit('authority.activated', s.id, { kind });
      return view(kind, s, 'active');
    }),
    TaintAuthority: unary(log, 'TaintAuthority', async (call) => {
      const kind = parseKind(call.request.kind);
      const s = await ca.taint(kind, slotByAuthorityId(ca, kind, call.request.authority_id).id);
      await d.audit('authority.tainted', s.id, { kind });
      return view(kind, s, 'old');
    }),
    RevokeAuthority: unary(log, 'RevokeAuthority', async (call) => {
      const kind = parseKind(call.request.kind);
      const s = await ca.revoke(kind, slotByAuthorityId(ca, kind, call.request.authority_id).id);
      await d.audit('authority.revoked', s.id, { kind });
      return view(kind, s, 'old');
    }),
  };
}
