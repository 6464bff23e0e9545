import type { Logger } from '../../../common/logger.ts';
import type { X509BundleSource } from '../../../spiffe/bundle/x509bundle.ts';
import { httpsRequest, serverAgent } from '../../../spiffe/delegation/https.ts';
import type { RequestData } from './request.ts';

/**
 * Ping mode (CIBA §10.2): when a request is decided, POST `{"auth_req_id": …}` with
 * `Authorization: Bearer <client_notification_token>` to the endpoint the operator
 * registered for that agent (oauth.ciba.ping); the agent then collects the result at
 * the token endpoint. The endpoint must present an X.509-SVID of that very agent
 * (verified against the trust bundle), so the auth_req_id reaches no one else; no
 * WebPKI name is involved. Best effort: a failed ping is logged, the agent can still poll.
 */
const TIMEOUT_MS = 5000;

export class PingNotifier {
  constructor(private readonly o: { bundles: X509BundleSource; logger: Logger }) {}

  /** Resolves when the ping was answered (any 2xx) or given up on; never rejects. */
  async notify(clientId: string, ping: NonNullable<RequestData['ping']>, approvalId: string): Promise<boolean> {
    const agent = serverAgent({ bundleSource: this.o.bundles, serverId: clientId, keepAlive: false });
    try {
      const r = await httpsRequest(new URL(ping.endpoint), {
        agent, method: 'POST', body: JSON.stringify({ auth_req_id: ping.authReqId }), timeoutMs: TIMEOUT_MS, maxBytes: 16 * 1024,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ping.token}` },
      });
      const ok = r.status >= 200 && r.status < 300;
      this.o.logger[ok ? 'info' : 'warn']('ciba ping delivered', { client_id: clientId, approval_id: approvalId, endpoint: ping.endpoint, status: r.status });
      return ok;
    } catch (err) {
      this.o.logger.warn('ciba ping failed; the agent can still poll', { client_id: clientId, approval_id: approvalId, endpoint: ping.endpoint, err: err as Error });
      return false;
    } finally {
      agent.destroy();
    }
  }
}
