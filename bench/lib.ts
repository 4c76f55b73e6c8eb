// Shared types and helpers for bench/*.bench.ts.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const ROOT = resolve(import.meta.dirname, '..');
/** Node 26 (the one running the bench). */
export const NODE = process.execPath;
/** Native baseline interpreter: Debian's CPython, not whatever `python3` is first on PATH. */
export const NATIVE_PYTHON = process.env.GREENWASM_NATIVE_PYTHON ?? '/usr/bin/python3';
export const PYODIDE_DIR = join(ROOT, 'node_modules', 'pyodide');
export const PYODIDE_URL = pathToFileURL(join(PYODIDE_DIR, 'pyodide.mjs')).href;

export interface Row {
  /** What is measured, e.g. "hello-world startup". */
  metric: string;
  /** "ms", "µs/call", "req/s", ... */
  unit: string;
  better: 'lower' | 'higher';
  /** Our value. */
  ours: number;
  /** Who we compare against, e.g. "CPython 3.11.2 native". */
  peer: string;
  peerValue: number;
  /** ours / peerValue (filled in by bench/run.ts). */
  ratio?: number;
  /** Anything a reader must know to interpret the row (stand-ins, caveats). */
  note?: string;
}

export interface BenchContext {
  /** Samples per measurement (after warmup). Default 5; `--runs=N`. */
  runs: number;
  warmup: number;
  log(msg: string): void;
}

export interface Bench {
  name: string;
  description: string;
  run(ctx: BenchContext): Promise<Row[]>;
}

export interface Measurement {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function summarize(samples: number[]): Measurement {
  return { median: median(samples), min: Math.min(...samples), max: Math.max(...samples), samples };
}

/**
 * Call `fn` warmup + runs times. If `fn` returns a number, that is the sample (the function
 * measured itself, e.g. µs per call); otherwise the sample is its wall time in ms.
 */
export async function measure(
  fn: () => number | void | Promise<number | void>,
  opts: { runs: number; warmup?: number },
): Promise<Measurement> {
  const samples: number[] = [];
  for (let i = 0; i < (opts.warmup ?? 1) + opts.runs; i++) {
    const t0 = performance.now();
    const r = await fn();
    const ms = performance.now() - t0;
    if (i >= (opts.warmup ?? 1)) samples.push(typeof r === 'number' ? r : ms);
  }
  return summarize(samples);
}

/** Run a command to completion; throw with its stderr if it fails. Returns stdout. */
export function sh(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd ?? ROOT,
    env: opts.env ?? process.env,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}:\n${r.stderr || r.stdout}`);
  }
  return r.stdout;
}

/** Wall-clock ms of one run of a command (process start to exit). */
export function timeCommand(cmd: string, args: readonly string[], opts: { cwd?: string } = {}): number {
  const t0 = performance.now();
  sh(cmd, args, opts);
  return performance.now() - t0;
}

/** The last line of a program's output, parsed as JSON (how bench scripts report). */
export function lastLineJSON<T>(text: string): T {
  return JSON.parse(text.trim().split('\n').at(-1)!) as T;
}

/** Run Python code on the native interpreter and parse the last stdout line as JSON. */
export function nativePythonJSON<T>(code: string): T {
  if (!existsSync(NATIVE_PYTHON)) throw new Error(`${NATIVE_PYTHON} missing: run \`npm run setup\``);
  return lastLineJSON<T>(sh(NATIVE_PYTHON, ['-c', code]));
}

export function nativePythonVersion(): string {
  return sh(NATIVE_PYTHON, ['-c', 'import platform; print(platform.python_version())']).trim();
}
