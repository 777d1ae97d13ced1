#!/usr/bin/env node
// A real MCP client (official TypeScript SDK) that exercises what flows from the server to the
// client through Catwalk: it declares sampling and elicitation, answers the server's
// sampling/createMessage and elicitation/create requests with canned replies, and counts the
// progress notifications of a long-running call.
//
// Usage: node interactive.mjs --url URL [--token TOKEN] [--transport http|sse] [--timeout SECONDS]
// Prints one JSON line: {"sampling": <tool result>, "elicitation": <tool result>,
//                        "progress": <notifications seen>, "samplingRequests": N, "elicitationRequests": N}

import { CreateMessageRequestSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { armTimeout, describeError, finish, makeClient, parseArgs } from './common.mjs';

const SPEC = { url: 'string', token: 'string', transport: 'string', timeout: 'int' };

async function main() {
  const opts = parseArgs(process.argv.slice(2), SPEC);
  if (!opts.url) return finish({ error: 'missing required --url', code: null }, 1);
  armTimeout(opts.timeout ?? 60);
  const { transport, state } = makeClient(opts.url, opts.token, 'catwalk-interactive-client', opts.transport ?? 'http');
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const client = new Client(
    { name: 'catwalk-interactive-client', version: '0.0.0' },
    { capabilities: { sampling: {}, elicitation: {} } },
  );
  let samplingRequests = 0;
  let elicitationRequests = 0;
  client.setRequestHandler(CreateMessageRequestSchema, async () => {
    samplingRequests += 1;
    return { role: 'assistant', model: 'catwalk-test-model', content: { type: 'text', text: 'canned sample from the client' } };
  });
  client.setRequestHandler(ElicitRequestSchema, async () => {
    elicitationRequests += 1;
    return { action: 'accept', content: { color: 'red', number: 7, checkbox: true, email: 'a@example.com', name: 'Catwalk' } };
  });
  try {
    await client.connect(transport);
    const sampling = await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'say hi', maxTokens: 10 } });
    const elicitation = await client.callTool({ name: 'trigger-elicitation-request', arguments: {} });
    let progress = 0;
    await client.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 3 } },
      undefined,
      { onprogress: () => { progress += 1; } },
    );
    await transport.terminateSession?.();
    await client.close();
    return finish({ sampling, elicitation, progress, samplingRequests, elicitationRequests }, 0);
  } catch (err) {
    return finish(describeError(err, state), 1);
  }
}

main().catch((err) => finish(describeError(err, null), 1));
