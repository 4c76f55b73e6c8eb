// Shared by bench/db.bench.ts and bench/db-transport.bench.ts: the throwaway server and the runners
// of bench/db/workload.py: native /usr/bin/python3 and a greenwasm runtime with sockets.

import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres, type PostgresServer } from '../../tests/support/postgres.ts';
import { createRuntime, type Runtime } from '../../src/python/index.ts';
import { lastLineJSON, NATIVE_PYTHON, ROOT, median, sh } from '../lib.ts';

export const WORKLOAD_DIR = join(ROOT, 'bench', 'db');
export const PY_SOURCES = join(ROOT, 'src', 'python', 'py');

export type Samples = Record<string, number[]>;

export interface WorkloadSpec {
  kind: 'dbapi' | 'orm' | 'orm_async' | 'npm_pg';
  driver: string;
  runs: number;
  warmup: number;
}

export interface DbBenchEnv {
  pg: PostgresServer;
  /** A directory holding only a `greenwasm` symlink (src/python/py also has greenwasm's wasm-only greenlet). */
  pkgDir: string;
  close(): Promise<void>;
}

export async function startDbBench(): Promise<DbBenchEnv> {
  const pg = await startPostgres();
  const pkgDir = mkdtempSync(join(tmpdir(), 'greenwasm-pgbench-'));
  symlinkSync(join(PY_SOURCES, 'greenwasm'), join(pkgDir, 'greenwasm'));
  return {
    pg,
    pkgDir,
    close: async () => {
      await pg.close();
      rmSync(pkgDir, { recursive: true, force: true });
    },
  };
}

/**
 * bench/db/workload.py under native CPython with Debian's SQLAlchemy (C extensions) and drivers;
 * greenwasm.pg from this checkout.
 */
export function nativeWorkload(env: DbBenchEnv, spec: WorkloadSpec, opts: { pureSqlalchemy?: boolean } = {}): Samples {
  // pureSqlalchemy: the same pure-Python SQLAlchemy copy greenwasm runs (.cache/site-packages has
  // no C extensions), to tell the cost of Wasm from the cost of SQLAlchemy's C extensions.
  const path = opts.pureSqlalchemy ? `${env.pkgDir}:${join(ROOT, '.cache', 'site-packages')}` : env.pkgDir;
  const out = sh(NATIVE_PYTHON, [join(WORKLOAD_DIR, 'workload.py'), JSON.stringify(spec)], {
    env: { PATH: process.env['PATH'], HOME: process.env['HOME'], LANG: 'C.UTF-8', PYTHONPATH: path, PYTHONDONTWRITEBYTECODE: '1', ...env.pg.env },
  });
  return lastLineJSON<Samples>(out);
}

export function medians(s: Samples): Record<string, number> {
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, median(v)]));
}

export function nativeVersions(): Record<string, string> {
  const code = `
import json, platform
out = {"python": platform.python_version()}
for m in ("sqlalchemy", "psycopg2", "asyncpg"):
    try:
        out[m] = __import__(m).__version__.split()[0]
    except ImportError:
        out[m] = ""
print(json.dumps(out))`;
  return JSON.parse(sh(NATIVE_PYTHON, ['-c', code]).trim()) as Record<string, string>;
}

/** node-postgres, when installed (devDependency `pg`; NODE_PATH also works). */
export interface NpmPg {
  Client: new (config: Record<string, unknown>) => NpmPgClient;
  version: string;
}
export interface NpmPgClient {
  connect(): Promise<void>;
  query(q: { text: string; values?: unknown[]; rowMode?: 'array' }): Promise<{ rows: unknown[][] }>;
  end(): Promise<void>;
}

export function loadNpmPg(): NpmPg | null {
  const require = createRequire(import.meta.url);
  try {
    const mod = require('pg') as { Client: NpmPg['Client'] };
    const version = (require('pg/package.json') as { version: string }).version;
    return { Client: mod.Client, version };
  } catch {
    return null;
  }
}

export function npmPgConfig(pg: PostgresServer): Record<string, unknown> {
  return { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: pg.database, ssl: false };
}

/** A greenwasm runtime with sockets to 127.0.0.1 that runs workload.py specs. */
export interface WorkloadRuntime {
  runtime: Runtime;
  run(spec: WorkloadSpec): Promise<Samples>;
  close(): Promise<void>;
}

export async function greenwasmWorkloads(pg: PostgresServer, opts: { allowJs?: boolean } = {}): Promise<WorkloadRuntime> {
  let text = '';
  const sink = (b: Uint8Array) => {
    text += Buffer.from(b).toString('utf8');
  };
  const runtime = await createRuntime({
    paths: [join(ROOT, '.cache', 'site-packages'), WORKLOAD_DIR],
    env: pg.env,
    allowNet: ['127.0.0.1:*'],
    allowJs: opts.allowJs ?? false,
    stdout: sink,
    stderr: sink,
  });
  return {
    runtime,
    async run(spec) {
      text = '';
      const code = await runtime.runCode(
        `import json, workload\nprint("RESULT " + json.dumps(workload.run(json.loads(${JSON.stringify(JSON.stringify(spec))}))))`,
      );
      const line = text.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || !line) throw new Error(`workload ${JSON.stringify(spec)} exited ${code}:\n${text}`);
      return JSON.parse(line.slice('RESULT '.length)) as Samples;
    },
    close: () => runtime.close(),
  };
}

/** One measured party; `sample(warmup)` runs the workload once (runs=1) after `warmup` discarded runs. */
export interface Contender {
  name: string;
  sample(warmup: number): Promise<Samples> | Samples;
}

/**
 * Samples of every contender, interleaved round by round (a, b, c, a, b, c, ...) so that load on
 * a shared machine hits all of them alike; returns the medians per contender name.
 */
export async function interleave(contenders: Contender[], runs: number, warmup: number, log: (m: string) => void): Promise<Map<string, Record<string, number>>> {
  const all = new Map<string, Samples>(contenders.map((c) => [c.name, {}]));
  for (let round = 0; round < runs; round++) {
    for (const c of contenders) {
      const s = await c.sample(round === 0 ? warmup : 0);
      const acc = all.get(c.name)!;
      for (const [k, v] of Object.entries(s)) (acc[k] ??= []).push(...v);
    }
    log(`round ${round + 1}/${runs} done`);
  }
  return new Map([...all].map(([name, s]) => [name, medians(s)]));
}
