/**
 * Faults: limits (431, 413), malformed requests (400), stuck handlers (504,
 * interrupt, worker recycled), a crashing worker (replaced), WebSocket
 * upgrades (404). Pool tests use real worker threads.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { serve, type ServerHandle } from "../../src/server/index.ts";
import { APPS, PATHS, rawExchange, request, requireSitePackages } from "./support.ts";

function collect(): { sink: (b: Uint8Array) => void; text: () => string } {
  const chunks: string[] = [];
  return { sink: (b) => void chunks.push(Buffer.from(b).toString("utf8")), text: () => chunks.join("") };
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("limits and malformed requests (one runtime on this thread)", { timeout: 120_000 }, () => {
  let h: ServerHandle;
  before(async () => {
    requireSitePackages();
    h = await serve({ app: "asgi_app:app", appDir: APPS, paths: PATHS, port: 0, accessLog: false, maxBodySize: 100_000, maxHeaderSize: 4096, stderr: () => {} });
  });
  after(async () => {
    await h?.close();
  });

  it("answers 431 to an oversized request head", async () => {
    const text = await rawExchange(h.port, `GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(8000)}\r\n\r\n`);
    assert.match(text, /^HTTP\/1\.1 431 /);
  });

  it("answers 413 to a body over the limit, declared or chunked", async () => {
    const declared = await request(`${h.url}/echo`, { method: "POST", body: Buffer.alloc(100_001) });
    assert.equal(declared.status, 413);
    const chunked = await request(`${h.url}/echo`, { method: "POST", body: [Buffer.alloc(60_000), Buffer.alloc(60_000)] }).catch((e: Error) => e);
    // The server answers 413 and closes; the client may see the reply or a reset while still sending.
    if (!(chunked instanceof Error)) assert.equal(chunked.status, 413);
    const ok = await request(`${h.url}/echo`, { method: "POST", body: Buffer.alloc(100_000) });
    assert.equal(ok.status, 200);
  });

  it("answers 400 to malformed requests", async () => {
    for (const bad of ["GARBAGE\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", "GET / HTTP/1.1\r\nBad Header\r\n\r\n"]) {
      const text = await rawExchange(h.port, bad);
      assert.match(text, /^HTTP\/1\.1 400 /, `for ${JSON.stringify(bad)}: ${JSON.stringify(text.slice(0, 60))}`);
    }
  });

  it("refuses WebSocket upgrades with 404", async () => {
    const text = await rawExchange(h.port, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    assert.match(text, /^HTTP\/1\.1 404 /);
  });

  it("still serves normal requests", async () => {
    const r = await request(`${h.url}/status/200`);
    assert.equal(r.status, 200);
  });
});

describe("stuck handlers", { timeout: 180_000 }, () => {
  it("answers 504 to a request that sleeps past the timeout and cancels its task", async () => {
    const h = await serve({ app: "asgi_app:app", appDir: APPS, paths: PATHS, port: 0, requestTimeout: 0.5, accessLog: false, stderr: () => {} });
    try {
      const before = JSON.parse((await request(`${h.url}/seen`)).text) as { cancelled: number };
      const t0 = performance.now();
      const r = await request(`${h.url}/wait-disconnect`, { method: "POST", headers: [["Content-Length", "10"]], body: [Buffer.from("0123456789")] });
      assert.equal(r.status, 504);
      assert.ok(performance.now() - t0 < 5000);
      let seen = before.cancelled;
      for (let i = 0; i < 40 && seen === before.cancelled; i++) {
        await new Promise((res) => setTimeout(res, 50));
        seen = (JSON.parse((await request(`${h.url}/seen`)).text) as { cancelled: number }).cancelled;
      }
      assert.equal(seen, before.cancelled + 1, "the timed-out ASGI task should have been cancelled");
    } finally {
      await h.close();
    }
  });

  it("interrupts an ASGI handler in an endless loop (504) on a runtime on this thread", async () => {
    const log = collect();
    const h = await serve({ app: "asgi_app:app", appDir: APPS, paths: PATHS, port: 0, requestTimeout: 1, accessLog: false, stderr: log.sink });
    try {
      const t0 = performance.now();
      const r = await request(`${h.url}/loop`);
      assert.equal(r.status, 504);
      assert.ok(performance.now() - t0 < 10_000);
      assert.equal((await request(`${h.url}/status/201`)).status, 201);
      assert.match(log.text(), /interrupted \(KeyboardInterrupt\)/);
    } finally {
      await h.close();
    }
  });

  it("answers 504, recycles the stuck worker and keeps serving (WSGI, 2 workers)", async () => {
    const log = collect();
    const h = await serve({ app: "wsgi_app:app", appDir: APPS, port: 0, workers: 2, requestTimeout: 1, accessLog: false, stderr: log.sink });
    try {
      const stuck = request(`${h.url}/loop`);
      const others = Promise.all([1, 2, 3, 4].map((i) => request(`${h.url}/sleep?s=0.05&id=${i}`)));
      assert.equal((await stuck).status, 504);
      for (const [i, r] of (await others).entries()) {
        assert.equal(r.status, 200);
        assert.equal((JSON.parse(r.text) as { id: string }).id, String(i + 1));
      }
      await until("a replacement worker", () => /worker 3 ready \(replaces worker \d\)/.test(log.text()));
      assert.match(log.text(), /recycling worker \d/);
      const after = await Promise.all([1, 2, 3, 4].map(() => request(`${h.url}/status/200`)));
      assert.ok(after.every((r) => r.status === 200));
    } finally {
      await h.close();
    }
  });
});

describe("crashing worker", { timeout: 180_000 }, () => {
  it("replaces a worker whose interpreter died and keeps serving", async () => {
    const log = collect();
    const h = await serve({ app: "asgi_app:app", appDir: APPS, paths: PATHS, port: 0, workers: 1, accessLog: false, stderr: log.sink });
    try {
      const r = await request(`${h.url}/abort`);
      assert.equal(r.status, 500);
      await until("the replacement", () => /worker 2 ready/.test(log.text()), 60_000);
      assert.match(log.text(), /failed fatally[\s\S]*worker 1 stopped unexpectedly/);
      assert.equal((await request(`${h.url}/status/200`)).status, 200);
    } finally {
      await h.close();
    }
  });
});
