import type { Clock } from '../../../common/clock.ts';
import { ConfigError } from '../../../common/errors.ts';
import type { Logger } from '../../../common/logger.ts';
import type { CaManager } from '../../ca/manager.ts';
import type { Datastore } from '../../datastore/types.ts';
import { ForeignBundles } from '../../federation/foreign-bundles.ts';
import type { OAuthAudit } from '../audit.ts';
import type { ChainingConfig } from '../config.ts';
import { jwtBearerGrant } from '../grants/jwt-bearer.ts';
import type { OAuthKeyManager } from '../keys.ts';
import type { DelegationCore } from '../ports.ts';
import type { TokenEndpoint } from '../token-endpoint.ts';
import type { TrustedIssuers } from '../trusted-issuers.ts';
import type { TrustDomainBundles } from '../trust.ts';
import { TrustedDomain } from './domain-keys.ts';
import { ChainingBundles } from './federated-bundles.ts';
import { issueGrantHandler } from './issue-grant.ts';

/**
 * Wiring of identity chaining (oauth.chaining, docs/identity-chaining.md): the home
 * side (token exchange for an ID-JAG) when `audiences` lists a foreign server, the
 * foreign side (the jwt-bearer grant) when `trusted_domains` lists a home server.
 * Neither configured: nothing is registered and the grant types are not advertised.
 */
export interface MountedChaining { close(): void }

export async function mountChaining(o: {
  cfg: ChainingConfig; issuer: string; tokenEndpoint: string; tokenTtl: number;
  tokens: TokenEndpoint; keys: OAuthKeyManager; ca: CaManager; bundles: TrustDomainBundles; trusted: TrustedIssuers;
  store: Datastore; core: DelegationCore; audit: OAuthAudit; clock: Clock; logger: Logger;
}): Promise<MountedChaining> {
  const { cfg } = o;
  const closers: (() => void)[] = [];
  if (cfg.audiences.length) {
    if (cfg.audiences.includes(o.issuer)) throw new ConfigError(`config: oauth.chaining.audiences: ${o.issuer} is this server's own issuer`);
    o.tokens.register(issueGrantHandler({
      issuer: o.issuer, tokenEndpoint: o.tokenEndpoint, audiences: cfg.audiences,
      // A grant is redeemed at once; never longer than our tokens live (revocations outlive them).
      grantTtl: Math.min(cfg.grant_ttl, o.tokenTtl),
      keys: o.keys, trusted: o.trusted, bundles: o.bundles, store: o.store, core: o.core, audit: o.audit,
    }));
  }
  if (cfg.trusted_domains.length) {
    const logger = o.logger.child({ component: 'chaining' });
    const foreign = await ForeignBundles.load({ own: o.ca.trustDomain, store: o.store, logger });
    closers.push(() => foreign.close());
    const domains = new Map<string, TrustedDomain>();
    for (const c of cfg.trusted_domains) {
      if (domains.has(c.issuer)) throw new ConfigError(`config: oauth.chaining.trusted_domains: issuer ${c.issuer} is listed twice`);
      if (c.issuer === o.issuer) throw new ConfigError(`config: oauth.chaining.trusted_domains: ${c.issuer} is this server's own issuer`);
      domains.set(c.issuer, new TrustedDomain(c, { clock: o.clock, logger, bundles: foreign }));
    }
    const federated = new Set([...domains.values()].flatMap((x) => (x.spiffeTrustDomain ? [x.spiffeTrustDomain.name] : [])));
    const bundles = new ChainingBundles(o.ca, foreign, federated);
    closers.push(() => bundles.close());
    o.tokens.register(jwtBearerGrant({
      issuer: o.issuer, tokenEndpoint: o.tokenEndpoint, tokenTtl: o.tokenTtl, leeway: cfg.leeway, domains, bundles,
      keys: o.keys, store: o.store, core: o.core, audit: o.audit,
    }));
    closers.push(foreign.onChange((td) => { for (const x of domains.values()) if (x.spiffeTrustDomain?.name === td) x.bundleChanged(); }));
    for (const x of domains.values()) x.warm();
  }
  return { close: () => { for (const c of closers.reverse()) c(); } };
}
