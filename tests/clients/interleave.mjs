#!/usr/bin/env node
// Checks that concurrent calls on two sessions of the same endpoint never get
// each other's answers: opens two sessions (official TypeScript SDK, Streamable
// HTTP), fires N concurrent `echo` calls with distinct messages alternating
// between the sessions, and checks every answer contains its own message.
//
// Usage: node interleave.mjs --url URL [--token TOKEN] [--calls N] [--tool NAME]
//                            [--timeout SECONDS]
//
// Success (exit 0): {"ok":true,"calls":N,"sessionIds":[a,b]}
// Mismatch (exit 1): {"ok":false,"calls":N,"mismatches":[{"index","session","expected","got"}]}
// Failure (exit 1): {"ok":false,"error":"...","code":<HTTP status | JSON-RPC code | null>}
// Timeout (exit 2): {"error":"timed out after 60 s","code":null}

import { armTimeout, bounded, describeError, finish, makeClient, parseArgs } from './common.mjs';

const SPEC = { url: 'string', token: 'string', calls: 'int', tool: 'string', timeout: 'int' };

/** Concatenates the text parts of a tools/call result (or stringifies it). */
function resultText(result) {
  const parts = Array.isArray(result?.content) ? result.content : [];
  const texts = parts.filter((p) => p.type === 'text').map((p) => p.text);
  return texts.length > 0 ? texts.join('\n') : JSON.stringify(result);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2), SPEC);
  if (!opts.url) return finish({ ok: false, error: 'missing required --url', code: null }, 1);
  armTimeout(opts.timeout ?? 60);
  const total = opts.calls ?? 20;
  const tool = opts.tool ?? 'echo';

  const sessions = [
    makeClient(opts.url, opts.token, 'catwalk-interleave-a'),
    makeClient(opts.url, opts.token, 'catwalk-interleave-b'),
  ];
  try {
    await Promise.all(sessions.map((s) => s.client.connect(s.transport)));
    const sessionIds = sessions.map((s) => s.transport.sessionId ?? null);
    if (sessionIds[0] !== null && sessionIds[0] === sessionIds[1]) {
      throw new Error(`both sessions got the same session id ${sessionIds[0]}`);
    }

    // A random run tag keeps messages distinct across concurrent runs of this script.
    const tag = Math.random().toString(36).slice(2, 10);
    const jobs = Array.from({ length: total }, (_, index) => {
      const session = index % 2;
      const expected = `interleave-${tag}-s${session}-m${index}`;
      return sessions[session].client
        .callTool({ name: tool, arguments: { message: expected } })
        .then((result) => ({ index, session, expected, got: resultText(result), isError: result?.isError === true }));
    });
    const answers = await Promise.all(jobs);

    // "m1" is a prefix of "m10", so match the message as a whole token.
    const mismatches = answers
      .filter((a) => a.isError || !new RegExp(`(^|[^\\w-])${a.expected}($|[^\\w-])`).test(a.got))
      .map(({ index, session, expected, got }) => ({ index, session, expected, got }));

    await Promise.all(sessions.map((s) => s.transport.terminateSession()));
    await Promise.all(sessions.map((s) => s.client.close()));
    if (mismatches.length > 0) return finish({ ok: false, calls: total, mismatches }, 1);
    return finish({ ok: true, calls: total, sessionIds }, 0);
  } catch (err) {
    for (const s of sessions) {
      await bounded(s.transport.terminateSession(), 5000);
      await bounded(s.client.close(), 5000);
    }
    const state = sessions.find((s) => s.state.lastHttpStatus !== null)?.state ?? null;
    return finish({ ok: false, ...describeError(err, state) }, 1);
  }
}

main().catch((err) => finish({ ok: false, ...describeError(err, null) }, 1));
