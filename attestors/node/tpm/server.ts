import { randomBytes, timingSafeEqual, X509Certificate } from 'node:crypto';
import { AttestationError, ConfigError } from '../../../common/errors.ts';
import type { Logger } from '../../../common/logger.ts';
import { agentId } from '../../../spiffe/id.ts';
import { makeSelector, type Selector } from '../../../spiffe/selector.ts';
import type { NodeAttestationContext, NodeAttestationResult, NodeAttestorServer, ServerAttestorFactory } from '../types.ts';
import { DEFAULT_EVENT_LOG_SETTINGS, serverConfig, type TpmServerConfig } from './config.ts';
import { HASHES, OBJECT_ATTR as A } from './constants.ts';
import { verifyEkCertificate, type EkTrust, type VerifiedEkCertificate } from './ek-cert.ts';
import { makeCredential, type CredentialBlob } from './make-credential.ts';
import { verifyEventLog, type EventLogSettings } from './eventlog-verify.ts';
import { enforcePcrPolicy, type PcrPolicy } from './pcr-policy.ts';
import { METHOD, decodePayload, decodeResponse, encodeChallenge } from './protocol.ts';
import { ekHash, parsePublicArea, spkiDer, type PublicArea } from './public-area.ts';
import { pcrLabel, verifyQuote } from './verify-quote.ts';

export { METHOD };

export interface TpmServerOptions {
  /** EK certificate trust anchors; empty roots means only `ekHashes` can admit a TPM. */
  trust: EkTrust;
  /** Lowercase SHA-256 hex of EK public key DERs admitted without a certificate chain. */
  ekHashes: ReadonlySet<string>;
  pcrPolicy?: PcrPolicy;
  eventLog: EventLogSettings;
  logger: Logger;
}

/** Attributes an AK must have: a restricted signing key that never leaves this TPM. */
const AK_REQUIRED: [keyof typeof A, number][] = [
  ['fixedTPM', A.fixedTPM], ['fixedParent', A.fixedParent], ['sensitiveDataOrigin', A.sensitiveDataOrigin],
  ['restricted', A.restricted], ['sign', A.sign],
];

const deny = (code: string, msg: string, cause?: unknown) => new AttestationError('permission_denied', code, msg, { cause });

/**
 * Server half of TPM 2.0 node attestation (no TPM needed). Proves, in order: the EK is
 * a genuine TPM's (certificate chain or allow-list), the AK lives in that same TPM
 * (MakeCredential/ActivateCredential), and what the platform booted (a quote over the
 * agent's PCR selection bound to this attestation's nonce, explained event by event when
 * the agent sends the firmware's event log). See docs/tpm.md.
 */
export class TpmAttestorServer implements NodeAttestorServer {
  readonly method = METHOD;
  constructor(private readonly opts: TpmServerOptions) {}

  async attest(payloadBytes: Uint8Array, ctx: NodeAttestationContext): Promise<NodeAttestationResult> {
    const payload = decodePayload(payloadBytes);
    const ek = parseArea(payload.ekPublic, 'EK public area');
    const ak = parseArea(payload.akPublic, 'AK public area');
    const ekHex = ekHash(ek.publicKey);

    const ekTrust = this.trustEk(ek, ekHex, payload.ekCert, ctx.now());
    checkAk(ak);

    // Credential activation: only the TPM holding the EK's private key, with an object
    // named ak.name loaded, can unwrap the secret.
    const secret = randomBytes(32);
    const nonce = randomBytes(32);
    let credential: CredentialBlob;
    try {
      credential = makeCredential(ekTrust.key, ek, ak.name, secret);
    } catch (e) {
      throw new AttestationError('invalid_argument', 'ERR_TPM_EK_UNSUPPORTED', `cannot make a credential for this EK: ${(e as Error).message}`, { cause: e });
    }

    const response = decodeResponse(await ctx.challenge(encodeChallenge({ ...credential, nonce })), { eventLogMaxBytes: this.opts.eventLog.maxBytes });

    if (response.secret.length !== secret.length || !timingSafeEqual(response.secret, secret)) {
      throw deny('ERR_TPM_CREDENTIAL_MISMATCH', 'the secret returned is not the activated credential: the AK is not resident in the TPM of this EK');
    }
    const { quote, pcrs } = verifyQuote(ak, { attest: response.quote, signature: response.signature, pcrs: response.pcrs }, nonce);
    if (this.opts.pcrPolicy) enforcePcrPolicy(this.opts.pcrPolicy, pcrs);
    const measured = verifyEventLog(response.eventLog, pcrs, this.opts.eventLog);

    const selectors: Selector[] = [makeSelector(METHOD, `ek_hash:${ekHex}`)];
    if (ekTrust.cert?.issuerCn) selectors.push(makeSelector(METHOD, `ek_cert:issuer:cn:${ekTrust.cert.issuerCn}`));
    const pcrAudit: Record<string, string> = {};
    for (const p of pcrs) {
      const hex = Buffer.from(p.value).toString('hex');
      selectors.push(makeSelector(METHOD, `pcr:${HASHES[p.hashAlg]!.name}:${p.index}:${hex}`));
      pcrAudit[pcrLabel(p.hashAlg, p.index)] = hex;
    }
    if (measured) selectors.push(...measured.selectors);
    const id = agentId(ctx.trustDomain, METHOD, ekHex);
    this.opts.logger.debug('tpm attestation verified', { agent_id: id.toString(), ek_trusted_by: ekTrust.by, secure_boot: measured?.facts.secureBoot });
    return {
      agentId: id,
      selectors,
      trustOnFirstUse: false,
      audit: {
        ek_hash: ekHex,
        ek_trusted_by: ekTrust.by,
        ek_cert_issuer_cn: ekTrust.cert?.issuerCn,
        ek_cert_path: ekTrust.cert?.path,
        ak_name: Buffer.from(ak.name).toString('hex'),
        pcrs: pcrAudit,
        quote_clock: {
          clock_ms: quote.clock.clock.toString(),
          reset_count: quote.clock.resetCount,
          restart_count: quote.clock.restartCount,
          safe: quote.clock.safe,
        },
        firmware_version: quote.firmwareVersion.toString(16),
        event_log: measured?.audit,
      },
    };
  }

