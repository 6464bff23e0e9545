import { readFileSync } from 'node:fs';
import { request as httpsRequest, Agent } from 'node:https';
import * as oidc from 'openid-client';
import { ConfigError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { DelegationSubject } from '../delegation/types.ts';
import type { LoginConfig, TrustedIssuerConfig } from './config.ts';
import { OAuthError } from './errors.ts';
import { clip } from './http.ts';

/**
 * Tessera as relying party of the upstream OpenID Provider where people sign in
 * (oauth.login). openid-client v6 does discovery, the authorization URL (PKCE S256,
 * state, nonce) and the code redemption with every ID token check; the user is then
 * named the way trusted_issuers names that issuer's users (subject and groups claims),
 * so a policy reads the same for a token exchange and a browser sign-in.
 */
export interface UpstreamRequest {
  url: string;
  /** Kept sealed in the flow cookie until the callback. */
  verifier: string;
  state: string;
  nonce: string;
}

export class UpstreamLogin {
  private config: Promise<oidc.Configuration> | undefined;
  private readonly fetch: typeof fetch | undefined;

  constructor(private readonly cfg: LoginConfig, private readonly trusted: TrustedIssuerConfig,
    private readonly callbackUrl: string, private readonly logger: Logger) {
    let ca: string | undefined;
    try { ca = cfg.ca_file ? readFileSync(cfg.ca_file, 'utf8') : undefined; } catch (e) {
      throw new ConfigError(`config: oauth.login.ca_file: cannot read ${cfg.ca_file}: ${(e as Error).message}`);
    }
    this.fetch = ca ? caFetch(ca) : undefined;
  }

  static fromConfig(login: LoginConfig, trusted: readonly TrustedIssuerConfig[], callbackUrl: string, logger: Logger): UpstreamLogin {
    const t = trusted.find((x) => x.issuer === login.issuer);
    if (!t) {
      throw new ConfigError(`config: oauth.login.issuer ${login.issuer} must also be listed in oauth.trusted_issuers (which names its users' subject and groups claims)`);
    }
    return new UpstreamLogin(login, t, callbackUrl, logger);
  }

  get issuer(): string { return this.cfg.issuer; }

  async begin(): Promise<UpstreamRequest> {
    const config = await this.configuration();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.callbackUrl, scope: this.cfg.scope, state, nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    return { url: url.href, verifier, state, nonce };
  }

  /** Redeems the provider's code; the signed-in user, or OAuthError access_denied naming what failed. */
  async finish(callbackQuery: string, req: Pick<UpstreamRequest, 'verifier' | 'state' | 'nonce'>): Promise<DelegationSubject> {
    const config = await this.configuration();
    let claims: oidc.IDToken | undefined;
    try {
      const tokens = await oidc.authorizationCodeGrant(config, new URL(`${this.callbackUrl}${callbackQuery}`), {
        pkceCodeVerifier: req.verifier, expectedState: req.state, expectedNonce: req.nonce, idTokenExpected: true,
      });
      claims = tokens.claims();
    } catch (e) {
      this.logger.warn('upstream sign-in failed', { issuer: this.cfg.issuer, err: e as Error });
      throw new OAuthError('access_denied', `sign-in at ${this.cfg.issuer} failed: ${clip((e as Error).message, 300)}`);
    }
    if (!claims) throw new OAuthError('access_denied', `sign-in at ${this.cfg.issuer} returned no ID token`);
    const name = claims[this.trusted.subject_claim];
    if (typeof name !== 'string' || name.length === 0) {
      throw new OAuthError('access_denied', `the ID token of ${this.cfg.issuer} has no string claim ${this.trusted.subject_claim} (its subject claim)`);
    }
    let groups: string[] = [];
    if (this.trusted.groups_claim !== undefined) {
      const g = claims[this.trusted.groups_claim];
      if (typeof g === 'string') groups = [g];
      else if (Array.isArray(g)) groups = g.filter((x): x is string => typeof x === 'string');
    }
    return { issuer: this.cfg.issuer, name, groups };
  }

  private configuration(): Promise<oidc.Configuration> {
    this.config ??= (async () => {
      const auth = this.cfg.client_secret ? oidc.ClientSecretPost(this.cfg.client_secret) : oidc.None();
      const options: oidc.DiscoveryRequestOptions = this.fetch ? { [oidc.customFetch]: this.fetch } : {};
      return oidc.discovery(new URL(this.cfg.issuer), this.cfg.client_id, undefined, auth, { ...options, algorithm: 'oidc' });
    })().catch((e: unknown) => {
      this.config = undefined; // retried by the next sign-in
      this.logger.warn('upstream OpenID Provider discovery failed', { issuer: this.cfg.issuer, err: e as Error });
      throw new OAuthError('temporarily_unavailable', `the sign-in provider ${this.cfg.issuer} cannot be reached: ${clip((e as Error).message, 200)}`);
    });
    return this.config;
  }
}

/** fetch over node:https trusting `ca` (global fetch takes no per-request CA without undici). */
function caFetch(ca: string): typeof fetch {
  const agent = new Agent({ ca, keepAlive: false });
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const headers = new Headers(input instanceof Request ? input.headers : init.headers);
    const method = init.method ?? (input instanceof Request ? input.method : 'GET');
    let body: Buffer | undefined;
    const src = init.body ?? (input instanceof Request ? input.body : undefined);
    if (src != null) body = Buffer.from(await new Response(src as ConstructorParameters<typeof Response>[0]).arrayBuffer());
    return new Promise<Response>((resolve, reject) => {
      const req = httpsRequest(url, { method, agent, headers: Object.fromEntries(headers), signal: init.signal ?? undefined }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const out = new Headers();
          for (let i = 0; i < res.rawHeaders.length; i += 2) out.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
          const status = res.statusCode ?? 500;
          const r = new Response(status === 204 || status === 304 ? null : Buffer.concat(chunks), { status, headers: out });
          Object.defineProperty(r, 'url', { value: url.href });
          resolve(r);
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  }) as typeof fetch;
}
