/**
 * Resource names the SDS endpoint answers to besides SPIFFE IDs and trust domain IDs,
 * with SPIRE's names as defaults so Envoy configs written for SPIRE work unchanged.
 */
export interface SdsOptions {
  /** The caller's default (first) X.509-SVID. Default "default". */
  defaultSvidName: string;
  /** The agent's own trust domain bundle. Default "ROOTCA". */
  defaultBundleName: string;
  /** Own and federated bundles in one SPIFFE validator config. Default "ALL". */
  defaultAllBundlesName: string;
  /**
   * Send plain validation_context trusted_ca instead of the SPIFFE certificate validator.
   * Envoy can override it per node with the metadata key disable_spiffe_cert_validation.
   */
  disableSpiffeCertValidation: boolean;
}

export const DEFAULT_SDS_OPTIONS: SdsOptions = {
  defaultSvidName: 'default',
  defaultBundleName: 'ROOTCA',
  defaultAllBundlesName: 'ALL',
  disableSpiffeCertValidation: false,
};
