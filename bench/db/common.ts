// Shared by bench/db.bench.ts and bench/db-transport.bench.ts: the throwaway server, the native
// workload runner (bench/db/workload.py under /usr/bin/python3) and a raw Pyodide with Node sockets.

import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres, type PostgresServer } from '../../tests/support/postgres.ts';
import { NATIVE_PYTHON, PYODIDE_URL, ROOT, median, sh } from '../lib.ts';

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
export function nativeWorkload(env: DbBenchEnv, spec: WorkloadSpec): Samples {
  const out = sh(NATIVE_PYTHON, [join(WORKLOAD_DIR, 'workload.py'), JSON.stringify(spec)], {
    env: { PATH: process.env['PATH'], HOME: process.env['HOME'], LANG: 'C.UTF-8', PYTHONPATH: env.pkgDir, PYTHONDONTWRITEBYTECODE: '1', ...env.pg.env },
  });
  const lines = out.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Samples;
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

interface RawPyodide {
  runPythonAsync(code: string): Promise<unknown>;
  registerJsModule(name: string, module: object): void;
  mountNodeFS(guest: string, host: string): void;
}

/**
 * Plain Pyodide 314 with its experimental Node socket layer (`useNodeSockFS`), the layer
 * greenwasm's `allowNet` builds on: a stand-in for greenwasm until sockets are merged there.
 * Python entered through runPythonAsync, so blocking socket calls suspend through JSPI.
 */
export async function rawPyodideWithSockets(pg: PostgresServer, sitePackages?: string): Promise<RawPyodide> {
  const { loadPyodide } = (await import(PYODIDE_URL)) as {
    loadPyodide(opts: { env: Record<string, string> }): Promise<RawPyodide & { useNodeSockFS(): Promise<void> }>;
  };
  const py = await loadPyodide({ env: { HOME: '/home/pyodide', ...pg.env } });
  await py.useNodeSockFS();
  py.mountNodeFS('/opt/gwbench/py', PY_SOURCES);
  py.mountNodeFS('/opt/gwbench/db', WORKLOAD_DIR);
  const paths = ['/opt/gwbench/py', '/opt/gwbench/db'];
  if (sitePackages) {
    py.mountNodeFS('/opt/gwbench/site', sitePackages);
    paths.push('/opt/gwbench/site');
  }
  await py.runPythonAsync(`import sys; sys.path[:0] = ${JSON.stringify(paths)}`);
  return py;
}

/** Run a workload spec inside raw Pyodide; the result comes back as JSON text. */
export async function pyodideWorkload(py: RawPyodide, spec: WorkloadSpec): Promise<Samples> {
  const text = await py.runPythonAsync(`
import json, workload
json.dumps(await workload.run_async(json.loads(${JSON.stringify(JSON.stringify(spec))})))
`);
  return JSON.parse(String(text)) as Samples;
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
