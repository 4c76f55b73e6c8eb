// npm run bench -- [NAME...] [--runs=N] [--warmup=N]
//
// With no NAME, lists the benches (bench/<name>.bench.ts). Each bench prints a table and
// writes bench/results/<name>.json; ratio = ours / peerValue (so for "lower is better"
// metrics, a ratio of 3 means we are 3× slower than the peer).

import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, type, arch } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { NATIVE_PYTHON, ROOT, type Bench, type BenchContext, type Row } from './lib.ts';

const BENCH_DIR = import.meta.dirname;
const RESULTS = join(BENCH_DIR, 'results');

function available(): string[] {
  return readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith('.bench.ts'))
    .map((f) => f.slice(0, -'.bench.ts'.length))
    .sort();
}

async function load(name: string): Promise<Bench> {
  const mod = (await import(pathToFileURL(join(BENCH_DIR, `${name}.bench.ts`)).href)) as { default: Bench };
  return mod.default;
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : a >= 1 ? x.toFixed(2) : x.toPrecision(3);
}

function table(rows: Row[]): string {
  const head = ['metric', 'ours', 'peer', 'peer value', 'ratio', 'better'];
  const body = rows.map((r) => [
    r.metric,
    `${fmt(r.ours)} ${r.unit}`,
    r.peer,
    `${fmt(r.peerValue)} ${r.unit}`,
    `${fmt(r.ratio!)}×`,
    r.better,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function machine() {
  const c = cpus();
  return {
    cpus: c.length,
    model: c[0]?.model ?? 'unknown',
    node: process.version,
    os: `${type()} ${release()} ${arch()}`,
  };
}

const args = process.argv.slice(2);
const opt = (k: string, d: number) => Number(args.find((a) => a.startsWith(`--${k}=`))?.split('=')[1] ?? d);
const names = args.filter((a) => !a.startsWith('--'));
const all = available();

if (names.length === 0) {
  console.log('usage: npm run bench -- NAME [NAME...] [--runs=N] [--warmup=N]\n\nbenches:');
  for (const n of all) console.log(`  ${n.padEnd(12)} ${(await load(n)).description}`);
  process.exit(0);
}
const unknown = names.filter((n) => !all.includes(n));
if (unknown.length) {
  console.error(`unknown bench: ${unknown.join(', ')} (have: ${all.join(', ')})`);
  process.exit(2);
}

const ctx: BenchContext = {
  runs: opt('runs', 5),
  warmup: opt('warmup', 1),
  log: (m) => console.log(`  ${m}`),
};
const pyodideVersion = (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'pyodide', 'package.json'), 'utf8')) as {
  version: string;
}).version;

mkdirSync(RESULTS, { recursive: true });
for (const name of names) {
  const bench = await load(name);
  console.log(`\n# ${name}: ${bench.description} (runs=${ctx.runs}, warmup=${ctx.warmup})`);
  const rows = (await bench.run(ctx)).map((r) => ({ ...r, ratio: r.ours / r.peerValue }));
  console.log('\n' + table(rows));
  const notes = new Set(rows.flatMap((r) => (r.note ? [`${r.metric}: ${r.note}`] : [])));
  for (const n of notes) console.log(`  note (${n})`);
  const result = {
    bench: name,
    date: new Date().toISOString(),
    machine: machine(),
    versions: { pyodide: pyodideVersion, nativePython: NATIVE_PYTHON },
    command: `npm run bench -- ${name}${ctx.runs !== 5 ? ` --runs=${ctx.runs}` : ''}`,
    runs: ctx.runs,
    warmup: ctx.warmup,
    rows,
  };
  const out = join(RESULTS, `${name}.json`);
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(`\nwrote ${out.slice(ROOT.length + 1)}`);
}
