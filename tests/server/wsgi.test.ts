/** WSGI (PEP 3333) conformance of the server layer, plus Flask through `serve()`. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { checkInvariants } from "../../src/python/testing.ts";
import { serve, type ServerHandle } from "../../src/server/index.ts";
import { createAppHandler, type AppHandler } from "../../src/server/index.ts";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { APPS, PATHS, request, requireSitePackages, warmBaseline } from "./support.ts";

const sha = (b: Buffer | string): string => createHash("sha256").update(b).digest("hex");

interface EnvEcho {
  environ: Record<string, unknown>;
  body_len: number;
  sha256: string;
}

describe("WSGI over node:http", { timeout: 180_000 }, () => {
  let app: AppHandler;
  let server: Server;
  let base: string;
  const stderr: string[] = [];

  before(async () => {
    requireSitePackages();
    app = await createAppHandler({
      app: "wsgi_app:app",
      appDir: APPS,
      rootPath: "/prefix",
      accessLog: false,
      stderr: (b) => void stderr.push(Buffer.from(b).toString("utf8")),
    });
    server = createServer(app.handle);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await warmBaseline(app.runtime, `${base}/prefix/environ/`);
  });

  after(async () => {
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    await app?.close(1);
  });

  it("detects WSGI and builds the environ", async () => {
    assert.equal(app.interface, "wsgi");
    const r = await request(`${base}/prefix/environ/a%20b?x=1&x=2`, {
      headers: [["X-Multi", "one"], ["X-Multi", "two"], ["Cookie", "a=1"], ["Cookie", "b=2"], ["Content-Type", "text/plain"]],
    });
    assert.equal(r.status, 200);
    const e = (JSON.parse(r.text) as EnvEcho).environ;
    assert.equal(e.REQUEST_METHOD, "GET");
    assert.equal(e.SCRIPT_NAME, "/prefix");
    assert.equal(e.PATH_INFO, "/environ/a b");
    assert.equal(e.QUERY_STRING, "x=1&x=2");
    assert.equal(e.SERVER_PROTOCOL, "HTTP/1.1");
    assert.equal(e.REMOTE_ADDR, "127.0.0.1");
    assert.equal(e.CONTENT_TYPE, "text/plain");
    assert.equal(e.HTTP_X_MULTI, "one,two");
    assert.equal(e.HTTP_COOKIE, "a=1; b=2");
    assert.deepEqual(e["wsgi.version"], [1, 0]);
    assert.equal(e["wsgi.url_scheme"], "http");
    assert.equal(e["wsgi.multithread"], true);
    assert.equal(e["wsgi.run_once"], false);
    assert.equal(typeof e.SERVER_NAME, "string");
    assert.equal(typeof e.SERVER_PORT, "string");
  });

  it("reads bodies through wsgi.input: empty, inline, chunked and streamed", async () => {
    const empty = JSON.parse((await request(`${base}/environ`, { method: "POST", body: "" })).text) as EnvEcho;
    assert.equal(empty.body_len, 0);
    const parts = ["a".repeat(1000), "b".repeat(100_000)];
    const chunked = JSON.parse((await request(`${base}/environ`, { method: "POST", body: parts })).text) as EnvEcho;
    assert.equal(chunked.sha256, sha(parts.join("")));
    const big = Buffer.alloc(2 * 1024 * 1024, 0x5a);
    const streamed = JSON.parse((await request(`${base}/environ`, { method: "POST", body: big })).text) as EnvEcho;
    assert.equal(streamed.body_len, big.length);
    assert.equal(streamed.environ.CONTENT_LENGTH, String(big.length));
    const lines = "one\ntwo two\n" + "x".repeat(200_000) + "\nlast";
    const r = JSON.parse((await request(`${base}/readline`, { method: "POST", body: lines })).text) as { lines: number[] };
    assert.deepEqual(r.lines, [4, 8, 200_001, 4]);
  });

  it("sends status lines, repeated headers, generators, write() and calls close()", async () => {
    for (const code of [200, 201, 204, 404, 503]) {
      const r = await request(`${base}/status/${code}`);
      assert.equal(r.status, code);
      assert.equal(r.headers["x-status"], String(code));
    }
    const h = await request(`${base}/headers`);
    assert.deepEqual(h.headers["set-cookie"], ["a=1", "b=2"]);
    const g = await request(`${base}/generator?n=4`);
    assert.equal(g.text, "line 0\nline 1\nline 2\nline 3\n");
    assert.equal(g.headers["transfer-encoding"], "chunked");
    const w = await request(`${base}/write`);
    assert.equal(w.text, "legacy write callable");
    const before = JSON.parse((await request(`${base}/closed`)).text) as { closed: number };
    assert.equal((await request(`${base}/close`)).text, "closing body");
    const afterClose = JSON.parse((await request(`${base}/closed`)).text) as { closed: number };
    assert.equal(afterClose.closed, before.closed + 1);
  });

  it("answers HEAD without a body", async () => {
    const r = await request(`${base}/status/200`, { method: "HEAD" });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 0);
  });

  it("turns exceptions into 500 and logs the traceback", async () => {
    const r = await request(`${base}/raise`);
    assert.equal(r.status, 500);
    assert.match(stderr.join(""), /Exception in WSGI application[\s\S]*ValueError: wsgi boom/);
  });

  it("runs blocking handlers concurrently, each on its own stack", async () => {
    const t0 = performance.now();
    const replies = await Promise.all([1, 2, 3, 4, 5].map((i) => request(`${base}/sleep?s=0.5&id=${i}`)));
    const elapsed = performance.now() - t0;
    assert.deepEqual(replies.map((r) => (JSON.parse(r.text) as { id: string }).id), ["1", "2", "3", "4", "5"]);
    assert.ok(elapsed < 2000, `five 0.5 s sleeps took ${elapsed.toFixed(0)} ms: they ran one after another`);
  });

  it("leaves the runtime balanced", async () => {
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(app.inFlight, 0);
    checkInvariants(app.runtime);
  });
});

// Flask 3 (it needs blinker); bookworm's Flask 2.2 fails on Python 3.14 (see scripts/fetch-packages.ts).
const flaskUsable = PATHS.some((p) => existsSync(join(p, "flask"))) && PATHS.some((p) => existsSync(join(p, "blinker")));

describe("Flask through serve()", { timeout: 120_000, skip: flaskUsable ? false : "Flask 3 missing: run `npm run setup`" }, () => {
  let h: ServerHandle;
  before(async () => {
    h = await serve({ app: "flask_app:app", appDir: APPS, paths: PATHS, port: 0, accessLog: false, stderr: () => {} });
  });
  after(async () => {
    await h?.close();
  });

  it("routes, parses JSON and runs sleeping views concurrently", async () => {
    const hello = await request(`${h.url}/hello/w%C3%B6rld?q=1`);
    assert.deepEqual(JSON.parse(hello.text), { hello: "wörld", q: "1" });
    const echo = await request(`${h.url}/json`, { method: "POST", headers: [["Content-Type", "application/json"]], body: '{"a": [1, 2]}' });
    assert.deepEqual(JSON.parse(echo.text), { got: { a: [1, 2] }, length: 13 });
    const t0 = performance.now();
    const replies = await Promise.all([1, 2, 3].map((i) => request(`${h.url}/sleep?s=0.5&id=${i}`)));
    assert.deepEqual(replies.map((r) => (JSON.parse(r.text) as { id: string }).id), ["1", "2", "3"]);
    assert.ok(performance.now() - t0 < 1400);
  });
});
