// An MCP client signs in to a Catwalk deployment with OAuth, the way a desktop client does: the
// official TypeScript SDK's OAuth client (discovery from the 401, dynamic client registration,
// PKCE, the token exchange) drives the protocol, and Debian's chromium, driven by playwright-core,
// plays the person: it opens the authorization URL, signs in, reads the consent page and approves.
// The client then lists and calls tools with the token it got, and refreshes it once.
// Prints exactly one JSON line on stdout; see README.md.
//
//   node oauth.mjs --url ENDPOINT --username NAME --password PASSWORD [--screenshot PATH]

import { createServer } from 'node:http';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError, refreshAuthorization } from '@modelcontextprotocol/sdk/client/auth.js';
import { chromium } from 'playwright-core';

import * as common from './common.mjs';
import { CHROMIUM, CHROMIUM_ARGS, finish } from './common.mjs';

const STEP_MS = 20_000;
const CLIENT_NAME = 'Catwalk OAuth e2e client';

const result = { ok: false };
function parseArgs(argv) {
  return common.parseArgs(argv, {
    allowed: ['url', 'username', 'password', 'screenshot'],
    required: ['url', 'username', 'password'],
    usage: 'usage: node oauth.mjs --url CATWALK_URL --username NAME --password PASSWORD '
      + '[--screenshot PATH]',
  });
}

/** A loopback HTTP server that receives the authorization response, like a desktop client's. */
function callbackServer() {
  return new Promise((resolve) => {
    let deliver;
    const received = new Promise((r) => { deliver = r; });
    const server = createServer((req, res) => {
      const url = new URL(req.url, 'http://127.0.0.1');
      if (url.pathname !== '/callback') { res.writeHead(404).end(); return; }
      res.writeHead(200, { 'content-type': 'text/plain' }).end('Signed in; you can close this window.');
      deliver(url);
    });
    server.listen(0, '127.0.0.1', () => {
      resolve({ url: `http://127.0.0.1:${server.address().port}/callback`, received, server });
    });
  });
}

/** An in-memory OAuthClientProvider: what a desktop client keeps in its settings. */
class MemoryProvider {
  constructor(redirectUrl) {
    this._redirectUrl = redirectUrl;
    this.client = undefined;
    this.saved = undefined;
    this.verifier = undefined;
    this.authorizationUrl = undefined;
  }
  get redirectUrl() { return this._redirectUrl; }
  get clientMetadata() {
    return {
      client_name: CLIENT_NAME,
      redirect_uris: [this._redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      application_type: 'native',
    };
  }
  state() { return 'state-from-the-e2e-client'; }
  clientInformation() { return this.client; }
  saveClientInformation(info) { this.client = info; }
  tokens() { return this.saved; }
  saveTokens(tokens) { this.saved = tokens; }
  redirectToAuthorization(url) { this.authorizationUrl = url; }
  saveCodeVerifier(verifier) { this.verifier = verifier; }
  codeVerifier() { return this.verifier; }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const callback = await callbackServer();
  const provider = new MemoryProvider(callback.url);

  // 1. The first connection meets the 401 and starts the authorization.
  const first = new StreamableHTTPClientTransport(new URL(args.url), { authProvider: provider });
  try {
    await new Client({ name: 'catwalk-oauth-e2e', version: '1.0.0' }).connect(first);
    throw new Error('the first connection should need authorization');
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
  }
  if (!provider.authorizationUrl) throw new Error('the SDK never asked to open a browser');
  const authorization = provider.authorizationUrl;
  result.authorization = {
    endpoint: `${authorization.origin}${authorization.pathname}`,
    code_challenge_method: authorization.searchParams.get('code_challenge_method'),
    resource: authorization.searchParams.get('resource'),
    registered: Boolean(provider.client?.client_id),
  };

  // 2. The person: sign in, read the consent page, approve.
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const page = await browser.newPage();
  page.setDefaultTimeout(STEP_MS);
  try {
    await page.goto(authorization.toString());
    await page.fill('#username', args.username);
    await page.fill('#password', args.password);
    await page.click('#sign-in');
    await page.waitForSelector('#approve');
    result.consent = {
      client: (await page.textContent('#client-name')).trim(),
      deployment: (await page.textContent('#deployment')).trim(),
      redirect: (await page.textContent('#redirect-host')).trim(),
    };
    await Promise.all([
      page.waitForURL((url) => url.toString().startsWith(callback.url)),
      page.click('#approve'),
    ]);
  } catch (error) {
    if (args.screenshot) await page.screenshot({ path: args.screenshot, fullPage: true }).catch(() => {});
    result.page_url = page.url();
    result.page = (await page.content().catch(() => '')).slice(0, 4000);
    throw error;
  } finally {
    await browser.close();
  }
  const answer = await callback.received;
  callback.server.close();
  result.callback = {
    state: answer.searchParams.get('state'),
    iss: answer.searchParams.get('iss'),
    has_code: Boolean(answer.searchParams.get('code')),
  };

  // 3. The code for tokens, then the tools.
  await first.finishAuth(answer.searchParams.get('code'));
  const client = new Client({ name: 'catwalk-oauth-e2e', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(args.url), { authProvider: provider }));
  const tools = await client.listTools();
  result.tools = tools.tools.map((t) => t.name);
  const echo = await client.callTool({ name: 'echo', arguments: { message: 'hello over oauth' } });
  result.echo = echo.content?.[0]?.text;
  await client.close();
  result.access_token = provider.saved.access_token;

  // 4. A refresh rotates the refresh token; the new access token works too.
  const metadata = await (await fetch(new URL('/.well-known/oauth-authorization-server', args.url))).json();
  const before = provider.saved;
  const refreshed = await refreshAuthorization(metadata.issuer, {
    metadata,
    clientInformation: provider.client,
    refreshToken: before.refresh_token,
    resource: new URL(result.authorization.resource),
  });
  result.refresh = {
    rotated: refreshed.refresh_token !== before.refresh_token,
    old_refresh_token: before.refresh_token,
  };
  provider.saveTokens(refreshed);
  const again = new Client({ name: 'catwalk-oauth-e2e', version: '1.0.0' });
  await again.connect(new StreamableHTTPClientTransport(new URL(args.url), { authProvider: provider }));
  result.refresh.tools_after = (await again.listTools()).tools.length;
  await again.close();
  result.refreshed_access_token = refreshed.access_token;
  result.client_id = provider.client.client_id;
  result.ok = true;
  return result;
}

main().then(
  (result) => finish(result, 0),
  (error) => finish({ ...result, ok: false, error: String(error?.stack || error) }, 1),
);
