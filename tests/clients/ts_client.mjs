#!/usr/bin/env node
// A real MCP client (official TypeScript SDK, Streamable HTTP) for Catwalk's
// end-to-end tests. Connects, lists tools, optionally calls one tool N times,
// terminates the session (HTTP DELETE) and prints one JSON line.
//
// Usage: node ts_client.mjs --url URL [--token TOKEN] [--call TOOL --args JSON]
//                           [--repeat N] [--timeout SECONDS] [--transport http|sse]
// --transport sse uses the legacy HTTP+SSE transport; the URL is then the /sse stream.
//
// Success (exit 0): {"protocolVersion","serverName","tools":[...],"result","sessionId","calls"}
// Failure (exit 1): {"error":"...","code":<HTTP status | JSON-RPC code | null>,"calls":<completed>}
// Timeout (exit 2): {"error":"timed out after 60 s","code":null}

import { armTimeout, bounded, describeError, finish, listAllTools, makeClient, parseArgs } from './common.mjs';

const SPEC = { url: 'string', token: 'string', call: 'string', args: 'json', repeat: 'int', timeout: 'int', transport: 'string' };

async function main() {
  const opts = parseArgs(process.argv.slice(2), SPEC);
  if (!opts.url) return finish({ error: 'missing required --url', code: null }, 1);
  if (opts.args !== undefined && !opts.call) return finish({ error: '--args needs --call', code: null }, 1);
  armTimeout(opts.timeout ?? 60);

  const { client, transport, state } = makeClient(opts.url, opts.token, 'catwalk-ts-test-client', opts.transport ?? 'http');
  let calls = 0;
  try {
    await client.connect(transport);
    // The SSE transport keeps the negotiated version only in a field without a getter.
    const protocolVersion = transport.protocolVersion ?? transport._protocolVersion ?? null;
    const serverName = client.getServerVersion()?.name ?? null;
    const tools = await listAllTools(client);

    let result = null;
    if (opts.call) {
      const repeat = opts.repeat ?? 1;
      for (let i = 0; i < repeat; i += 1) {
        result = await client.callTool({ name: opts.call, arguments: opts.args ?? {} });
        calls += 1;
      }
    }

    // Read before terminateSession(), which clears it.
    const sessionId = transport.sessionId ?? null;
    await transport.terminateSession?.();
    await client.close();
    return finish({ protocolVersion, serverName, tools, result, sessionId, calls }, 0);
  } catch (err) {
    // Best effort: do not leave a live session behind on the server. The
    // original error is the one worth reporting, so cleanup errors are dropped.
    await bounded(transport.terminateSession?.() ?? Promise.resolve(), 5000);
    await bounded(client.close(), 5000);
    return finish({ ...describeError(err, state), calls }, 1);
  }
}

main().catch((err) => finish(describeError(err, null), 1));
