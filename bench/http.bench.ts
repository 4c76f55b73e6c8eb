// http: requests/s and p99 latency of one Starlette app (bench/apps/http_app.py) served by
//   ours:  greenwasm serve (Node http + CPython/Pyodide), --no-access-log
//   peer:  native uvicorn with httptools and uvloop (Debian python3-uvicorn), --no-access-log
// with 1 worker each and 2 workers each, on three endpoints: /plain (text), /json (20-item
// list), /db (20 rows via SQLAlchemy asyncio + aiosqlite from a seeded SQLite file).
// Load: Debian `wrk`, one thread per worker, 64 connections, HTTP_BENCH_SECONDS (default 5)
// per sample; ours and the peer alternate sample by sample so machine noise hits both.
//
// Ceiling rows (1 worker; plain text and JSON): what one thread running node:http plus the
// app in wasm could serve at best, with greenwasm's own bridge costing nothing:
//   node:http alone          req/s of a bare node:http server answering the plain text (no
//                            Python), loaded like the others: Node's HTTP cost per request;
//   app called directly      µs per request of the same Starlette app called in a loop with
//                            no server (bench/apps/app_cost.py), in a runtime and natively;
//   ceiling                  1 / (node:http alone + app in wasm), against uvicorn's req/s:
//                            below 1.0× means no bridge can reach the target on node:http.

import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime } from '../src/python/index.ts';
import { lastLineJSON, median, NATIVE_PYTHON, NODE, ROOT, sh, type Bench, type BenchContext, type Row } from './lib.ts';

const SECONDS = Number(process.env.HTTP_BENCH_SECONDS ?? 5);
const CONNECTIONS = 64;
const ENDPOINTS = [
  { path: '/plain', label: 'plain text' },
  { path: '/json', label: '20-item JSON list' },
  { path: '/db', label: 'DB read (20 rows, SQLAlchemy asyncio + aiosqlite)' },
] as const;
const APP_DIR = join(ROOT, 'bench', 'apps');
const SITE = join(ROOT, '.cache', 'site-packages');
const WRK = '/usr/bin/wrk';

interface Sample {
  rps: number;
  p99ms: number;
  errors: number;
}

interface Server {
  name: string;
  url: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Start a server process and resolve once `ready` matches its output. */
async function launch(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv, ready: RegExp, url: string): Promise<Server> {
  const child: ChildProcess = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const t0 = Date.now();
  while (!ready.test(out)) {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}):\n${out}`);
    if (Date.now() - t0 > 120_000) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not start in 120 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    name,
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        child.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

async function ours(workers: number, dataDir: string): Promise<Server> {
  const port = await freePort();
  return launch(
    `greenwasm (${workers} worker${workers > 1 ? 's' : ''})`,
    NODE,
    [join(ROOT, 'bin', 'greenwasm.js'), 'serve', 'http_app:app', '--app-dir', APP_DIR, '--path', SITE,
      '--mount', `${dataDir}:/data:rw`, '--env', 'BENCH_DB_URL=sqlite+aiosqlite:////data/bench.db',
      '--no-access-log', '--log-level', 'warning', '--port', String(port), '--workers', String(workers)],
    process.env,
    /serving http:/,
    `http://127.0.0.1:${port}`,
  );
}

async function uvicorn(workers: number, dataDir: string): Promise<Server> {
  const port = await freePort();
  return launch(
    `uvicorn (${workers} worker${workers > 1 ? 's' : ''})`,
    NATIVE_PYTHON,
    ['-m', 'uvicorn', 'http_app:app', '--app-dir', APP_DIR, '--loop', 'uvloop', '--http', 'httptools',
      '--no-access-log', '--port', String(port), '--workers', String(workers)],
    { ...process.env, BENCH_DB_URL: `sqlite+aiosqlite:///${join(dataDir, 'bench.db')}` },
    /Application startup complete|Started parent process/,
    `http://127.0.0.1:${port}`,
  );
}

