// A real-browser test of Catwalk's dashboard: Debian's chromium, driven by playwright-core, does
// what a person would (sign in with the admin's token, set a password, sign in with it, analyze a
// source, fill the env form, deploy), and the
// script checks what the page shows against the REST API, then lists the new endpoint's tools with
// the official TypeScript MCP SDK. Prints exactly one JSON line on stdout; see README.md.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { chromium } from 'playwright-core';

import * as common from './common.mjs';
import { CHROMIUM, CHROMIUM_ARGS, check, finish, screenshotInto } from './common.mjs';

const MISSING_SOURCE = 'npm:@catwalk-e2e/no-such-package-ever';
const CONFIG_CLIENTS = ['claude_desktop', 'claude_code', 'cursor', 'vscode'];
const ANALYZE_MS = 120_000;
const DEPLOY_MS = 180_000;
const STEP_MS = 15_000;
const TOTAL_S = 420;

const USAGE = 'usage: node dashboard.mjs --url CATWALK_URL --token ADMIN_TOKEN --source SOURCE '
  + '--name NAME [--env KEY=VALUE]... [--screenshot PATH] [--timeout SECONDS]';

function parseArgs(argv) {
  const out = common.parseArgs(argv, {
    allowed: ['url', 'token', 'source', 'name', 'env', 'screenshot', 'timeout'],
    required: ['url', 'token', 'source', 'name'],
    repeated: ['env'],
    usage: USAGE,
  });
  out.env = out.env.map((pair) => {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error('--env expects KEY=VALUE');
    return [pair.slice(0, at), pair.slice(at + 1)];
  });
  return out;
}

/** The REST API, called directly, to compare the page against. */
async function api(opts, method, path, body) {
  const response = await fetch(`${opts.url}/${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${opts.token}`,
      Accept: 'application/json',
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(ANALYZE_MS),
  });
  const text = await response.text();
  check(response.ok, `${method} /${path}: HTTP ${response.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text);
}

/** Waits until one of the selectors is visible; returns its index. */
async function firstVisible(page, selectors, timeout) {
  const waits = selectors.map((selector, index) => page.locator(selector)
    .waitFor({ state: 'visible', timeout }).then(() => index));
  // The losers keep waiting until their own timeout; their rejections are not errors.
  for (const wait of waits) wait.catch(() => {});
  return Promise.any(waits).catch(() => {
    throw new Error(`none of ${selectors.join(', ')} became visible within ${timeout / 1000} s`);
  });
}

async function errorText(page) {
  return (await page.locator('#error-message').textContent({ timeout: STEP_MS })) ?? '';
}

/** Reads the analysis as the page shows it. */
async function readShownSpec(page) {
  const text = async (selector) => (await page.locator(selector).textContent({ timeout: STEP_MS }))?.trim() ?? '';
  const env = await page.locator('#spec-env tbody tr').evaluateAll((rows) => rows.map((row) => {
    const cells = row.querySelectorAll('td');
    const name = row.getAttribute('data-env');
    const input = document.querySelector(`#env-fields [name="env:${CSS.escape(name)}"]`);
    return {
      name,
      required: cells[2]?.textContent.trim() === 'yes',
      secret: cells[3]?.textContent.trim() === 'yes',
      input: input ? {
        tag: input.tagName.toLowerCase(),
        type: input.getAttribute('type'),
        required: input.hasAttribute('required'),
      } : null,
    };
  }));
  const introspection = page.locator('#spec-introspection');
  return {
    introspection: await introspection.count() ? {
      status: await introspection.getAttribute('data-status'),
      text: (await introspection.textContent())?.trim() ?? '',
      tools: await introspection.locator('[data-list="tools"] code').allTextContents(),
    } : null,
    runtime: await text('#spec-runtime'),
    package: await text('#spec-package'),
    launch: await text('#spec-launch'),
    confidence: await text('#spec-confidence'),
    env,
  };
}

