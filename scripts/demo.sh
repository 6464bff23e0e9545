#!/usr/bin/env bash
# The README's first command: install what is missing, then run the demo (server +
# agent + a workload fetching its SVIDs, then a user's delegated authority through agent
# A and sub-agent B to a resource server, and its revocation; all in a temporary directory).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec npm run --silent demo
