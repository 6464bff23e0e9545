/**
 * Numbers of the TCG PC Client Platform Firmware Profile (PFP) event log, shared by the
 * parser, the replay and the facts derived from a log. The log is little-endian, unlike
 * TPM wire structures.
 */

/** Event types (PFP §10.4.1) by value, with the names tpm2_eventlog and the spec use. */
export const EVENT_TYPES: Readonly<Record<number, string>> = {
  0x0000_0000: 'EV_PREBOOT_CERT',
  0x0000_0001: 'EV_POST_CODE',
  0x0000_0002: 'EV_UNUSED',
  0x0000_0003: 'EV_NO_ACTION',
  0x0000_0004: 'EV_SEPARATOR',
  0x0000_0005: 'EV_ACTION',
  0x0000_0006: 'EV_EVENT_TAG',
  0x0000_0007: 'EV_S_CRTM_CONTENTS',
  0x0000_0008: 'EV_S_CRTM_VERSION',
  0x0000_0009: 'EV_CPU_MICROCODE',
  0x0000_000a: 'EV_PLATFORM_CONFIG_FLAGS',
  0x0000_000b: 'EV_TABLE_OF_DEVICES',
  0x0000_000c: 'EV_COMPACT_HASH',
  0x0000_000d: 'EV_IPL',
  0x0000_000e: 'EV_IPL_PARTITION_DATA',
  0x0000_000f: 'EV_NONHOST_CODE',
  0x0000_0010: 'EV_NONHOST_CONFIG',
  0x0000_0011: 'EV_NONHOST_INFO',
  0x0000_0012: 'EV_OMIT_BOOT_DEVICE_EVENTS',
  0x8000_0001: 'EV_EFI_VARIABLE_DRIVER_CONFIG',
  0x8000_0002: 'EV_EFI_VARIABLE_BOOT',
  0x8000_0003: 'EV_EFI_BOOT_SERVICES_APPLICATION',
  0x8000_0004: 'EV_EFI_BOOT_SERVICES_DRIVER',
  0x8000_0005: 'EV_EFI_RUNTIME_SERVICES_DRIVER',
  0x8000_0006: 'EV_EFI_GPT_EVENT',
  0x8000_0007: 'EV_EFI_ACTION',
  0x8000_0008: 'EV_EFI_PLATFORM_FIRMWARE_BLOB',
  0x8000_0009: 'EV_EFI_HANDOFF_TABLES',
  0x8000_000a: 'EV_EFI_PLATFORM_FIRMWARE_BLOB2',
  0x8000_000b: 'EV_EFI_HANDOFF_TABLES2',
  0x8000_000c: 'EV_EFI_VARIABLE_BOOT2',
  0x8000_0010: 'EV_EFI_HCRTM_EVENT',
  0x8000_00e0: 'EV_EFI_VARIABLE_AUTHORITY',
  0x8000_00e1: 'EV_EFI_SPDM_FIRMWARE_BLOB',
  0x8000_00e2: 'EV_EFI_SPDM_FIRMWARE_CONFIG',
};

export const EV = {
  NO_ACTION: 0x0000_0003,
  SEPARATOR: 0x0000_0004,
  EFI_VARIABLE_DRIVER_CONFIG: 0x8000_0001,
  EFI_BOOT_SERVICES_APPLICATION: 0x8000_0003,
  EFI_HCRTM_EVENT: 0x8000_0010,
} as const;

/** Name of an event type for messages, selectors and audit: the spec name or its hex value. */
export function eventTypeName(type: number): string {
  return EVENT_TYPES[type] ?? `0x${type.toString(16).padStart(8, '0')}`;
}

/** TCG_EfiSpecIdEvent signature of a crypto-agile log ("Spec ID Event03\0"). */
export const SPEC_ID_EVENT03 = Buffer.from('Spec ID Event03\0', 'latin1');
/** Signature of the SHA-1-only log format (TCG 1.2 style), which this parser refuses. */
export const SPEC_ID_EVENT00 = Buffer.from('Spec ID Event00\0', 'latin1');
/** EV_NO_ACTION signature telling the locality TPM2_Startup ran at: PCR 0's initial value. */
export const STARTUP_LOCALITY = Buffer.from('StartupLocality\0', 'latin1');

/** EFI_GLOBAL_VARIABLE (8BE4DF61-93CA-11D2-AA0D-00E098032B8C) in its in-memory (mixed-endian) form. */
export const EFI_GLOBAL_VARIABLE = Buffer.from('61dfe48bca93d211aa0d00e098032b8c', 'hex');

/** PCRs the PFP assigns: boot manager code and boot attempts; Secure Boot policy. */
export const PCR_BOOT_MANAGER = 4;
export const PCR_SECURE_BOOT_POLICY = 7;
