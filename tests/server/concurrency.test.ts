/**
 * Concurrency correctness: 10,000 requests at 256 in flight, mixing ASGI
 * handlers that `await asyncio.sleep`, ASGI handlers doing SQLAlchemy asyncio
 * round trips on SQLite (aiosqlite on green threads) and WSGI handlers that
 * block in `time.sleep`. Every reply must carry its own request id, nothing
 * may fail, and the wasm heap must stop growing once warmed up.
 */
import assert from "node:assert/strict";
import { Agent, request as httpRequest } from "node:http";
import { after, before, describe, it } from "node:test";
import { runtimeState } from "../../src/python/runtime.ts";
import { checkInvariants, type InvariantBaseline } from "../../src/python/testing.ts";
import { createAppHandler, type AppHandler } from "../../src/server/index.ts";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tempDir } from "../integration/support.ts";
import { APPS, PATHS, pool, requireSitePackages, warmBaseline } from "./support.ts";

const TOTAL = Number(process.env.GREENWASM_CONCURRENCY_TOTAL ?? 10_000);
const IN_FLIGHT = 256;

interface Served {
  app: AppHandler;
  server: Server;
  url: string;
}

async function start(options: Parameters<typeof createAppHandler>[0]): Promise<Served> {
  const app = await createAppHandler({ accessLog: false, stderr: (b) => void process.stderr.write(b), ...options });
  // Longer than the test: a server closing an idle keep-alive socket the
  // client is about to reuse resets that request (a client-side race).
  const server = createServer({ keepAliveTimeout: 120_000 }, app.handle);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { app, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function stop(s: Served | undefined): Promise<void> {
  if (!s) return;
  s.server.closeAllConnections();
  await new Promise<void>((r) => s.server.close(() => r()));
  await s.app.close(5);
}

const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });

function get(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent, timeout: 60_000 }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`timeout: ${url}`)));
    req.on("error", reject);
    req.end();
  });
}

function heapBytes(app: AppHandler): number {
  return runtimeState(app.runtime).module.HEAPU8.length;
}

/** Wait up to 5 s for `app` to have no request in flight and its greenlet counters back at `base`. */
async function atRest(app: AppHandler, base: InvariantBaseline): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const now = runtimeState(app.runtime).greenlets.stats();
    if (app.inFlight === 0 && JSON.stringify(now) === JSON.stringify(base.greenlets)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("many requests in flight", { timeout: 600_000 }, () => {
  const baselines = {} as Record<"asgi" | "wsgi", InvariantBaseline>;
  const tmp = tempDir("concurrency");
  let asgi: Served;
  let wsgi: Served;

  before(async () => {
    requireSitePackages();
    asgi = await start({ app: "asgi_db:app", appDir: APPS, paths: PATHS, mounts: [{ host: tmp.dir, guest: "/data", writable: true }] });
    // 64 WSGI requests run at once (the default), each on a 1 MiB stack: the
    // warm-up reaches that peak, so the heap has no reason to grow later.
    wsgi = await start({ app: "wsgi_app:app", appDir: APPS, wsgiConcurrency: 64 });
    baselines.asgi = await warmBaseline(asgi.app.runtime, `${asgi.url}/sleep?id=warm&s=0`, `${asgi.url}/db?id=warm`);
    baselines.wsgi = await warmBaseline(wsgi.app.runtime, `${wsgi.url}/sleep?id=warm&s=0`);
  });

  after(async () => {
    agent.destroy();
    await stop(asgi);
    await stop(wsgi);
    tmp.remove();
  });

  async function run(ids: number[]): Promise<void> {
    const failures: string[] = [];
    await pool(ids, IN_FLIGHT, async (id) => {
      const kind = id % 5; // 0-1: asyncio sleep, 2: database, 3-4: WSGI time.sleep
      const ms = (id * 7) % 6;
      const url =
        kind < 2 ? `${asgi.url}/sleep?id=${id}&s=${ms / 1000}`
        : kind === 2 ? `${asgi.url}/db?id=${id}`
        : `${wsgi.url}/sleep?id=${id}&s=${ms / 1000}`;
      try {
        const r = await get(url);
        const body = JSON.parse(r.text) as { id: string; rows?: number };
        if (r.status !== 200 || body.id !== String(id) || (kind === 2 && body.rows !== 1)) {
          failures.push(`${url}: ${r.status} ${r.text.slice(0, 100)}`);
        }
      } catch (err) {
        failures.push(`${url}: ${(err as Error).message}`);
      }
    });
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${ids.length} requests failed`);
  }

  it(`serves ${TOTAL} mixed requests, ${IN_FLIGHT} at a time, each reply matching its request`, async () => {
    // Peak concurrency first (all 64 WSGI stacks and 256 ASGI requests at once),
    // then the first half warms up, and the second half must not grow the wasm
    // heaps: memory is bounded by concurrency, not by the number of requests.
    await Promise.all([
      ...Array.from({ length: 128 }, (_, i) => get(`${wsgi.url}/sleep?id=w${i}&s=0.2`)),
      ...Array.from({ length: IN_FLIGHT }, (_, i) => get(`${asgi.url}/sleep?id=a${i}&s=0.2`)),
    ]);
    const half = Math.floor(TOTAL / 2);
    await run(Array.from({ length: half }, (_, i) => i));
    const heapWarm = heapBytes(asgi.app) + heapBytes(wsgi.app);
    await run(Array.from({ length: TOTAL - half }, (_, i) => half + i));
    const heapEnd = heapBytes(asgi.app) + heapBytes(wsgi.app);
    assert.ok(heapEnd - heapWarm <= 16 * 1024 * 1024, `wasm heaps grew by ${((heapEnd - heapWarm) / 2 ** 20).toFixed(1)} MiB in the second half`);
    assert.equal(asgi.app.inFlight, 0);
    assert.equal(wsgi.app.inFlight, 0);
  });

  it("leaves both runtimes balanced, every event-loop pump task ended", async () => {
    await new Promise((r) => setTimeout(r, 200));
    // Work the load left behind (pool resets, connection threads finishing a step) may still
    // be running; wait for it, then a difference that remains is a leak. Main instances are
    // the Pyodide tasks (pumps) that ran greenlet code: each must be forgotten when its task
    // ends, however busy the machine was (a freed thread state once looked alive).
    await atRest(asgi.app, baselines.asgi);
    await atRest(wsgi.app, baselines.wsgi);
    checkInvariants(asgi.app.runtime);
    checkInvariants(wsgi.app.runtime);
  });
});
