// db: SQLAlchemy ORM on PostgreSQL, greenwasm.pg against native CPython + the same SQLAlchemy 1.4
// with psycopg2 (sync) and asyncpg (asyncio), same throwaway server, same run
// (bench/db/workload.py, orm/orm_async kinds; 1000 rows per sample):
//
//   ORM insert throughput   rows/s: Session.add_all(1000 new objects) + commit (server-generated keys)
//   ORM select throughput   rows/s: select(Item).limit(1000) → 1000 ORM objects, fresh session
//   single-query latency    µs per select(Item).where(Item.id == k).scalar_one() (500 per sample)
//
// Peers run Debian's python3-sqlalchemy (with its C extensions) + python3-psycopg2 / python3-asyncpg
// on /usr/bin/python3. Rows of "ours":
//   [greenwasm]        greenwasm.pg's dialects in a greenwasm runtime with sockets (allowNet
//                      127.0.0.1) and the pure-Python SQLAlchemy of .cache/site-packages.
//   [native CPython]   greenwasm.pg's dialects on the peers' own interpreter and SQLAlchemy: the
//                      driver's cost without Wasm.
// One more row compares [greenwasm] with native CPython running the very same pure-Python
// SQLAlchemy copy and greenwasm.pg: the cost of Wasm alone.
// Ceiling rows split an ORM read into the driver's share (the same SQL through the bare DB-API
// cursor, bench/db/workload.py) and SQLAlchemy's own share (the rest): SQLAlchemy's share in
// wasm alone bounds what any driver could reach, so a ceiling under 0.8× means the target
// cannot be met while SQLAlchemy runs as Python in this interpreter.
// Target (issue 5): greenwasm rows ≥ 0.8× native.

import type { Bench, Row } from './lib.ts';
import { greenwasmWorkloads, interleave, nativeVersions, nativeWorkload, startDbBench, type Contender } from './db/common.ts';

const METRICS: { key: string; metric: string; unit: string; better: 'lower' | 'higher' }[] = [
  { key: 'insert_rows_per_s', metric: 'ORM insert (add_all 1000 + commit)', unit: 'rows/s', better: 'higher' },
  { key: 'select_rows_per_s', metric: 'ORM select 1000 objects', unit: 'rows/s', better: 'higher' },
  { key: 'latency_us', metric: 'ORM single-query latency (select by id)', unit: 'µs', better: 'lower' },
];

/** SQLAlchemy's own share of an ORM read (ORM minus the same SQL through the bare cursor), and the ceiling it sets. */
function ceilings(wasm: Record<string, number>, pure: Record<string, number>, psycopg2: Record<string, number>, sync: string): Row[] {
  const perRowUs = (m: Record<string, number>) => 1e6 / m['select_rows_per_s']! - 1e6 / m['select_driver_rows_per_s']!;
  const perQueryUs = (m: Record<string, number>) => m['latency_us']! - m['latency_driver_us']!;
  const pureNote = 'the same pure-Python SQLAlchemy files and greenwasm.pg on native CPython';
  return [
    { metric: 'SQLAlchemy\'s own time per selected ORM object (ORM select minus the same SQL through the cursor)', unit: 'µs', better: 'lower',
      ours: perRowUs(wasm), peer: pureNote, peerValue: perRowUs(pure) },
    { metric: 'ORM select ceiling [greenwasm] = 1 / SQLAlchemy\'s own time per object in wasm (a driver costing nothing)', unit: 'rows/s', better: 'higher',
      ours: 1e6 / perRowUs(wasm), peer: sync, peerValue: psycopg2['select_rows_per_s']!,
      note: 'below 0.8× the target cannot be met by any driver while SQLAlchemy runs in this interpreter' },
    { metric: 'SQLAlchemy\'s own time per single-row query (ORM latency minus the same SQL through the cursor)', unit: 'µs', better: 'lower',
      ours: perQueryUs(wasm), peer: pureNote, peerValue: perQueryUs(pure) },
    { metric: 'ORM latency floor [greenwasm] = SQLAlchemy\'s own time per query in wasm (a driver and server costing nothing)', unit: 'µs', better: 'lower',
      ours: perQueryUs(wasm), peer: sync, peerValue: psycopg2['latency_us']!,
      note: 'above 1.25× (0.8× in queries/s) the target cannot be met by any driver while SQLAlchemy runs in this interpreter' },
  ];
}