  /**
   * The EK is trusted through its certificate chain or the hash allow-list. A certificate,
   * when sent, must hold the very key of the EK public area: otherwise a genuine
   * certificate could vouch for a key that is not in this TPM.
   */
  private trustEk(ek: PublicArea, ekHex: string, certDer: Uint8Array | undefined, now: number):
    { key: PublicArea['publicKey']; by: 'certificate' | 'ek_hash'; cert?: VerifiedEkCertificate } {
    if ((ek.attributes & (A.fixedTPM | A.restricted | A.decrypt)) !== (A.fixedTPM | A.restricted | A.decrypt) || (ek.attributes & A.sign)) {
      throw deny('ERR_TPM_EK_ATTRIBUTES', 'EK public area is not a fixedTPM restricted decryption key');
    }
    const allowListed = this.opts.ekHashes.has(ekHex);
    if (!certDer) {
      if (allowListed) return { key: ek.publicKey, by: 'ek_hash' };
      throw deny('ERR_TPM_EK_UNTRUSTED', `no EK certificate was sent and EK ${ekHex} is not in ek_hashes`);
    }
    let cert: X509Certificate;
    let certKey: PublicArea['publicKey'];
    let certKeyDer: Buffer;
    try {
      cert = new X509Certificate(certDer);
      certKey = cert.publicKey;
      certKeyDer = spkiDer(certKey);
    } catch (e) {
      throw new AttestationError('invalid_argument', 'ERR_TPM_EK_CERT_MALFORMED', `EK certificate does not parse: ${(e as Error).message}`, { cause: e });
    }
    if (!certKeyDer.equals(spkiDer(ek.publicKey))) {
      throw deny('ERR_TPM_EK_MISMATCH', `EK certificate is for another key than the EK public area sent (EK ${ekHex})`);
    }
    try {
      return { key: certKey, by: 'certificate', cert: verifyEkCertificate(cert, this.opts.trust, now) };
    } catch (e) {
      if (allowListed) return { key: certKey, by: 'ek_hash' };
      throw e;
    }
  }
}

function parseArea(bytes: Uint8Array, what: string): PublicArea {
  try { return parsePublicArea(bytes, what); } catch (e) {
    throw new AttestationError('invalid_argument', 'ERR_TPM_PAYLOAD_MALFORMED', `${what}: ${(e as Error).message}`, { cause: e });
  }
}

function checkAk(ak: PublicArea): void {
  const missing = AK_REQUIRED.filter(([, bit]) => (ak.attributes & bit) === 0).map(([n]) => n);
  const extra = ak.attributes & A.decrypt ? ['decrypt'] : [];
  if (missing.length > 0 || extra.length > 0) {
    const why = [missing.length ? `lacks ${missing.join(', ')}` : '', extra.length ? 'has decrypt set' : ''].filter(Boolean).join(' and ');
    throw deny('ERR_TPM_AK_ATTRIBUTES', `AK ${why}: it must be a restricted signing key fixed to the TPM (attributes 0x${ak.attributes.toString(16)})`);
  }
}

export const serverFactory: ServerAttestorFactory<TpmServerConfig> = {
  method: METHOD,
  config: serverConfig,
  create(config, deps) {
    if (config.ek_ca_certs.length === 0 && config.ek_hashes.length === 0) {
      throw new ConfigError('config: node_attestors.tpm: set ek_ca_certs (manufacturer CA certificates) or ek_hashes (EK allow-list), or both');
    }
    return new TpmAttestorServer({
      trust: { roots: config.ek_ca_certs.flat(), intermediates: config.ek_intermediate_certs.flat() },
      ekHashes: new Set(config.ek_hashes),
      pcrPolicy: config.pcr_policy,
      eventLog: config.event_log ?? DEFAULT_EVENT_LOG_SETTINGS,
      logger: deps.logger.child({ attestor: METHOD }),
    });
  },
};
