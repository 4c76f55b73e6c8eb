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
import { interleave, nativeVersions, nativeWorkload, pyodideWorkload, rawPyodideWithSockets, startDbBench, type Contender } from './db/common.ts';

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
    const one = (warmup: number) => ({ runs: 1, warmup });
    const rows: Row[] = [];
    const add = (label: string, ours: Record<string, number>, peer: string, theirs: Record<string, number>, note?: string) => {
      for (const m of METRICS) {
        rows.push({ metric: `${m.metric}${label}`, unit: m.unit, better: m.better, ours: ours[m.key]!, peer, peerValue: theirs[m.key]!, ...(note ? { note } : {}) });
      }
    };
    try {
      const base = `CPython ${v['python']} + SQLAlchemy ${v['sqlalchemy']}`;
      const contenders: Contender[] = [
        { name: 'psycopg2', sample: (w) => nativeWorkload(env, { kind: 'orm', driver: 'psycopg2', ...one(w) }) },
        { name: 'native', sample: (w) => nativeWorkload(env, { kind: 'orm', driver: 'greenwasm', ...one(w) }) },
      ];
      if (v['asyncpg']) {
        contenders.push(
          { name: 'asyncpg', sample: (w) => nativeWorkload(env, { kind: 'orm_async', driver: 'asyncpg', ...one(w) }) },
          { name: 'native_async', sample: (w) => nativeWorkload(env, { kind: 'orm_async', driver: 'greenwasm_async', ...one(w) }) },
        );
      } else {
        ctx.log('asyncpg not installed: async rows skipped (`npm run setup`)');
      }

      // ---- greenwasm rows: TODO(lead, once sockets/allowNet are on main) ----------------------
      // Replace the raw-Pyodide stand-in below with a greenwasm runtime:
      //   createRuntime({ allowNet: ..., paths: [.cache/site-packages, bench/db], env: env.pg.env })
      // running `workload.run_async({"kind": "orm", "driver": "greenwasm", ...})`, and add an async
      // contender the same way with {"kind": "orm_async", "driver": "greenwasm_async"} compared with
      // 'asyncpg' (it needs greenwasm's greenlet, which raw Pyodide lacks).
      const py = await rawPyodideWithSockets(env.pg, join(ROOT, '.cache', 'site-packages'));
      contenders.push({ name: 'wasm', sample: (w) => pyodideWorkload(py, { kind: 'orm', driver: 'greenwasm', ...one(w) }) });
      // ---- end of greenwasm rows ------------------------------------------------------------

      ctx.log(`interleaved samples of: ${contenders.map((c) => c.name).join(', ')}`);
      const r = await interleave(contenders, ctx.runs, ctx.warmup, ctx.log);
      const sync = `${base} + psycopg2 ${v['psycopg2']}`;
      add(' [greenwasm.pg in Pyodide+NodeSockFS]', r.get('wasm')!, sync, r.get('psycopg2')!,
        'ours: raw Pyodide 314 + useNodeSockFS (stand-in until greenwasm has sockets), pure-Python SQLAlchemy; peer: SQLAlchemy with C extensions');
      add(' [greenwasm.pg on native CPython]', r.get('native')!, sync, r.get('psycopg2')!,
        'ours: the same interpreter and SQLAlchemy as the peer; only the driver differs');
      if (r.has('asyncpg')) {
        add(' [asyncio, greenwasm.pg on native CPython]', r.get('native_async')!, `${base} asyncio + asyncpg ${v['asyncpg']}`, r.get('asyncpg')!,
          'ours natively blocks the event loop per call (fine for one session); inside greenwasm calls suspend only their own stack');
      }
      return rows;
    } finally {
      await env.close();
    }
  },
};
export default bench;
