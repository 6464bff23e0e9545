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
# A real Docker daemon for the docker workload attestor's tests (each test file starts its
# own dockerd on a private socket); without recommends, so no apparmor or service tweaks.
for p in docker.io busybox-static; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    echo "setup: installing $p"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends docker.io busybox-static >/dev/null
    break
  fi
done

# The tests run several servers (each with a connection pool) and contract suites side by
# side against the local PostgreSQL; its default of 100 connections is too few for that.
# Raised once (ALTER SYSTEM + restart) where this script may manage the local cluster.
if [ "$(id -u)" -eq 0 ] && command -v psql >/dev/null && command -v pg_ctlcluster >/dev/null; then
  maxc=$(psql -h 127.0.0.1 -U postgres -Atc 'SHOW max_connections' 2>/dev/null || echo "")
  if [ -n "$maxc" ] && [ "$maxc" -lt 400 ]; then
    echo "setup: raising PostgreSQL max_connections from $maxc to 400"
    psql -h 127.0.0.1 -U postgres -qc 'ALTER SYSTEM SET max_connections = 400' >/dev/null
    for v in $(ls /etc/postgresql 2>/dev/null); do pg_ctlcluster --skip-systemctl-redirect "$v" main restart || true; done
    for _ in $(seq 1 60); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
  fi
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