/** Checks the page's account of the analysis against the API's. */
function compareSpec(shown, spec) {
  check(shown.runtime.split(' ')[0] === spec.runtime,
    `runtime shown as ${JSON.stringify(shown.runtime)}, the API says ${JSON.stringify(spec.runtime)}`);
  check(shown.confidence.startsWith(spec.confidence.level),
    `confidence shown as ${JSON.stringify(shown.confidence)}, the API says ${spec.confidence.level}`);
  const pkg = `${spec.package.name}@${spec.package.version}`;
  check(shown.package.startsWith(pkg), `package shown as ${JSON.stringify(shown.package)}, expected ${pkg}`);
  const words = [spec.launch.command, ...spec.launch.args];
  check(shown.launch.startsWith(spec.launch.command) && words.every((word) => shown.launch.includes(word)),
    `launch shown as ${JSON.stringify(shown.launch)}, the API says ${JSON.stringify(words)}`);
  const seen = spec.introspection;
  check(shown.introspection, 'the page shows nothing of what the server offers (#spec-introspection)');
  check(shown.introspection.status === seen.status,
    `the page shows the server's start as ${shown.introspection.status}, the API says ${seen.status}`);
  const listed = seen.tools.map((tool) => tool.name);
  check(JSON.stringify(shown.introspection.tools) === JSON.stringify(listed),
    `tools shown: ${JSON.stringify(shown.introspection.tools)}, the API listed ${JSON.stringify(listed)}`);
  if (seen.status === 'needs_credentials') {
    check(/needs real credentials/.test(shown.introspection.text),
      `the page does not say the server needs credentials: ${shown.introspection.text}`);
  }
  const names = shown.env.map((variable) => variable.name);
  check(JSON.stringify(names) === JSON.stringify(spec.env.map((variable) => variable.name)),
    `env vars shown: ${JSON.stringify(names)}, the API found ${JSON.stringify(spec.env.map((v) => v.name))}`);
  for (const variable of spec.env) {
    const row = shown.env.find((candidate) => candidate.name === variable.name);
    for (const flag of ['required', 'secret']) {
      check(row[flag] === variable[flag],
        `${variable.name}: ${flag} shown as ${row[flag]}, the API says ${variable[flag]}`);
    }
    check(row.input, `${variable.name} has no input named env:${variable.name} in #env-form`);
    if (variable.secret) {
      check(row.input.tag === 'input' && row.input.type === 'password',
        `${variable.name} is secret but its input is <${row.input.tag} type=${row.input.type}>`);
    } else {
      check(row.input.type !== 'password', `${variable.name} is not secret but its input hides what is typed`);
    }
    check(row.input.required === variable.required,
      `${variable.name}: the input's required attribute is ${row.input.required}, the API says ${variable.required}`);
  }
}

/** Reads the four client configurations shown after a deploy; each must carry endpoint and token. */
async function readConfigs(page, endpoint, accessToken) {
  const configs = await page.locator('#configs [data-client]').evaluateAll((blocks) => blocks
    .map((block) => [block.getAttribute('data-client'), block.querySelector('pre')?.textContent ?? '']));
  const shown = Object.fromEntries(configs);
  for (const client of CONFIG_CLIENTS) {
    check(client in shown, `#configs has no ${client} configuration (it has ${Object.keys(shown).join(', ')})`);
    check(shown[client].includes(endpoint), `the ${client} configuration does not contain the endpoint`);
    check(shown[client].includes(accessToken), `the ${client} configuration does not contain the access token`);
  }
  return Object.keys(shown);
}

/** The HTTP status of an MCP `initialize` sent without any token. */
async function statusWithoutToken(endpoint) {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
    body: JSON.stringify({
      jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'anonymous', version: '0' } },
    }),
    signal: AbortSignal.timeout(STEP_MS),
  });
  await response.body?.cancel();
  return response.status;
}

async function listTools(endpoint, accessToken) {
  const transport = new StreamableHTTPClientTransport(new URL(endpoint), {
    requestInit: { headers: { Authorization: `Bearer ${accessToken}` } },
  });
  const client = new Client({ name: 'catwalk-dashboard-test', version: '0.0.0' });
  await client.connect(transport, { timeout: 60_000 });
  try {
    const names = [];
    let cursor;
    do {
      const page = await client.listTools(cursor ? { cursor } : undefined, { timeout: 60_000 });
      names.push(...page.tools.map((tool) => tool.name));
      cursor = page.nextCursor;
    } while (cursor);
    return names;
  } finally {
    await transport.terminateSession().catch(() => {});
    await client.close().catch(() => {});
  }
}

const PASSWORD = 'a password typed in chromium';

/**
 * Signs in as a person would on a fresh Catwalk: with the admin's API token first, sets a
 * password, which signs the browser out, then signs in with username and password.
 */
