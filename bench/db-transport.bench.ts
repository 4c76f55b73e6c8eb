// db-transport: how Python code in Wasm should reach PostgreSQL (issue 5: "choose by measurement:
// npm pg client vs Python wire protocol over sockets"). Same server, same run, same DB-API-level
// workload (bench/db/workload.py, dbapi/npm_pg kinds):
//
//   single-query latency   µs per `SELECT $1::int` round trip (500 per sample)
//   select throughput      rows/s of a 1000-row, 5-column select (int, text, float8, timestamptz, bool)
//   insert throughput      rows/s of 1000 inserted rows in one transaction (executemany; npm pg
//                          has none, so one query per row there)
//   connect                ms per connection (TCP + SCRAM-SHA-256 + startup), closed again
//
// ours   greenwasm.pg (pure-Python wire protocol over `socket`) in a greenwasm runtime with
//        sockets (allowNet 127.0.0.1).
// peers  (a) node-postgres called from the same kind of runtime through the FFI (allowJs): one JS
//            call + greenwasm.run_sync per query, rows converted with to_py(); the alternative
//            design.
//        (b) node-postgres in plain Node (no Python): the floor for option (a).
//        (c) greenwasm.pg and (d) psycopg2 under native CPython: the same driver outside Wasm.

import type { Bench, Row } from './lib.ts';
import {
  interleave,
  loadNpmPg,
  nativeVersions,
  nativeWorkload,
  npmPgConfig,
  greenwasmWorkloads,
  startDbBench,
  type Contender,
  type NpmPg,
  type Samples,
} from './db/common.ts';
import type { PostgresServer } from '../tests/support/postgres.ts';

const LATENCY_N = 500;
const ROWS = 1000;
const CONNECT_N = 10;

/** The dbapi workload in plain Node with node-postgres (mirrors workload.py's dbapi()). */
async function npmPgNode(npm: NpmPg, pg: PostgresServer, runs: number, warmup: number): Promise<Samples> {
  const config = npmPgConfig(pg);
  const client = new npm.Client(config);
  await client.connect();
  const q = async (text: string, values: unknown[] = []) => (await client.query({ text, values, rowMode: 'array' })).rows;
  const samples = async (fn: () => Promise<number>) => {
    const out: number[] = [];
    for (let i = 0; i < warmup + runs; i++) {
      const v = await fn();
      if (i >= warmup) out.push(v);
    }
    return out;
  };
  const result: Samples = {};
  result['latency_us'] = await samples(async () => {
    const t0 = performance.now();
    for (let i = 0; i < LATENCY_N; i++) await q('SELECT $1::int', [i]);
    return ((performance.now() - t0) / LATENCY_N) * 1000;
  });
  const select = "SELECT g, 'name-' || g, g * 1.5::float8, now() + g * interval '1 second', g % 2 = 0 FROM generate_series(1, $1) g";
  result['select_rows_per_s'] = await samples(async () => {
    const t0 = performance.now();
    const rows = await q(select, [ROWS]);
    if (rows.length !== ROWS) throw new Error(`got ${rows.length} rows`);
    return ROWS / ((performance.now() - t0) / 1000);
  });
  await q('CREATE TEMP TABLE bench_ins (id int, name text, v float8, at timestamptz, ok bool)');
  const now = new Date();
  result['executemany_rows_per_s'] = await samples(async () => {
    const t0 = performance.now();
    await q('BEGIN');
    for (let i = 0; i < ROWS; i++) await q('INSERT INTO bench_ins VALUES ($1, $2, $3, $4, $5)', [i, `name-${i}`, i * 1.5, now, i % 2 === 0]);
    await q('COMMIT');
    const dt = (performance.now() - t0) / 1000;
    await q('TRUNCATE bench_ins');
    return ROWS / dt;
  });
  result['connect_ms'] = await samples(async () => {
    const t0 = performance.now();
    for (let i = 0; i < CONNECT_N; i++) {
      const c = new npm.Client(config);
      await c.connect();
      await c.end();
    }
    return (performance.now() - t0) / CONNECT_N;
  });
  await client.end();
  return result;
}

