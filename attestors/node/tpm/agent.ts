import type { Logger } from '../../../common/logger.ts';
import type { AgentAttestorFactory, NodeAttestorAgent } from '../types.ts';
import { agentConfig, type TpmAgentConfig } from './config.ts';
import { TpmClient } from './esys/client.ts';
import { readEventLog } from './eventlog-source.ts';
import type { PcrSelection } from './pcr-selection.ts';
import { METHOD, decodeChallenge, encodePayload, encodeResponse } from './protocol.ts';

export { METHOD };

export interface TpmAgentOptions {
  tcti: string;
  pcrs: PcrSelection;
  ekCertNvIndex: number;
  ekHandle: number;
  timeoutMs: number;
  /** TCG event log sent with each quote; "" sends none. */
  eventLogPath: string;
  logger: Logger;
}

/**
 * Agent half of TPM 2.0 node attestation. payload(): EK certificate + EK public + AK
 * public. respond(): ActivateCredential on the server's credential blob, then a quote of
 * the configured PCRs over the server's nonce, with the firmware's event log (read after
 * the quote, as Keylime does, so it holds every event the quoted PCRs saw). The TPM
 * session (EK, AK) lives in a worker thread for the agent's lifetime, so re-attestation
 * is a new payload/respond pair.
 */
export class TpmAttestorAgent implements NodeAttestorAgent {
  readonly method = METHOD;
  private client?: TpmClient;

  constructor(private readonly opts: TpmAgentOptions) {}

  private tpm(): TpmClient {
    this.client ??= new TpmClient({ tcti: this.opts.tcti, ekCertNvIndex: this.opts.ekCertNvIndex, ekHandle: this.opts.ekHandle }, this.opts.timeoutMs);
    return this.client;
  }

  async payload(signal?: AbortSignal): Promise<Uint8Array> {
    const id = await this.tpm().identity(signal);
    this.opts.logger.debug('tpm identity ready', { has_ek_cert: id.ekCert !== undefined });
    return encodePayload(id);
  }

  async respond(challenge: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    const c = decodeChallenge(challenge);
    const tpm = this.tpm();
    const secret = await tpm.activate(c.credentialBlob, c.encryptedSecret, signal);
    const q = await tpm.quote(c.nonce, this.opts.pcrs, signal);
    const eventLog = await readEventLog(this.opts.eventLogPath, this.opts.logger);
    return encodeResponse({ secret, quote: q.attest, signature: q.signature, pcrs: q.pcrs, eventLog });
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    await c?.close();
  }
}

export const agentFactory: AgentAttestorFactory<TpmAgentConfig> = {
  method: METHOD,
  config: agentConfig,
  create(config, deps) {
    return new TpmAttestorAgent({
      tcti: config.tcti,
      pcrs: config.pcrs,
      ekCertNvIndex: config.ek_cert_nv_index,
      ekHandle: config.ek_handle,
      timeoutMs: config.timeout * 1000,
      eventLogPath: config.event_log_path,
      logger: deps.logger.child({ attestor: METHOD }),
    });
  },
};
