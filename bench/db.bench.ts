// db: SQLAlchemy ORM on PostgreSQL, greenwasm.pg against native CPython + the same SQLAlchemy 1.4
// with psycopg2 (sync) and asyncpg (asyncio), same throwaway server, same run
// (bench/db/workload.py, orm/orm_async kinds; 1000 rows per sample):
//
//   ORM insert throughput   rows/s: Session.add_all(1000 new objects) + commit (server-generated keys)
//   ORM select throughput   rows/s: select(Item).limit(1000) → 1000 ORM objects, fresh session
//   single-query latency    µs per select(Item).where(Item.id == k).scalar_one() (500 per sample)
//
// Peers run Debian's python3-sqlalchemy (with its C extensions) + python3-psycopg2 / python3-asyncpg
// on /usr/bin/python3. Rows of "ours" today:
//   [Pyodide+NodeSockFS]  greenwasm.pg (sync dialect) in Pyodide 314 with Pyodide's Node sockets and
//                         the pure-Python SQLAlchemy of .cache/site-packages: the Wasm stand-in.
//   [native CPython]      greenwasm.pg's dialects on the peers' own interpreter and SQLAlchemy: the
//                         driver's cost without Wasm.
// Target (issue 5): greenwasm rows ≥ 0.8× native.

import { join } from 'node:path';
import type { Bench, Row } from './lib.ts';
import { ROOT } from './lib.ts';
import { medians, nativeVersions, nativeWorkload, pyodideWorkload, rawPyodideWithSockets, startDbBench } from './db/common.ts';

const METRICS: { key: string; metric: string; unit: string; better: 'lower' | 'higher' }[] = [
  { key: 'insert_rows_per_s', metric: 'ORM insert (add_all 1000 + commit)', unit: 'rows/s', better: 'higher' },
  { key: 'select_rows_per_s', metric: 'ORM select 1000 objects', unit: 'rows/s', better: 'higher' },
  { key: 'latency_us', metric: 'ORM single-query latency (select by id)', unit: 'µs', better: 'lower' },
];

const bench: Bench = {
  name: 'db',
  description: 'SQLAlchemy ORM on PostgreSQL: greenwasm.pg vs native CPython + psycopg2 / asyncpg (insert, select, latency)',
  async run(ctx) {
    const v = nativeVersions();
    if (!v['psycopg2'] || !v['sqlalchemy']) throw new Error('native psycopg2/SQLAlchemy missing: run `npm run setup`');
    const env = await startDbBench();
    const spec = { runs: ctx.runs, warmup: ctx.warmup };
    const rows: Row[] = [];
    const add = (label: string, ours: Record<string, number>, peer: string, theirs: Record<string, number>, note?: string) => {
      for (const m of METRICS) {
        rows.push({ metric: `${m.metric}${label}`, unit: m.unit, better: m.better, ours: ours[m.key]!, peer, peerValue: theirs[m.key]!, ...(note ? { note } : {}) });
      }
    };
    try {
      const base = `CPython ${v['python']} + SQLAlchemy ${v['sqlalchemy']}`;
      ctx.log(`peer: ${base} + psycopg2 ${v['psycopg2']}`);
      const psycopg2 = medians(nativeWorkload(env, { kind: 'orm', driver: 'psycopg2', ...spec }));

      // ---- greenwasm rows: TODO(lead, once sockets/allowNet are on main) ----------------------
      // Replace the raw-Pyodide stand-in below with a greenwasm runtime:
      //   createRuntime({ allowNet: ..., paths: [.cache/site-packages, bench/db], env: env.pg.env })
      // running `workload.run_async({"kind": "orm", "driver": "greenwasm", ...})`, and add the async
      // row the same way with {"kind": "orm_async", "driver": "greenwasm_async"} against asyncpg
      // (needs greenwasm's greenlet, which raw Pyodide lacks).
      ctx.log('ours: greenwasm.pg in Pyodide+NodeSockFS (sync ORM)');
      const py = await rawPyodideWithSockets(env.pg, join(ROOT, '.cache', 'site-packages'));
      const wasm = medians(await pyodideWorkload(py, { kind: 'orm', driver: 'greenwasm', ...spec }));
      add(' [greenwasm.pg in Pyodide+NodeSockFS]', wasm, `${base} + psycopg2 ${v['psycopg2']}`, psycopg2,
        'ours: raw Pyodide 314 + useNodeSockFS (stand-in until greenwasm has sockets), pure-Python SQLAlchemy; peer: SQLAlchemy with C extensions');
      // ---- end of greenwasm rows ------------------------------------------------------------

      ctx.log('ours: greenwasm.pg on native CPython (sync ORM)');
      const nativeOurs = medians(nativeWorkload(env, { kind: 'orm', driver: 'greenwasm', ...spec }));
      add(' [greenwasm.pg on native CPython]', nativeOurs, `${base} + psycopg2 ${v['psycopg2']}`, psycopg2,
        'ours: the same interpreter and SQLAlchemy as the peer; only the driver differs');
      if (v['asyncpg']) {
        ctx.log(`peer: ${base} asyncio + asyncpg ${v['asyncpg']}`);
        const asyncpg = medians(nativeWorkload(env, { kind: 'orm_async', driver: 'asyncpg', ...spec }));
        ctx.log('ours: greenwasm_async on native CPython');
        const nativeAsync = medians(nativeWorkload(env, { kind: 'orm_async', driver: 'greenwasm_async', ...spec }));
        add(' [asyncio, greenwasm.pg on native CPython]', nativeAsync, `${base} asyncio + asyncpg ${v['asyncpg']}`, asyncpg,
          'ours natively blocks the event loop per call (fine for one session); inside greenwasm calls suspend only their own stack');
      } else {
        ctx.log('asyncpg not installed: async rows skipped (`npm run setup`)');
      }
      return rows;
    } finally {
      await env.close();
    }
  },
};
export default bench;
