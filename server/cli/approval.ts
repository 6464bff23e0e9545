import { formatTable, optString, type Command } from '../../common/cli.ts';
import type { ApprovalRequest__Output } from '../../proto/gen/tessera-api/tessera/v1/ApprovalRequest.ts';
import type { ListApprovalRequestsRequest } from '../../proto/gen/tessera-api/tessera/v1/ListApprovalRequestsRequest.ts';
import type { ListApprovalRequestsResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/ListApprovalRequestsResponse.ts';
import { call, SOCKET_OPTIONS } from './admin-client.ts';
import { withDelegation } from './delegation.ts';

/** `tessera-server approval ...`: human approval requests (CIBA, docs/attenuation.md "Human approval"), read-only. */
const time = (s: number) => new Date(s * 1000).toISOString();
const table = (rs: ApprovalRequest__Output[]) => formatTable(['ID', 'STATUS', 'AGENT', 'SUBJECT', 'ASKS FOR', 'POLICY', 'EXPIRES AT', 'DECIDED BY'],
  rs.map((r) => [r.id, r.status, r.client_id, r.subject, r.escalated.join(' '), r.policy, time(r.expires_at), r.decided_by || '-']));

export const approvalCommands: Command[] = [
  {
    name: 'approval list', summary: 'list human approval requests (CIBA) in the datastore, oldest first',
    options: {
      subject: { type: 'string', value: 'ISS#SUB', description: 'only requests acting for this user, e.g. https://idp.example.org#alice' },
      pending: { type: 'boolean', description: 'only requests still pending and unexpired' },
      ...SOCKET_OPTIONS,
    },
    details: 'Read-only: users decide on the approval page (/oauth2/approvals). Expired requests stay listed for an hour.',
    async run(ctx) {
      const subject = optString(ctx.options, 'subject'); // its form is checked by the server (InvalidArgument naming subject)
      await withDelegation(ctx, async (c) => {
        const res = await call<ListApprovalRequestsRequest, ListApprovalRequestsResponse__Output>(c, 'ListApprovalRequests', {
          subject: subject ?? '', pending: ctx.options.pending === true,
        });
        ctx.print(res.requests, () => (res.requests.length ? table(res.requests) : 'no approval requests'));
      });
    },
  },
];
