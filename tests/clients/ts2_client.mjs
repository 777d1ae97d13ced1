#!/usr/bin/env node
// A real MCP client built on the official TypeScript SDK v2 (`@modelcontextprotocol/client`) for
// Catwalk's end-to-end tests. With `--mode auto` it probes with `server/discover` and speaks the
// modern stateless era (2026-07-28) when the server offers it, else falls back to `initialize`;
// with `--mode legacy` it runs the plain 2025 handshake. Against server-everything it then:
// lists tools, calls `echo`, counts the progress of `trigger-long-running-operation`, and answers
// the sampling and elicitation requests of `trigger-sampling-request` and
// `trigger-elicitation-request` through setRequestHandler (in the modern era the SDK fulfils the
// server's `input_required` results through the same handlers and retries the call).
//
// Usage: node ts2_client.mjs --url URL [--token TOKEN] [--mode auto|legacy] [--transport http|sse]
//                            [--steps N] [--timeout SECONDS]
// --transport sse uses the legacy HTTP+SSE transport (URL = the /sse stream; legacy era only).
//
// Success (exit 0): {"era":"modern"|"legacy","protocolVersion","serverName","sessionId","tools":[...],
//   "echo":<CallToolResult>,"progress":<notifications seen>,"steps":N,"longRunning":<CallToolResult>,
//   "sampling":<CallToolResult>,"elicitation":<CallToolResult>,"samplingRequests":N,"elicitationRequests":N,
//   "wire":{"methods":[JSON-RPC methods POSTed, in order],"inputRequired":<POST answers with input_required>,
//           "inputResponses":<retries carrying inputResponses>}}
// Failure (exit 1): {"error":"...","code":<HTTP status | JSON-RPC code | null>,"stage":"<step that failed>"}
// Timeout (exit 2): {"error":"timed out after 60 s","code":null}

import { Client, SSEClientTransport, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { armTimeout, bounded, describeError, finish, parseArgs } from './common.mjs';

const SPEC = { url: 'string', token: 'string', mode: 'string', transport: 'string', steps: 'int', timeout: 'int' };

/**
 * The SDK transport, with the token set on every request. `state` keeps the status of the last
 * POST, the JSON-RPC methods POSTed (in order), how many POST answers carried an `input_required`
 * result and how many requests retried with `inputResponses`: that is how the modern era asks
 * for sampling or elicitation, and the SDK hides it inside callTool(), so only the wire shows it.
 */
function makeTransport(url, token, kind, state) {
  const recordingFetch = async (input, init) => {
    const headers = new Headers(init?.headers);
    if (token) headers.set('Authorization', `Bearer ${token}`);
    const response = await fetch(input, { ...init, headers });
    if ((init?.method ?? 'GET').toUpperCase() === 'POST') {
      state.lastHttpStatus = response.ok ? null : response.status;
      try {
        const body = JSON.parse(String(init.body));
        if (body.method) state.methods.push(body.method);
        if (body.params?.inputResponses) state.inputResponses += 1;
      } catch {
        // Not JSON: nothing to record.
      }
      if (response.ok && response.body) {
        const copy = response.clone();
        state.reads.push(copy.text().then((text) => {
          if (text.includes('"input_required"')) state.inputRequired += 1;
        }));
      }
    }
    return response;
  };
  return kind === 'sse'
    ? new SSEClientTransport(new URL(url), { fetch: recordingFetch })
    : new StreamableHTTPClientTransport(new URL(url), { fetch: recordingFetch });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2), SPEC);
  if (!opts.url) return finish({ error: 'missing required --url', code: null }, 1);
  const mode = opts.mode ?? 'auto';
  if (!['auto', 'legacy'].includes(mode)) return finish({ error: '--mode must be auto or legacy', code: null }, 1);
  const kind = opts.transport ?? 'http';
  if (!['http', 'sse'].includes(kind)) return finish({ error: '--transport must be http or sse', code: null }, 1);
  const steps = opts.steps ?? 3;
  armTimeout(opts.timeout ?? 60);

  const state = { lastHttpStatus: null, methods: [], inputRequired: 0, inputResponses: 0, reads: [] };
  const transport = makeTransport(opts.url, opts.token, kind, state);
  const client = new Client(
    { name: 'catwalk-ts2-test-client', version: '0.0.0' },
    { capabilities: { sampling: {}, elicitation: {} }, versionNegotiation: { mode } },
  );
  let samplingRequests = 0;
  let elicitationRequests = 0;
  client.setRequestHandler('sampling/createMessage', async () => {
    samplingRequests += 1;
    return { role: 'assistant', model: 'catwalk-test-model', content: { type: 'text', text: 'canned sample from the client' } };
  });
  client.setRequestHandler('elicitation/create', async () => {
    elicitationRequests += 1;
    return { action: 'accept', content: { color: 'red', number: 7, checkbox: true, email: 'a@example.com', name: 'Catwalk' } };
  });

  let stage = 'connect';
  try {
    await client.connect(transport);
    const era = client.getProtocolEra() ?? null;
    const protocolVersion = client.getNegotiatedProtocolVersion() ?? null;
    const serverName = client.getServerVersion()?.name ?? null;
    const sessionId = transport.sessionId ?? null;

    stage = 'tools/list';
    const { tools } = await client.listTools();

    stage = 'echo';
    const echo = await client.callTool({ name: 'echo', arguments: { message: `ts2 ${mode}` } });

    stage = 'progress';
    let progress = 0;
    const longRunning = await client.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 1, steps } },
      { onprogress: () => { progress += 1; } },
    );

    stage = 'sampling';
    const sampling = await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'say hi', maxTokens: 10 } });

    stage = 'elicitation';
    const elicitation = await client.callTool({ name: 'trigger-elicitation-request', arguments: {} });

    stage = 'close';
    await transport.terminateSession?.();
    await client.close();
    await bounded(Promise.all(state.reads), 5000);
    return finish({
      era,
      protocolVersion,
      serverName,
      sessionId,
      tools: tools.map((t) => t.name),
      echo,
      progress,
      steps,
      longRunning,
      sampling,
      elicitation,
      samplingRequests,
      elicitationRequests,
      wire: { methods: state.methods, inputRequired: state.inputRequired, inputResponses: state.inputResponses },
    }, 0);
  } catch (err) {
    await bounded(transport.terminateSession?.() ?? Promise.resolve(), 5000);
    await bounded(client.close(), 5000);
    return finish({ ...describeError(err, state), stage }, 1);
  }
}

main().catch((err) => finish(describeError(err, null), 1));
