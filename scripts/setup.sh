#!/usr/bin/env bash
# Installs everything Tessera needs on a fresh Debian 12 machine: the Debian packages
# (software TPM and tpm2-tss runtime for TPM attestation and its tests) and the npm
# dependencies. Idempotent; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(swtpm swtpm-tools tpm2-tools libtss2-esys-3.0.2-0 libtss2-tctildr0 libtss2-mu0 libtss2-rc0
  libtss2-tcti-swtpm0 libtss2-tcti-device0 openssl chromium)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# better-sqlite3 builds from source when no prebuilt binary can be fetched; point
# node-gyp at the local Node headers so it never needs to download them.
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node.h ]; then
  export npm_config_nodedir=/usr
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
fi
# bin/tessera-server.js and bin/tessera-agent.js run the compiled dist/ (a second or two).
echo "setup: npm run build"
npm run --silent build >/dev/null
echo "setup: ready"