/** A bare node:http server answering every request with the plain-text body (no Python). */
async function nodeAlone(): Promise<Server> {
  const port = await freePort();
  const src = `require("node:http").createServer((q, s) => {
  s.writeHead(200, { "content-type": "text/plain; charset=utf-8", "content-length": "13" });
  s.end("Hello, world!");
}).listen(${port}, "127.0.0.1", () => console.log("ready"));`;
  return launch('node:http alone', NODE, ['-e', src], process.env, /ready/, `http://127.0.0.1:${port}`);
}

/** µs per request of the app called directly (bench/apps/app_cost.py), natively and in a runtime. */
async function appCost(path: string, n: number): Promise<{ ours: number; native: number }> {
  const parse = (text: string): number => {
    const us = lastLineJSON<{ us: number }>(text).us;
    if (!Number.isFinite(us)) throw new Error(`app_cost.py ${path}: ${text}`);
    return us;
  };
  const native = parse(sh(NATIVE_PYTHON, [join(APP_DIR, 'app_cost.py'), path, String(n)], {
    env: { ...process.env, PYTHONPATH: APP_DIR, BENCH_DB_URL: 'sqlite+aiosqlite:///:memory:' },
  }));
  let out = '';
  const decoder = new TextDecoder();
  const rt = await createRuntime({
    paths: [SITE, APP_DIR], env: { BENCH_DB_URL: 'sqlite+aiosqlite:///:memory:' },
    stdout: (b) => (out += decoder.decode(b)), stderr: () => {},
  });
  try {
    const code = await rt.runModule('app_cost', [path, String(n)]);
    if (code !== 0) throw new Error(`app_cost.py ${path} exited ${code} in greenwasm: ${out}`);
  } finally {
    await rt.close();
  }
  return { ours: parse(out), native };
}

/** Parse wrk's report (run with --latency). */
export function parseWrk(text: string): Sample {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]);
  const p = /^\s+99%\s+([\d.]+)(us|ms|s)\s*$/m.exec(text);
  if (!Number.isFinite(rps) || !p) throw new Error(`cannot parse wrk output:\n${text}`);
  const p99ms = Number(p[1]) * (p[2] === 'us' ? 0.001 : p[2] === 's' ? 1000 : 1);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const errors = non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, p99ms, errors };
}

