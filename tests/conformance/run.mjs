// Runs official MCP conformance scenarios (@modelcontextprotocol/conformance) against one
// Streamable HTTP endpoint and prints one JSON summary line per scenario on stdout.
//
//   node run.mjs URL SCENARIO...      (run.sh picks the Node 22 from node_modules)
//
// The verdict is the suite's own: each scenario runs with `--expected-failures
// expected-failures.yml`, so the suite decides what is an unexpected failure (a FAILURE or
// WARNING check not in the baseline) and what is a stale baseline entry (a listed check that now
// passes). This script only reports. Exit status: 0 when every scenario met the baseline, 1 when
// one did not, 2 on bad usage.
//
// Results go to $CONFORMANCE_RESULTS_DIR (kept) or to a fresh temporary folder, which is removed
// when everything passed and kept (its path printed on stderr) when something did not.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const suite = join(here, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
// CONFORMANCE_EXPECTED_FAILURES points at another baseline (e.g. for a server run on its own).
const baseline = process.env.CONFORMANCE_EXPECTED_FAILURES || join(here, 'expected-failures.yml');
// CONFORMANCE_SPEC_VERSION (e.g. 2025-06-18) runs the scenarios as that revision defines them.
const specVersion = process.env.CONFORMANCE_SPEC_VERSION;
// The suite's own per-scenario timeout is 30 s; this only guards against a hung process.
const HARD_TIMEOUT_MS = 180_000;

const [url, ...scenarios] = process.argv.slice(2);
if (!url || scenarios.length === 0 || !/^https?:\/\//.test(url)) {
  console.error('usage: run.sh URL SCENARIO...   (e.g. run.sh http://127.0.0.1:8080/s/x/mcp ping)');
  process.exit(2);
}
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.error(`run.mjs: the conformance suite needs Node >= 22, this is ${process.version}; use run.sh`);
  process.exit(2);
}

const chosen = process.env.CONFORMANCE_RESULTS_DIR;
const resultsRoot = chosen || mkdtempSync(join(tmpdir(), 'catwalk-conformance-'));
mkdirSync(resultsRoot, { recursive: true });

let allOk = true;
for (const scenario of scenarios) {
  const summary = runScenario(scenario);
  allOk &&= summary.ok;
  console.log(JSON.stringify(summary));
}
if (allOk && !chosen) {
  rmSync(resultsRoot, { recursive: true, force: true });
} else {
  console.error(`run.mjs: results are in ${resultsRoot}`);
}
process.exit(allOk ? 0 : 1);

function runScenario(scenario) {
  const outDir = join(resultsRoot, scenario);
  const run = spawnSync(
    process.execPath,
    [suite, 'server', '--url', url, '--scenario', scenario, '--expected-failures', baseline, '-o', outDir,
      ...(specVersion ? ['--spec-version', specVersion] : [])],
    { encoding: 'utf8', timeout: HARD_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } },
  );
  const output = stripAnsi(`${run.stdout ?? ''}${run.stderr ?? ''}`);
  const summary = {
    scenario,
    passed: 0,
    failed: 0,
    warnings: 0,
    skipped: 0,
    info: 0,
    failures: [],
    unexpected: section(output, 'Unexpected failures (not in baseline):'),
    expected: section(output, 'Expected failures (in baseline):'),
    stale: section(output, 'Stale baseline entries'),
    ok: run.status === 0,
  };
  const checksFile = findChecks(outDir);
  if (checksFile) {
    for (const check of JSON.parse(readFileSync(checksFile, 'utf8'))) {
      if (check.status === 'SUCCESS') summary.passed += 1;
      else if (check.status === 'SKIPPED') summary.skipped += 1;
      // INFO marks a check the server made inapplicable (e.g. JSON instead of an SSE stream).
      else if (check.status === 'INFO') summary.info += 1;
      else if (check.status === 'FAILURE' || check.status === 'WARNING') {
        summary[check.status === 'FAILURE' ? 'failed' : 'warnings'] += 1;
        summary.failures.push({
          id: check.id,
          status: check.status,
          message: check.errorMessage ?? check.description ?? '',
        });
      }
    }
  } else {
    // A scenario that produced no checks proved nothing, whatever the exit code says.
    summary.ok = false;
    summary.error = run.error
      ? `the suite did not finish: ${run.error.message}`
      : `the suite wrote no checks.json (exit ${run.status}, signal ${run.signal})`;
  }
  if (!summary.ok) {
    // The suite's own report explains each failing check; show it for CI logs.
    process.stderr.write(`----- conformance output for ${scenario} -----\n${output}\n`);
  }
  return summary;
}

function findChecks(dir) {
  if (!existsSync(dir)) return null;
  const found = readdirSync(dir, { recursive: true }).filter((p) => String(p).endsWith('checks.json'));
  return found.length > 0 ? join(dir, String(found.sort().at(-1))) : null;
}

// Entries the suite lists under `header` ("  ✗ scenario:check" lines), as printed.
function section(text, header) {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith(header));
  if (start < 0) return [];
  const entries = [];
  for (const line of lines.slice(start + 1)) {
    const m = /^ {2}\S (.+)$/.exec(line);
    if (!m) break;
    entries.push(m[1].trim());
  }
  return entries;
}

function stripAnsi(text) {
  return text.replace(/\x1b\[[0-9;]*m/g, '');
}
