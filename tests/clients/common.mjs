// Shared plumbing for the Node test clients: argument parsing, a single-line JSON
// output contract, a hard timeout, and a transport factory that remembers the last
// HTTP status (the SDK does not always carry it on the error it throws).

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';

// The Rust tests parse exactly one line of stdout, so anything the SDK (or a
// dependency) might print goes to stderr instead.
for (const level of ['log', 'info', 'debug']) {
  console[level] = (...args) => console.error(...args);
}

let emitted = false;

/** Writes the one JSON result line once, then exits with `code`. */
export function finish(obj, code) {
  if (!emitted) {
    emitted = true;
    process.stdout.write(`${JSON.stringify(obj)}\n`, () => process.exit(code));
  } else {
    process.exit(code);
  }
}

/**
 * Parses `--flag value` pairs. `spec` maps flag name to 'string' | 'int' | 'json'.
 * Throws on an unknown flag, a missing value or a malformed value.
 */
export function parseArgs(argv, spec) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    const name = flag.startsWith('--') ? flag.slice(2) : '';
    if (!Object.hasOwn(spec, name)) throw new Error(`unknown argument: ${flag}`);
    const raw = argv[i + 1];
    if (raw === undefined) throw new Error(`missing value for ${flag}`);
    if (spec[name] === 'int') {
      if (!/^[0-9]+$/.test(raw)) throw new Error(`invalid value for ${flag}: not a non-negative integer`);
      out[name] = Number.parseInt(raw, 10);
    } else if (spec[name] === 'json') {
      try {
        out[name] = JSON.parse(raw);
      } catch (err) {
        throw new Error(`invalid value for ${flag}: ${err.message}`);
      }
    } else {
      out[name] = raw;
    }
  }
  return out;
}

/** Awaits `promise` for at most `ms`, swallowing its failure (for cleanup only). */
export async function bounded(promise, ms) {
  let timer;
  const limit = new Promise((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([promise.catch(() => {}), limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** Kills the process with exit 2 if it has not finished within `seconds`. */
export function armTimeout(seconds) {
  setTimeout(() => {
    finish({ error: `timed out after ${seconds} s`, code: null }, 2);
  }, seconds * 1000);
}

/**
 * Builds an SDK client and transport. `state.lastHttpStatus` is the status of
 * the most recent POST of this transport when it was not 2xx, else null.
 */
export function makeClient(url, token, name, kind = 'http') {
  const state = { lastHttpStatus: null };
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  // Only POSTs count: a 405 on the optional GET stream is normal and must not be
  // blamed for a later, unrelated failure.
  const recordingFetch = async (input, init) => {
    const response = await fetch(input, init);
    if ((init?.method ?? 'GET').toUpperCase() === 'POST') {
      state.lastHttpStatus = response.ok ? null : response.status;
    }
    return response;
  };
  // 'sse' is the legacy HTTP+SSE transport (2024-11-05): the URL is the /sse stream. Its SDK
  // transport adds requestInit headers twice to the stream's GET ("Bearer X, Bearer X"), so the
  // token is set (not appended) by the fetch wrapper instead.
  const transport = kind === 'sse'
    ? new SSEClientTransport(new URL(url), {
      fetch: (input, init) => {
        const merged = new Headers(init?.headers);
        for (const [key, value] of Object.entries(headers)) merged.set(key, value);
        return recordingFetch(input, { ...init, headers: merged });
      },
    })
    : new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers },
      fetch: recordingFetch,
    });
  const client = new Client({ name, version: '0.0.0' });
  return { client, transport, state };
}

/** Lists every tool, following pagination cursors. */
export async function listAllTools(client) {
  const names = [];
  let cursor;
  for (let page = 0; page < 1000; page += 1) {
    const res = await client.listTools(cursor ? { cursor } : undefined);
    for (const tool of res.tools) names.push(tool.name);
    if (!res.nextCursor) return names;
    cursor = res.nextCursor;
  }
  throw new Error('tools/list pagination did not end after 1000 pages');
}

/**
 * Maps an SDK error to `{error, code}`: the SDK's own numeric code (HTTP status
 * for StreamableHTTPError, JSON-RPC code for McpError) when it is meaningful,
 * otherwise the status of the last POST when it was not 2xx.
 */
export function describeError(err, state) {
  let message = err instanceof Error ? err.message : String(err);
  // Node's fetch reports "fetch failed" and hides the reason (ECONNREFUSED, ...) in `cause`.
  const cause = err && err.cause;
  if (cause) message += `: ${cause.code ?? cause.message ?? String(cause)}`;
  let code = null;
  if (err && typeof err.code === 'number' && err.code !== -1) code = err.code;
  else if (state && state.lastHttpStatus !== null) code = state.lastHttpStatus;
  return { error: message, code };
}
