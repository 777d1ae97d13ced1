// A real-browser test of single sign-on: Debian's chromium, driven by playwright-core, opens
// Catwalk's dashboard, clicks "Sign in with <provider>", goes through the provider (the Rust test's
// fake GitHub or OpenID Connect provider) and back, and reports what the dashboard then shows.
// Prints exactly one JSON line on stdout; see README.md.

import { chromium } from 'playwright-core';

import * as common from './common.mjs';
import { CHROMIUM, CHROMIUM_ARGS, finish } from './common.mjs';

const STEP_MS = 15_000;
const USAGE = 'usage: node sso.mjs --url CATWALK_URL --provider github|oidc [--screenshot PATH]';

function parseArgs(argv) {
  return common.parseArgs(argv, {
    allowed: ['url', 'provider', 'screenshot'],
    required: ['url', 'provider'],
    usage: USAGE,
  });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const page = await browser.newPage();
  const shown = { hops: [] };
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) shown.hops.push(frame.url());
  });
  try {
    await page.goto(`${opts.url}/`);
    const button = page.locator(`#sso-${opts.provider}`);
    await button.waitFor({ state: 'visible', timeout: STEP_MS });
    shown.buttonText = (await button.textContent()).trim();
    await button.click();
    // Through the provider and back to the dashboard, signed in.
    await page.locator('#account-section').waitFor({ state: 'visible', timeout: STEP_MS });
    shown.landedOn = page.url();
    shown.signedInAs = (await page.locator('#account-user').textContent()).trim();
    shown.role = (await page.locator('#account-role').textContent()).trim();
    await page.waitForFunction(() => document.getElementById('sso-linked').textContent !== '',
      null, { timeout: STEP_MS });
    shown.linked = (await page.locator('#sso-linked').textContent()).trim();
    shown.linkButton = (await page.locator(`#sso-link-${opts.provider}`).textContent()).trim();
    shown.cookieVisibleToScripts = (await page.evaluate(() => document.cookie))
      .includes('catwalk_session');
    finish({ ok: true, shown }, 0);
  } catch (error) {
    if (opts.screenshot) await page.screenshot({ path: opts.screenshot }).catch(() => {});
    finish({ ok: false, error: String(error && error.stack || error), shown }, 1);
  } finally {
    await browser.close().catch(() => {});
  }
}

main().catch((error) => finish({ ok: false, error: String(error && error.stack || error) }, 1));
