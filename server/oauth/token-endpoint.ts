import type { Clock } from '../../common/clock.ts';
import { OAuthError } from './errors.ts';
import { clip, sendJson, type Form } from './http.ts';
import type { ClientCertificate, Route } from './listener.ts';

/**
 * POST /oauth2/token (RFC 6749 §3.2): one endpoint, one handler per grant_type. A
 * grant declares which of its parameters may repeat; every other parameter is
 * refused when repeated, before the grant sees the request. Later grants
 * (authorization_code, client_credentials, refresh_token, CIBA, jwt-bearer) register
 * here the same way.
 */
export interface GrantRequest {
  form: Form;
  /** The caller's verified X.509-SVID (invalid_client when one was presented and failed). */
  client(): ClientCertificate | undefined;
  /** Unix seconds. */
  now: number;
}

export interface GrantHandler {
  grantType: string;
  /** Parameters that may appear more than once (e.g. audience, resource). */
  repeatable?: readonly string[];
  /** The successful token response (RFC 6749 §5.1 body). Throws OAuthError. */
  handle(r: GrantRequest): Promise<Record<string, unknown>>;
}

export class TokenEndpoint {
  private grants = new Map<string, GrantHandler>();

  constructor(private readonly clock: Clock) {}

  register(h: GrantHandler): void {
    if (this.grants.has(h.grantType)) throw new Error(`grant type ${h.grantType} is registered twice`);
    this.grants.set(h.grantType, h);
  }

  grantTypes(): string[] { return [...this.grants.keys()]; }

  route(path = '/oauth2/token'): Route {
    return {
      method: 'POST', path,
      handler: async (ctx) => {
        const form = await ctx.form();
        const grantType = form.require('grant_type');
        const h = this.grants.get(grantType);
        if (!h) {
          throw new OAuthError('unsupported_grant_type',
            `grant_type ${clip(grantType, 100)} is not supported; supported: ${this.grantTypes().join(', ')}`);
        }
        form.assertSingle(h.repeatable);
        const body = await h.handle({ form, client: ctx.client, now: Math.floor(this.clock.now() / 1000) });
        sendJson(ctx.res, 200, body);
      },
    };
  }
}