async function signIn(page, opts) {
  const shown = {};
  await page.locator('#signin-section').waitFor({ state: 'visible', timeout: STEP_MS });
  check(!(await page.locator('#deploy-section').isVisible()), 'the deploy form shows before signing in');
  await page.locator('#signin-token').fill(opts.token, { timeout: STEP_MS });
  await page.locator('#signin-with-token').click();
  await page.locator('#account-section').waitFor({ state: 'visible', timeout: STEP_MS });
  shown.signedInAs = (await page.locator('#account-user').textContent())?.trim();
  check(shown.signedInAs === 'admin', `signed in as ${shown.signedInAs}, not admin`);
  // The session cookie is HttpOnly: the page's scripts cannot read it.
  shown.cookieVisibleToScripts = await page.evaluate(() => document.cookie.includes('catwalk_session'));
  check(!shown.cookieVisibleToScripts, 'the session cookie is readable by scripts');
  // A write with the cookie but without the CSRF token is refused.
  shown.writeWithoutCsrf = await page.evaluate(async () => (await fetch('api/tokens', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'forged' }),
  })).status);
  check(shown.writeWithoutCsrf === 403, `a write without the CSRF token got HTTP ${shown.writeWithoutCsrf}`);

  await page.locator('#password-details summary').click();
  await page.locator('#new-password').fill(PASSWORD);
  await page.locator('#set-password').click();
  await page.locator('#signin-note').waitFor({ state: 'visible', timeout: STEP_MS });
  await page.locator('#signin-username').fill('admin');
  await page.locator('#signin-password').fill(`${PASSWORD} (wrong)`);
  await page.locator('#signin').click();
  await page.locator('#error').waitFor({ state: 'visible', timeout: STEP_MS });
  shown.wrongPasswordError = await errorText(page);
  check(/wrong username or password/.test(shown.wrongPasswordError),
    `a wrong password showed: ${shown.wrongPasswordError}`);
  await page.locator('#signin-password').fill(PASSWORD);
  await page.locator('#signin').click();
  await page.locator('#deploy-section').waitFor({ state: 'visible', timeout: STEP_MS });
  shown.signedInWithPassword = true;
  return shown;
}

