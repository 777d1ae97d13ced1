// The dashboard's deployment list in pages, in Debian's chromium: the first page and the total,
// "Show more" loading the next page only, the 5-second refresh loading the pages shown so far
// again (in one request) and no more, and a removal seen by that refresh. The page size comes
// from `?page_size=N` in the dashboard's address, so a handful of deployments make several
// pages. Prints exactly one JSON line on stdout; see README.md.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

import * as common from './common.mjs';
import { CHROMIUM, CHROMIUM_ARGS, check, finish, screenshotInto } from './common.mjs';

const STEP_MS = 15_000;
// The page refreshes every 5 s; a refresh is awaited for up to this long.
const REFRESH_MS = 20_000;
const TOTAL_S = 180;
const USAGE = 'usage: node paging.mjs --url CATWALK_URL --token ADMIN_TOKEN --page-size N '
  + '--remove NAME [--screenshot PATH]';

function parseArgs(argv) {
  return common.parseArgs(argv, {
    allowed: ['url', 'token', 'page-size', 'remove', 'screenshot'],
    required: ['url', 'token', 'page-size', 'remove'],
    usage: USAGE,
  });
}

/** What the list shows: the names in its rows, the count line, and whether "Show more" shows. */
async function shownList(page) {
  return page.evaluate(() => ({
    names: [...document.querySelectorAll('#deployments tr')].map((row) => row.getAttribute('data-name')),
    count: document.getElementById('deployments-count').textContent.trim(),
    more: !document.getElementById('deployments-more').hidden,
  }));
}

/** Waits until the list shows `names`; returns what it shows. */
async function waitForList(page, names, timeout) {
  const wanted = JSON.stringify(names);
  await page.waitForFunction((expected) => JSON.stringify(
    [...document.querySelectorAll('#deployments tr')].map((row) => row.getAttribute('data-name')),
  ) === expected, wanted, { timeout }).catch(async () => {
    throw new Error(`the list shows ${JSON.stringify(await shownList(page))}, not ${wanted}`);
  });
  return shownList(page);
}

async function run(opts, page) {
  const size = Number(opts['page-size']);
  const api = async (method, path) => {
    const response = await fetch(`${opts.url}/${path}`, {
      method, headers: { Authorization: `Bearer ${opts.token}`, Accept: 'application/json' },
    });
    const text = await response.text();
    check(response.ok, `${method} /${path}: HTTP ${response.status}: ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : null;
  };
  const all = (await api('GET', 'api/deployments?limit=1000')).map((d) => d.name);
  check(all.length > 2 * size && all.length <= 3 * size,
    `the test wants more than two pages and at most three: ${all.length} deployments, pages of ${size}`);

  // Every request the page makes for the list, as "limit=…&after=…".
  const requests = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname === '/api/deployments' && request.method() === 'GET') requests.push(url.search.slice(1));
  });

  const shown = {};
  await page.goto(`${opts.url}/?page_size=${size}`, { timeout: STEP_MS });
  await page.locator('#signin-token').fill(opts.token, { timeout: STEP_MS });
  await page.locator('#signin-with-token').click();
  await page.locator('#deployments-section').waitFor({ state: 'visible', timeout: STEP_MS });

  shown.first = await waitForList(page, all.slice(0, size), STEP_MS);
  check(shown.first.more, '"Show more" is hidden while more deployments follow');
  check(requests[0] === `limit=${size}`, `the first page was asked for as ${requests[0]}`);

  requests.length = 0;
  await page.locator('#deployments-more').click();
  shown.second = await waitForList(page, all.slice(0, 2 * size), STEP_MS);
  shown.moreRequests = [...requests];

  // The next refresh loads both pages again, in one request, and nothing beyond them.
  requests.length = 0;
  const refreshed = Date.now();
  while (requests.length === 0) {
    check(Date.now() - refreshed < REFRESH_MS, 'the list did not refresh itself');
    await page.waitForTimeout(100);
  }
  await page.waitForTimeout(500);
  shown.refreshRequests = [...requests];
  shown.afterRefresh = await shownList(page);

  requests.length = 0;
  await page.locator('#deployments-more').click();
  shown.third = await waitForList(page, all, STEP_MS);

  // A deployment removed elsewhere leaves the list at the next refresh.
  await api('DELETE', `api/deployments/${encodeURIComponent(opts.remove)}`);
  shown.afterRemoval = await waitForList(page, all.filter((name) => name !== opts.remove), REFRESH_MS);
  return { all, shown };
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    finish({ ok: false, error: err.message }, 2);
    return;
  }
  const profile = mkdtempSync(join(tmpdir(), 'catwalk-paging-'));
  let context;
  let page;
  const pageErrors = [];
  let ending = false;
  const closeBrowser = async () => {
    await context?.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  };
  const fail = async (message) => {
    if (ending) return;
    ending = true;
    const result = { ok: false, error: message };
    if (pageErrors.length) result.pageErrors = pageErrors;
    if (page) {
      const path = opts.screenshot ?? join(tmpdir(), `catwalk-paging-failure-${process.pid}.png`);
      await screenshotInto(result, page, path);
    }
    await closeBrowser();
    finish(result, 1);
  };
  setTimeout(() => fail(`timed out after ${TOTAL_S} s`), TOTAL_S * 1000).unref();
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000,
      viewport: { width: 1200, height: 1600 },
    });
    page = context.pages()[0] ?? await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    const outcome = await run(opts, page);
    check(pageErrors.length === 0, `uncaught errors in the page: ${pageErrors.join('; ')}`);
    if (ending) return;
    ending = true;
    await closeBrowser();
    finish({ ok: true, ...outcome }, 0);
  } catch (err) {
    await fail(err instanceof Error ? err.message : String(err));
  }
}

main();
