// `npm test`: lint, typecheck, then the Node suites, then the browser suite.
//
//   node scripts/test.ts [--only=lint,typecheck,node,browser] [-- extra node --test args]
//
// Every step runs even if an earlier one failed (so all failures are visible in one run);
// the exit code is non-zero if any step failed. Test files are tests/**/*.test.ts; the
// browser suite (tests/browser/) runs separately, after the Node ones.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const TESTS = join(ROOT, 'tests');
const BROWSER = join(TESTS, 'browser');
const TIMEOUT_MS = 600_000;

function findTests(dir: string, skip: string[] = []): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (skip.includes(p) || e.name === 'node_modules' || e.name.startsWith('.')) continue;
    if (e.isDirectory()) out.push(...findTests(p, skip));
    else if (/\.test\.(ts|mts|js|mjs)$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

interface Step {
  name: string;
  cmd: string;
  args: string[];
}

function runStep(step: Step): boolean {
  console.log(`\n=== ${step.name}: ${[step.cmd === node ? 'node' : step.cmd, ...step.args.map((a) => relative(ROOT, a) || a)].join(' ')}`);
  const t0 = performance.now();
  const r = spawnSync(step.cmd, step.args, { cwd: ROOT, stdio: 'inherit' });
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  const ok = r.status === 0;
  console.log(`=== ${step.name}: ${ok ? 'ok' : `FAILED (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`} in ${secs}s`);
  return ok;
}

const argv = process.argv.slice(2);
const dashdash = argv.indexOf('--');
const extra = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
const only = argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
const want = (name: string) => !only || only.includes(name);

const node = process.execPath; // Node 26 under npm scripts (node_modules/.bin first on PATH)
const nodeTest = ['--test', `--test-timeout=${TIMEOUT_MS}`, '--test-reporter=spec', ...extra];
const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

const steps: Step[] = [];
if (want('lint')) steps.push({ name: 'lint', cmd: node, args: [join(ROOT, 'scripts', 'check-layers.ts')] });
if (want('typecheck')) steps.push({ name: 'typecheck', cmd: node, args: [tsc, '-p', join(ROOT, 'tsconfig.json'), '--noEmit'] });
const nodeFiles = findTests(TESTS, [BROWSER]);
const browserFiles = findTests(BROWSER);
for (const [name, files] of [['node', nodeFiles], ['browser', browserFiles]] as const) {
  if (!want(name)) continue;
  if (files.length === 0) console.log(`\n=== ${name}: no test files, skipped`);
  else steps.push({ name, cmd: node, args: [...nodeTest, ...files] });
}

const failed = steps.filter((s) => !runStep(s)).map((s) => s.name);
console.log(`\n${failed.length ? `FAILED: ${failed.join(', ')}` : 'all steps passed'} (${steps.map((s) => s.name).join(', ')})`);
process.exit(failed.length ? 1 : 0);