const METRICS: { key: string; metric: string; unit: string; better: 'lower' | 'higher' }[] = [
  { key: 'latency_us', metric: 'single-query latency (SELECT $1::int)', unit: 'µs', better: 'lower' },
  { key: 'select_rows_per_s', metric: 'select 1000 rows × 5 columns', unit: 'rows/s', better: 'higher' },
  { key: 'executemany_rows_per_s', metric: 'insert 1000 rows in one transaction', unit: 'rows/s', better: 'higher' },
  { key: 'connect_ms', metric: 'connect (TCP + SCRAM-SHA-256 + startup)', unit: 'ms', better: 'lower' },
];

const bench: Bench = {
  name: 'db-transport',
  description: 'PostgreSQL from Python in greenwasm: greenwasm.pg over sockets vs node-postgres through the FFI (and native references)',
  async run(ctx) {
    const npm = loadNpmPg();
    const env = await startDbBench();
    const cleanups: (() => Promise<void>)[] = [];
    try {
      const v = nativeVersions();
      const one = (warmup: number) => ({ runs: 1, warmup });
      const wasm = await greenwasmWorkloads(env.pg, { allowJs: true });
      cleanups.push(() => wasm.close());
      const contenders: Contender[] = [
        { name: 'ours', sample: (w) => wasm.run({ kind: 'dbapi', driver: 'greenwasm.pg', ...one(w) }) },
      ];
      const peers: { peer: string; name: string; note?: string }[] = [];
      if (npm) {
        // What `from js import gwbench_pg` sees inside the runtime (allowJs).
        (globalThis as Record<string, unknown>)['gwbench_pg'] = {
          connect: async () => {
            const c = new npm.Client(npmPgConfig(env.pg));
            await c.connect();
            return c;
          },
          query: async (c: { query: (q: object) => Promise<{ rows: unknown[][] }> }, text: string, values: unknown[]) =>
            (await c.query({ text, values, rowMode: 'array' })).rows,
        };
        cleanups.push(async () => {
          delete (globalThis as Record<string, unknown>)['gwbench_pg'];
        });
        contenders.push(
          { name: 'ffi', sample: (w) => wasm.run({ kind: 'npm_pg', driver: 'pg', ...one(w) }) },
          { name: 'node', sample: (w) => npmPgNode(npm, env.pg, 1, w) },
        );
        peers.push(
          {
            peer: `node-postgres ${npm.version} from greenwasm (FFI + greenwasm.run_sync)`,
            name: 'ffi',
            note: 'node-postgres via the FFI: timestamptz cells stay JS Date proxies (no datetime conversion), so that peer does less work than ours',
          },
          { peer: `node-postgres ${npm.version} in plain Node (no Python)`, name: 'node' },
        );
      } else {
        ctx.log('npm `pg` not installed (devDependency; `npm install`): node-postgres peers skipped');
      }
      contenders.push({ name: 'native', sample: (w) => nativeWorkload(env, { kind: 'dbapi', driver: 'greenwasm.pg', ...one(w) }) });
      peers.push({ peer: `greenwasm.pg on native CPython ${v['python']}`, name: 'native' });
      if (v['psycopg2']) {
        contenders.push({ name: 'psycopg2', sample: (w) => nativeWorkload(env, { kind: 'dbapi', driver: 'psycopg2', ...one(w) }) });
        peers.push({ peer: `psycopg2 ${v['psycopg2']} on native CPython ${v['python']}`, name: 'psycopg2' });
      }
      ctx.log(`interleaved samples of: ${contenders.map((c) => c.name).join(', ')}`);
      const results = await interleave(contenders, ctx.runs, ctx.warmup, ctx.log);
      const ours = results.get('ours')!;
      const rows: Row[] = [];
      for (const m of METRICS) {
        for (const p of peers) {
          rows.push({
            metric: `${m.metric} [greenwasm.pg in greenwasm]`,
            unit: m.unit,
            better: m.better,
            ours: ours[m.key]!,
            peer: p.peer,
            peerValue: results.get(p.name)![m.key]!,
            ...(p.note ? { note: p.note } : {}),
          });
        }
      }
      return rows;
    } finally {
      for (const c of cleanups.reverse()) await c();
      await env.close();
    }
  },
};
export default bench;
