#!/usr/bin/env bash
# Runs the MCP Inspector's CLI mode on the Node 22 installed in this folder (the Inspector needs
# Node >= 22.19; the machine's own node may be older). Every argument goes to `mcp-inspector --cli`.
# The Inspector keeps a catalog and client settings under ~/.mcp-inspector, so it runs with a
# throwaway HOME, and gets 120 s at most.
#
# Usage: tests/inspector/run.sh --server-url URL --transport http|sse --method tools/list \
#          [--header "Authorization: Bearer TOKEN"] [--protocol-era legacy|auto|modern] --format json
# Exit codes are the Inspector's (0 ok, 5 tool_is_error or tool_not_found, ...); 127 when this
# folder has not been installed (`npm ci` here), 124 on the time limit.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
node="$here/node_modules/.bin/node"
cli="$here/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js"
if [ ! -x "$node" ] || [ ! -f "$cli" ]; then
  echo "tests/inspector is not installed: run \`npm ci\` in $here" >&2
  exit 127
fi
home="$(mktemp -d)"
trap 'rm -rf "$home"' EXIT
HOME="$home" timeout 120 "$node" "$cli" --cli "$@"
