#!/usr/bin/env bash
# The README's first command: install what is missing, then run the demo (server +
# agent + a workload fetching its SVIDs, then a user's delegated authority through agent
# A and sub-agent B to a resource server, and its revocation; an MCP server protected by
# Tessera and an agent calling its tool with the MCP SDK and its SVID; then the server's /ready and
# /metrics, a signed transparency-log checkpoint with an inclusion proof verified offline,
# AuthZEN decisions before and after a revocation, and a WIT-SVID with a one-time proof;
# all in a temporary directory).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec npm run --silent demo
