import { createHash } from 'node:crypto';
import { AttestationError } from '../../../common/errors.ts';
import type { Selector } from '../../../spiffe/selector.ts';
import { parseEventLog } from './eventlog.ts';
import { eventLogFacts, eventLogSelectors, type EventLogFacts } from './eventlog-facts.ts';
import { checkReplay, replayEventLog, type ReplayCheck } from './eventlog-replay.ts';
import type { PcrValue } from './verify-quote.ts';

/** The server's event-log settings (`node_attestors.tpm.event_log`). */
export interface EventLogSettings {
  /** Refuse agents that send no log. True as soon as a policy key below is set. */
  required: boolean;
  /** Largest log accepted, after decompression. */
  maxBytes: number;
  /** Refuse a boot whose verified SecureBoot state is not enabled. */
  requireSecureBoot: boolean;
  /** When non-empty, every boot application in PCR 4 (sha256 bank) must be one of these digests (lowercase hex). */
  allowedBootApps: ReadonlySet<string>;
}

export interface MeasuredBoot {
  selectors: Selector[];
  facts: EventLogFacts;
  /** JSON-safe summary for the attestation audit record. */
  audit: Record<string, unknown>;
}

const deny = (code: string, msg: string) => new AttestationError('permission_denied', code, msg);

/**
 * Event-log half of TPM attestation, after the quote and its PCR values are verified:
 * parse, replay, check against the quoted PCRs, derive facts, enforce the policy.
 * Returns undefined when no log was sent and none is required.
 */
export function verifyEventLog(log: Uint8Array | undefined, quoted: readonly PcrValue[], settings: EventLogSettings): MeasuredBoot | undefined {
  if (!log) {
    if (settings.required) {
      throw deny('ERR_TPM_EVENTLOG_MISSING', 'this server requires the TPM event log (node_attestors.tpm.event_log) but the agent sent none: check the agent\'s event_log_path and that it can read it');
    }
    return undefined;
  }
  const parsed = parseEventLog(log, { maxBytes: settings.maxBytes });
  const check = checkReplay(replayEventLog(parsed), quoted);
  const facts = eventLogFacts(parsed, check);
  enforceEventLogPolicy(settings, facts, check);
  return {
    selectors: eventLogSelectors(facts),
    facts,
    audit: {
      sha256: createHash('sha256').update(log).digest('hex'),
      bytes: log.length,
      events: parsed.events.length,
      replayed_pcrs: check.replayed,
      unexplained_pcrs: check.unexplained,
      unquoted_pcrs: check.unquoted,
      secure_boot: facts.secureBoot,
      boot_apps: Object.fromEntries(facts.bootApps),
      event_types: facts.eventTypes,
    },
  };
}

function enforceEventLogPolicy(settings: EventLogSettings, facts: EventLogFacts, check: ReplayCheck): void {
  if (settings.requireSecureBoot && facts.secureBoot !== 'enabled') {
    const why = facts.secureBoot === 'disabled' ? 'the event log shows SecureBoot disabled'
      : 'the event log has no SecureBoot event in a PCR 7 the quote verified (quote PCR 7)';
    throw deny('ERR_TPM_EVENTLOG_POLICY', `secure boot is required (event_log.require_secure_boot) but ${why}`);
  }
  if (settings.allowedBootApps.size > 0) {
    const apps = facts.bootApps.get('sha256');
    if (!apps) {
      const state = check.unexplained.includes('sha256:4') ? 'moved without log events' : 'is not quoted';
      throw deny('ERR_TPM_EVENTLOG_POLICY', `event_log.allowed_boot_apps needs PCR sha256:4 verified by the event log, but it ${state}`);
    }
    const bad = apps.findIndex((d) => !settings.allowedBootApps.has(d));
    if (bad >= 0) {
      throw deny('ERR_TPM_EVENTLOG_POLICY', `boot application ${bad + 1} of ${apps.length} in PCR 4 (sha256 ${apps[bad]}) is not in event_log.allowed_boot_apps`);
    }
  }
}
