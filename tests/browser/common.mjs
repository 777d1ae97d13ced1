// What every browser test script here shares: Debian's chromium and its flags, the one JSON
// line of stdout the Rust side parses (so nothing else may be printed there), and the
// `--name value` arguments.

for (const level of ['log', 'info', 'debug']) {
  console[level] = (...args) => console.error(...args);
}

export const CHROMIUM = process.env.CATWALK_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

let emitted = false;

/** Writes the one JSON line once, then exits with `code`. */
export function finish(obj, code) {
  if (emitted) return;
  emitted = true;
  process.stdout.write(`${JSON.stringify(obj)}\n`, () => process.exit(code));
}

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

/**
 * `--name value` pairs of the `allowed` names; `required` ones must be there, `repeated` ones
 * come back as arrays. A `url` loses its trailing slashes.
 */
export function parseArgs(argv, { allowed, required, repeated = [], usage }) {
  const out = Object.fromEntries(repeated.map((name) => [name, []]));
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    const value = argv[i + 1];
    const name = flag.startsWith('--') ? flag.slice(2) : '';
    if (!allowed.includes(name)) throw new Error(`unknown argument: ${flag}\n${usage}`);
    if (value === undefined) throw new Error(`missing value for ${flag}\n${usage}`);
    if (repeated.includes(name)) out[name].push(value);
    else out[name] = value;
  }
  for (const name of required) {
    if (!out[name]) throw new Error(`missing --${name}\n${usage}`);
  }
  if (out.url) out.url = out.url.replace(/\/+$/, '');
  return out;
}

// Adds a screenshot of `page` at `path` to a failure's `result`, or why none could be taken.
export async function screenshotInto(result, page, path) {
  await page.screenshot({ path, fullPage: true, timeout: 10_000 })
    .then(() => { result.screenshot = path; })
    .catch((err) => { result.screenshotError = err.message.split('\n')[0]; });
}