async function run(opts, page) {
  const shown = {};
  const apiSpec = await api(opts, 'POST', 'api/analyze', { source: opts.source, introspect: true });

  await page.goto(`${opts.url}/`, { timeout: STEP_MS });
  Object.assign(shown, await signIn(page, opts));
  await page.locator('#source').fill(opts.source, { timeout: STEP_MS });
  await page.locator('#analyze').click({ timeout: STEP_MS });
  if (await firstVisible(page, ['#env-form', '#error'], ANALYZE_MS) === 1) {
    throw new Error(`the page showed an error after Analyze: ${await errorText(page)}`);
  }
  check(await page.locator('#spec').isVisible(), '#env-form is visible but #spec is not');
  Object.assign(shown, await readShownSpec(page));
  compareSpec(shown, apiSpec);

  const secrets = [];
  for (const [key, value] of opts.env) {
    const field = page.locator(`#env-fields [name="env:${key}"]`);
    if (await field.count()) {
      if (await field.evaluate((node) => node.tagName === 'SELECT')) await field.selectOption(value);
      else await field.fill(value);
      if (await field.getAttribute('type') === 'password') secrets.push(value);
    } else {
      // A variable the analysis did not find goes where a person would put it: the free-form box.
      const extra = page.locator('#extra-env');
      await extra.fill(`${await extra.inputValue()}${key}=${value}\n`);
    }
  }
  await page.locator('#name').fill(opts.name);
  // A deployment made without touching anything must need a token.
  shown.publicChecked = await page.locator('#public').isChecked({ timeout: STEP_MS });
  check(!shown.publicChecked, 'the Public checkbox is checked by default');
  // The browser's own validation (required fields) stops a submit silently: say so at once
  // instead of waiting for a result that cannot come.
  const invalid = await page.locator('#env-form :invalid').evaluateAll((nodes) => nodes
    .map((node) => `${node.name || node.id}: ${node.validationMessage}`));
  check(invalid.length === 0, `the browser will not submit the env form: ${invalid.join('; ')}`);
  await page.locator('#deploy').click({ timeout: STEP_MS });
  if (await firstVisible(page, ['#result', '#error'], DEPLOY_MS) === 1) {
    const log = await page.locator('#progress-log').textContent().catch(() => '');
    throw new Error(`the page showed an error after Deploy: ${await errorText(page)}\n${log}`);
  }
  const endpoint = (await page.locator('#endpoint').textContent())?.trim() ?? '';
  const accessToken = (await page.locator('#access-token').textContent())?.trim() ?? '';
  check(accessToken.length > 0, '#access-token is empty');
  const deployment = await api(opts, 'GET', `api/deployments/${encodeURIComponent(opts.name)}`);
  check(deployment.status === 'running', `the API says ${opts.name} is ${deployment.status}`);
  check(endpoint === deployment.endpoint, `#endpoint shows ${endpoint}, the API says ${deployment.endpoint}`);
  check(deployment.public === false, `the API says ${opts.name} is public, but Public was not ticked`);
  shown.statusWithoutToken = await statusWithoutToken(endpoint);
  check(shown.statusWithoutToken === 401,
    `the endpoint answered HTTP ${shown.statusWithoutToken} to a request without a token, not 401`);
  shown.resultTitle = (await page.locator('#result-title').textContent())?.trim();
  shown.configs = await readConfigs(page, endpoint, accessToken);

  // Secret values must not stay on the page once the deployment is created.
  const leftovers = await page.evaluate((values) => {
    const inputs = [...document.querySelectorAll('input, textarea')].map((node) => node.value).join('\n');
    const all = `${document.documentElement.outerHTML}\n${inputs}`;
    return values.filter((value) => all.includes(value)).length;
  }, secrets);
  check(leftovers === 0, `${leftovers} secret env value(s) are still on the page after Deploy`);

  const tools = await listTools(endpoint, accessToken);
  const recorded = (deployment.tools ?? []).map((tool) => tool.name);
  check(JSON.stringify([...recorded].sort()) === JSON.stringify([...tools].sort()),
    `the deployment records the tools ${JSON.stringify(recorded)}, the endpoint lists ${JSON.stringify(tools)}`);

  const status = page.locator(`#deployments tr[data-name="${opts.name}"] .status`);
  const deadline = Date.now() + STEP_MS;
  for (;;) {
    shown.listedStatus = (await status.textContent({ timeout: STEP_MS }).catch(() => null))?.trim() ?? null;
    if (shown.listedStatus === 'running') break;
    check(Date.now() < deadline, `#deployments shows ${opts.name} as ${shown.listedStatus}, not running`);
    await page.locator('#refresh').click();
    await page.waitForTimeout(500);
  }

  await page.locator('#source').fill(MISSING_SOURCE);
  await page.locator('#analyze').click();
  check(await firstVisible(page, ['#error', '#env-form'], ANALYZE_MS) === 0,
    `analyzing ${MISSING_SOURCE} showed a spec instead of an error`);
  shown.missingPackageError = await errorText(page);
  check(/not found/i.test(shown.missingPackageError),
    `the error for ${MISSING_SOURCE} does not say "not found": ${shown.missingPackageError}`);

  return { endpoint, tools, shown };
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    finish({ ok: false, error: err.message }, 1);
    return;
  }
  const seconds = Number(opts.timeout ?? TOTAL_S);
  const profile = mkdtempSync(join(tmpdir(), 'catwalk-chromium-'));
  const pageErrors = [];
  let context;
  let page;
  // Whichever ends first (the run or the overall timer) reports; the other does nothing.
  let ending = false;

  const closeBrowser = async () => {
    if (context) await Promise.race([context.close().catch(() => {}), new Promise((r) => setTimeout(r, 10_000))]);
    rmSync(profile, { recursive: true, force: true });
  };
  const fail = async (message, code) => {
    if (ending) return;
    ending = true;
    const result = { ok: false, error: message };
    if (pageErrors.length) result.pageErrors = pageErrors;
    if (page) {
      const path = opts.screenshot ?? join(tmpdir(), `catwalk-dashboard-failure-${process.pid}.png`);
      await screenshotInto(result, page, path);
    }
    await closeBrowser();
    finish(result, code);
  };
  setTimeout(() => fail(`timed out after ${seconds} s`, 1), seconds * 1000).unref();

  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 60_000,
      viewport: { width: 1200, height: 1600 },
    });
    page = context.pages()[0] ?? await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('dialog', (dialog) => dialog.dismiss().catch(() => {}));
    const outcome = await run(opts, page);
    check(pageErrors.length === 0, `uncaught errors in the page: ${pageErrors.join('; ')}`);
    if (ending) return;
    ending = true;
    await closeBrowser();
    finish({ ok: true, ...outcome }, 0);
  } catch (err) {
    await fail(err instanceof Error ? err.message : String(err), 1);
  }
}

main();
