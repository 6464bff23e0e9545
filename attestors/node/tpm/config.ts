import { ConfigError } from '../../../common/errors.ts';
import { t, type Field } from '../../../common/config.ts';
import { pemCertificates } from '../cloud/config-fields.ts';
import { EK_NV_INDEX, EK_PERSISTENT_HANDLE } from './constants.ts';
import { EVENT_LOG_MAX_BYTES } from './eventlog.ts';
import type { EventLogSettings } from './eventlog-verify.ts';
import { parsePcrSelectionSpec, type PcrSelection } from './pcr-selection.ts';
import { parsePcrDigest, parsePcrRef, type PcrPolicy } from './pcr-policy.ts';

export const DEFAULT_TCTI = 'device:/dev/tpmrm0';
export const DEFAULT_PCRS = 'sha256:0,1,2,3,4,5,6,7';
/** Where Linux exposes the firmware's TCG event log. */
export const DEFAULT_EVENT_LOG_PATH = '/sys/kernel/security/tpm0/binary_bios_measurements';

/** A Field whose value is checked by `parse`, errors reported against the key path. */
function custom<T>(describe: string, base: Field<unknown>, parse: (v: any, path: string) => T): Field<T> {
  return {
    describe,
    parse: (v, path) => {
      const raw = base.parse(v, path);
      try { return parse(raw, path); } catch (e) {
        if (e instanceof ConfigError) throw e;
        throw new ConfigError(`config: ${path}: ${(e as Error).message}`);
      }
    },
  };
}

const pcrSelection = (def: string): Field<PcrSelection> =>
  custom('PCR selection like sha256:0-7', t.string({ default: def }), (s: string) => parsePcrSelectionSpec(s));

/** `node_attestor.tpm` in the agent config. */
export const agentConfig = t.object({
  /** tctildr string: device:/dev/tpmrm0 (kernel resource manager), swtpm:host=..,port=.. in tests. */
  tcti: t.string({ default: DEFAULT_TCTI, pattern: /^[a-z0-9_-]+(:.*)?$/ }),
  /** PCRs to quote. */
  pcrs: pcrSelection(DEFAULT_PCRS),
  /** NV index holding the EK certificate; 0 when the TPM has none (server then needs ek_hashes). */
  ek_cert_nv_index: t.number({ default: EK_NV_INDEX.rsa2048, integer: true, min: 0, max: 0xffff_ffff }),
  /** Persistent EK handle, used when present; otherwise the EK is recreated from template L-1. */
  ek_handle: t.number({ default: EK_PERSISTENT_HANDLE.rsa, integer: true, min: 0x8100_0000, max: 0x81ff_ffff }),
  /** Longest any single TPM operation may take. */
  timeout: t.duration({ default: 30, min: 1 }),
  /** TCG event log sent with the quote; an absent file means no log, "" never sends one. */
  event_log_path: t.string({ default: DEFAULT_EVENT_LOG_PATH }),
});
export type TpmAgentConfig = ReturnType<typeof agentConfig.parse>;

const sha256Hex = (what: string) => custom('sha256 hex', t.string(), (s: string) => {
  const v = s.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(v)) throw new Error(`"${s}" is not a SHA-256 hex digest of ${what}`);
  return v;
});

const pcrPolicy = custom<PcrPolicy>('PCR policy', t.object({
  required: t.record(t.array(t.string()), { default: {} }),
  allowed_sets: t.array(t.record(t.string()), { default: [] }),
}), (p: { required: Record<string, string[]>; allowed_sets: Record<string, string>[] }, path: string) => {
  const at = (sub: string, f: () => void) => {
    try { f(); } catch (e) { throw new ConfigError(`config: ${path}.${sub}: ${(e as Error).message}`); }
  };
  const policy: PcrPolicy = { required: [], allowedSets: [] };
  for (const [key, values] of Object.entries(p.required)) {
    at(`required.${key}`, () => {
      const pcr = parsePcrRef(key);
      if (values.length === 0) throw new Error('lists no allowed values');
      policy.required.push({ pcr, values: values.map((v) => parsePcrDigest(v, pcr.hashAlg)) });
    });
  }
  p.allowed_sets.forEach((set, i) => {
    const out: PcrPolicy['allowedSets'][number] = [];
    for (const [key, value] of Object.entries(set)) {
      at(`allowed_sets[${i}].${key}`, () => { const pcr = parsePcrRef(key); out.push({ pcr, value: parsePcrDigest(value, pcr.hashAlg) }); });
    }
    if (out.length === 0) throw new ConfigError(`config: ${path}.allowed_sets[${i}]: is empty`);
    policy.allowedSets.push(out);
  });
  return policy;
});

const eventLogSettings = custom<EventLogSettings>('event log settings', t.object({
  required: t.boolean({ default: false }),
  max_bytes: t.number({ default: EVENT_LOG_MAX_BYTES, integer: true, min: 1024, max: 16 * 1024 * 1024 }),
  require_secure_boot: t.boolean({ default: false }),
  allowed_boot_apps: t.array(sha256Hex('a boot application (its Authenticode hash)'), { default: [] }),
}), (c: { required: boolean; max_bytes: number; require_secure_boot: boolean; allowed_boot_apps: string[] }) => ({
  // A policy cannot hold without a log: setting one requires the log.
  required: c.required || c.require_secure_boot || c.allowed_boot_apps.length > 0,
  maxBytes: c.max_bytes,
  requireSecureBoot: c.require_secure_boot,
  allowedBootApps: new Set(c.allowed_boot_apps),
}));

/** Settings when `event_log` is absent: a log that is sent is still verified. */
export const DEFAULT_EVENT_LOG_SETTINGS: EventLogSettings = {
  required: false, maxBytes: EVENT_LOG_MAX_BYTES, requireSecureBoot: false, allowedBootApps: new Set(),
};

/** `node_attestors.tpm` in the server config. */
export const serverConfig = t.object({
  /** PEM files (or PEM text) with trusted EK manufacturer root CA certificates; loaded once at start. */
  ek_ca_certs: t.array(pemCertificates(), { default: [] }),
  /** PEM files (or PEM text) with intermediate CA certificates used to build EK certificate paths. */
  ek_intermediate_certs: t.array(pemCertificates(), { default: [] }),
  /** SHA-256 hex of EK public key DERs accepted without an EK certificate chain. */
  ek_hashes: t.array(sha256Hex('an EK public key'), { default: [] }),
  /** Optional platform-state policy over the quoted PCRs. */
  pcr_policy: t.optional(pcrPolicy),
  /** TCG event log: whether it is required, its size limit, and a measured-boot policy. */
  event_log: t.optional(eventLogSettings),
});
export type TpmServerConfig = ReturnType<typeof serverConfig.parse>;