function load(url: string, threads: number, seconds: number): Sample {
  return parseWrk(sh(WRK, [`-t${threads}`, `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', url]));
}

/** Seed a SQLite file with the 20 items, using the native interpreter's sqlite3. */
function seed(file: string): void {
  sh(NATIVE_PYTHON, ['-c', `import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, title VARCHAR(100) NOT NULL, done BOOLEAN NOT NULL)")
c.executemany("INSERT INTO items VALUES (?, ?, ?)", [(i, f"item {i}", i % 2 == 0) for i in range(20)])
c.commit()`, file]);
}

function check(ctx: BenchContext): void {
  const missing = [
    [WRK, 'wrk'],
    [NATIVE_PYTHON, 'python3'],
  ].filter(([p]) => !existsSync(p!));
  if (missing.length) throw new Error(`missing ${missing.map((m) => m[1]).join(', ')}: run \`npm run setup\``);
  sh(NATIVE_PYTHON, ['-c', 'import uvicorn, httptools, uvloop, starlette, sqlalchemy, aiosqlite']);
  if (!existsSync(join(SITE, 'starlette'))) throw new Error(`${SITE} lacks starlette: run \`npm run setup\``);
  ctx.log(`wrk ${CONNECTIONS} connections, ${SECONDS} s per sample, ${ctx.runs} samples per server and endpoint (+${ctx.warmup} warm-up)`);
}

/** The ceiling rows of one endpoint (see the header). */
function ceiling(ep: (typeof ENDPOINTS)[number], floor: Sample[], peerRps: number, peer: string, cost: { ours: number; native: number }): Row[] {
  const aloneRps = median(floor.map((s) => s.rps));
  const rows: Row[] = [];
  if (ep.path === '/plain') {
    rows.push({ metric: 'node:http alone, no Python (plain text, 1 thread)', unit: 'req/s', better: 'higher', ours: aloneRps, peer, peerValue: peerRps,
      note: 'Node\'s HTTP server by itself, loaded like the others: the floor of any node:http host' });
  }
  rows.push({ metric: `${ep.label}: the app called directly, no server, per request`, unit: 'µs', better: 'lower', ours: cost.ours,
    peer: 'the same app on native CPython (bench/apps/app_cost.py)', peerValue: cost.native });
  rows.push({ metric: `${ep.label}: ceiling on node:http, 1 worker = 1 / (node:http alone + app in wasm)`, unit: 'req/s', better: 'higher',
    ours: 1e6 / (1e6 / aloneRps + cost.ours), peer, peerValue: peerRps,
    note: 'best possible with a bridge that costs nothing; below 1.0× the target cannot be met on node:http' });
  return rows;
}

const bench: Bench = {
  name: 'http',
  description: 'HTTP requests/s and p99: greenwasm serve vs native uvicorn+httptools+uvloop, same Starlette app',
  async run(ctx) {
    check(ctx);
    const uvVersion = sh(NATIVE_PYTHON, ['-c', 'import uvicorn, starlette; print(uvicorn.__version__, starlette.__version__)']).trim().split(' ');
    const peer = `uvicorn ${uvVersion[0]} + httptools + uvloop, Starlette ${uvVersion[1]}, native CPython`;
    const rows: Row[] = [];
    for (const workers of [1, 2]) {
      const dirs = [mkdtempSync(join(tmpdir(), 'greenwasm-bench-')), mkdtempSync(join(tmpdir(), 'greenwasm-bench-'))];
      seed(join(dirs[0]!, 'bench.db'));
      copyFileSync(join(dirs[0]!, 'bench.db'), join(dirs[1]!, 'bench.db'));
      const servers: Server[] = [];
      try {
        servers.push(await ours(workers, dirs[0]!), await uvicorn(workers, dirs[1]!));
        const [mine, theirs] = servers as [Server, Server];
        const floor: Sample[] = [];
        if (workers === 1) servers.push(await nodeAlone());
        for (const ep of ENDPOINTS) {
          const got: Record<string, Sample[]> = { [mine.name]: [], [theirs.name]: [] };
          for (let i = 0; i < ctx.warmup + ctx.runs; i++) {
            for (const s of i % 2 ? [theirs, mine] : [mine, theirs]) {
              const sample = load(s.url + ep.path, workers, i < ctx.warmup ? 2 : SECONDS);
              if (i >= ctx.warmup) got[s.name]!.push(sample);
              ctx.log(`${s.name} ${ep.path}: ${sample.rps.toFixed(0)} req/s, p99 ${sample.p99ms.toFixed(2)} ms${sample.errors ? `, ${sample.errors} errors` : ''}${i < ctx.warmup ? ' (warm-up)' : ''}`);
            }
            const alone = servers[2];
            if (alone && ep.path === '/plain') {
              const sample = load(alone.url + ep.path, 1, i < ctx.warmup ? 2 : SECONDS);
              if (i >= ctx.warmup) floor.push(sample);
              ctx.log(`${alone.name}: ${sample.rps.toFixed(0)} req/s${i < ctx.warmup ? ' (warm-up)' : ''}`);
            }
          }
          const ourRps = median(got[mine.name]!.map((s) => s.rps));
          const peerRps = median(got[theirs.name]!.map((s) => s.rps));
          const errors = got[mine.name]!.reduce((a, s) => a + s.errors, 0);
          const note = errors ? `${errors} errors in our samples` : undefined;
          const tag = `${ep.label}, ${workers} worker${workers > 1 ? 's' : ''} each`;
          rows.push({ metric: `${tag}: throughput`, unit: 'req/s', better: 'higher', ours: ourRps, peer, peerValue: peerRps, ...(note && { note }) });
          rows.push({
            metric: `${tag}: p99 latency`, unit: 'ms', better: 'lower',
            ours: median(got[mine.name]!.map((s) => s.p99ms)), peer, peerValue: median(got[theirs.name]!.map((s) => s.p99ms)),
          });
          if (floor.length > 0 && ep.path !== '/db') rows.push(...ceiling(ep, floor, peerRps, peer, await appCost(ep.path, ep.path === '/plain' ? 2000 : 500)));
        }
      } finally {
        await Promise.all(servers.map((s) => s.stop()));
        for (const d of dirs) rmSync(d, { recursive: true, force: true });
      }
    }
    return rows;
  },
};

export default bench;
