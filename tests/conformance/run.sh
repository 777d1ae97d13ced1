#!/usr/bin/env bash
# Runs official MCP conformance scenarios against one endpoint: run.sh URL SCENARIO...
#
# The suite needs Node >= 22, so everything runs on the Node 22 that `npm ci` installs into
# node_modules (the `node` package), whatever node is on PATH. See README.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
node="$here/node_modules/.bin/node"
if [[ ! -x "$node" || ! -f "$here/node_modules/@modelcontextprotocol/conformance/dist/index.js" ]]; then
    echo "run.sh: the conformance suite is not installed; run 'npm ci' in $here first" >&2
    exit 2
fi
exec "$node" "$here/run.mjs" "$@"