const bench: Bench = {
  name: 'db',
  description: 'SQLAlchemy ORM on PostgreSQL: greenwasm.pg vs native CPython + psycopg2 / asyncpg (insert, select, latency)',
  async run(ctx) {
    const v = nativeVersions();
    if (!v['psycopg2'] || !v['sqlalchemy']) throw new Error('native psycopg2/SQLAlchemy missing: run `npm run setup`');
    const env = await startDbBench();
    const cleanups: (() => Promise<void>)[] = [];
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
        { name: 'native_pure', sample: (w) => nativeWorkload(env, { kind: 'orm', driver: 'greenwasm', ...one(w) }, { pureSqlalchemy: true }) },
      ];
      if (v['asyncpg']) {
        contenders.push(
          { name: 'asyncpg', sample: (w) => nativeWorkload(env, { kind: 'orm_async', driver: 'asyncpg', ...one(w) }) },
          { name: 'native_async', sample: (w) => nativeWorkload(env, { kind: 'orm_async', driver: 'greenwasm_async', ...one(w) }) },
        );
      } else {
        ctx.log('asyncpg not installed: async rows skipped (`npm run setup`)');
      }

      const wasm = await greenwasmWorkloads(env.pg);
      cleanups.push(() => wasm.close());
      contenders.push({ name: 'wasm', sample: (w) => wasm.run({ kind: 'orm', driver: 'greenwasm', ...one(w) }) });
      if (v['asyncpg']) {
        contenders.push({ name: 'wasm_async', sample: (w) => wasm.run({ kind: 'orm_async', driver: 'greenwasm_async', ...one(w) }) });
      }

      ctx.log(`interleaved samples of: ${contenders.map((c) => c.name).join(', ')}`);
      const r = await interleave(contenders, ctx.runs, ctx.warmup, ctx.log);
      const sync = `${base} + psycopg2 ${v['psycopg2']}`;
      const wasmNote = 'ours: greenwasm runtime, pure-Python SQLAlchemy 1.4; peer: SQLAlchemy with C extensions';
      add(' [greenwasm]', r.get('wasm')!, sync, r.get('psycopg2')!, wasmNote);
      add(' [greenwasm, same pure-Python SQLAlchemy as the peer]', r.get('wasm')!,
        `CPython ${v['python']} + pure-Python SQLAlchemy 1.4.46 (.cache/site-packages) + greenwasm.pg`, r.get('native_pure')!,
        'the Wasm factor alone: same SQLAlchemy files, same driver, native CPython vs greenwasm');
      add(' [greenwasm.pg on native CPython]', r.get('native')!, sync, r.get('psycopg2')!,
        'ours: the same interpreter and SQLAlchemy as the peer; only the driver differs');
      rows.push(...ceilings(r.get('wasm')!, r.get('native_pure')!, r.get('psycopg2')!, sync));
      if (r.has('asyncpg')) {
        add(' [asyncio, greenwasm]', r.get('wasm_async')!, `${base} asyncio + asyncpg ${v['asyncpg']}`, r.get('asyncpg')!, wasmNote);
        add(' [asyncio, greenwasm.pg on native CPython]', r.get('native_async')!, `${base} asyncio + asyncpg ${v['asyncpg']}`, r.get('asyncpg')!,
          'ours natively blocks the event loop per call (fine for one session); inside greenwasm calls suspend only their own stack');
      }
      return rows;
    } finally {
      for (const c of cleanups) await c();
      await env.close();
    }
  },
};
export default bench;
