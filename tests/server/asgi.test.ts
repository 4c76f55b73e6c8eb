/**
 * ASGI conformance of the server layer: the app (tests/server/apps/asgi_app.py)
 * runs behind `createAppHandler` inside a plain node:http server, so these
 * tests also cover the "handler in an existing Node server" use.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { checkInvariants } from "../../src/python/testing.ts";
import { createAppHandler, LifespanError, AppLoadError, serve, type AppHandler } from "../../src/server/index.ts";
import { tempDir } from "../integration/support.ts";
import { APPS, PATHS, rawExchange, request, requireSitePackages, warmBaseline } from "./support.ts";

interface Echo {
  scope: Record<string, unknown> & { headers: [string, string][] };
  body_len: number;
  sha256: string;
  messages: number;
}

const sha = (b: Buffer | string): string => createHash("sha256").update(b).digest("hex");

describe("ASGI over node:http", { timeout: 180_000 }, () => {
  const tmp = tempDir("asgi");
  const marker = join(tmp.dir, "shutdown.txt");
  let app: AppHandler;
  let server: Server;
  let base: string;
  let port: number;
  const stderr: string[] = [];

  before(async () => {
    requireSitePackages();
    app = await createAppHandler({
      app: "asgi_app:app",
      appDir: APPS,
      paths: PATHS,
      mounts: [{ host: tmp.dir, guest: "/out", writable: true }],
      env: { SHUTDOWN_MARKER: "/out/shutdown.txt" },
      accessLog: false,
      maxBodySize: 8 * 1024 * 1024,
      stderr: (b) => void stderr.push(Buffer.from(b).toString("utf8")),
    });
    server = createServer(app.handle);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
    base = `http://127.0.0.1:${port}`;
    await warmBaseline(app.runtime, `${base}/echo`);
  });

  after(async () => {
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    await app?.close(1);
    tmp.remove();
  });

  it("detects the interface and runs lifespan startup (state reaches the scope)", async () => {
    assert.equal(app.interface, "asgi");
    const r = await request(`${base}/echo`);
    const echo = JSON.parse(r.text) as Echo;
    assert.deepEqual(echo.scope.state, ["booted_at"]);
  });

  it("builds the http scope", async () => {
    const r = await request(`${base}/echo/a%20b/%C3%A9?x=1&y=%20z&x=2`, { headers: [["Host", "example.test"]] });
    assert.equal(r.status, 200);
    const s = (JSON.parse(r.text) as Echo).scope;
    assert.equal(s.type, "http");
    assert.deepEqual(s.asgi, { version: "3.0", spec_version: "2.3" });
    assert.equal(s.http_version, "1.1");
    assert.equal(s.method, "GET");
    assert.equal(s.scheme, "http");
    assert.equal(s.path, "/echo/a b/é");
    assert.equal(s.raw_path, "/echo/a%20b/%C3%A9");
    assert.equal(s.query_string, "x=1&y=%20z&x=2");
    assert.equal(s.root_path, "");
    assert.equal((s.client as [string, number])[0], "127.0.0.1");
    assert.equal(typeof (s.client as [string, number])[1], "number");
    assert.equal((s.server as [string, number]).length, 2);
  });

  it("passes headers lower-cased, in order, multi-valued and byte-exact", async () => {
    const r = await request(`${base}/echo`, {
      headers: [["X-Multi", "one"], ["x-multi", "two"], ["X-Latin", "caf\u00e9"], ["Accept", "*/*"]],
    });
    const headers = (JSON.parse(r.text) as Echo).scope.headers;
    const multi = headers.filter(([k]) => k === "x-multi").map(([, v]) => v);
    assert.deepEqual(multi, ["one", "two"]);
    assert.deepEqual(headers.find(([k]) => k === "x-latin"), ["x-latin", "caf\u00e9"]);
    assert.ok(headers.every(([k]) => k === k.toLowerCase()));
  });

  it("delivers request bodies: empty, small, chunked and large (streamed in several messages)", async () => {
    const empty = JSON.parse((await request(`${base}/echo`, { method: "POST", body: "" })).text) as Echo;
    assert.equal(empty.body_len, 0);
    const small = JSON.parse((await request(`${base}/echo`, { method: "POST", body: "hello" })).text) as Echo;
    assert.equal(small.sha256, sha("hello"));
    const parts = ["chunk-1 ", "chunk-2 ", "x".repeat(70_000)];
    const chunked = JSON.parse((await request(`${base}/echo`, { method: "POST", body: parts })).text) as Echo;
    assert.equal(chunked.sha256, sha(parts.join("")));
    assert.ok(chunked.scope.headers.some(([k, v]) => k === "transfer-encoding" && v === "chunked"));
    const big = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff;
    const large = JSON.parse((await request(`${base}/echo`, { method: "PUT", body: big })).text) as Echo;
    assert.equal(large.body_len, big.length);
    assert.equal(large.sha256, sha(big));
    assert.ok(large.messages > 1, `a 3 MiB body should arrive in several messages, got ${large.messages}`);
  });

  it("sends status codes, with and without bodies", async () => {
    for (const status of [200, 201, 204, 301, 304, 404, 418, 500, 503]) {
      const r = await request(`${base}/status/${status}`);
      assert.equal(r.status, status);
      assert.equal(r.headers["x-status"], String(status));
      assert.equal(r.text, status === 204 || status === 304 ? "" : `status ${status}`);
    }
  });

  it("sends response headers as given (repeated, case kept, Latin-1) and adds Content-Length", async () => {
    const r = await request(`${base}/headers`);
    assert.deepEqual(r.headers["set-cookie"], ["a=1", "b=2"]);
    assert.ok(r.rawHeaders.includes("X-Mixed-Case"));
    assert.equal(r.headers["x-mixed-case"], "Value \u00e9");
    assert.equal(r.headers["content-length"], "2");
  });

  it("streams a response with chunked encoding", async () => {
    const r = await request(`${base}/stream?n=50&size=1000`);
    assert.equal(r.status, 200);
    assert.equal(r.headers["transfer-encoding"], "chunked");
    assert.equal(r.body.length, 50_000);
    assert.equal(r.text.slice(0, 3), "AAA");
    assert.equal(r.text.slice(1000, 1003), "BBB");
  });

  it("answers HEAD with headers and no body", async () => {
    const r = await request(`${base}/status/200`, { method: "HEAD" });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 0);
    assert.equal(r.headers["content-length"], String("status 200".length));
  });

  it("turns app errors into 500 and logs the traceback", async () => {
    stderr.length = 0;
    const r = await request(`${base}/raise`);
    assert.equal(r.status, 500);
    assert.equal(r.text, "Internal Server Error");
    assert.match(stderr.join(""), /Exception in ASGI application[\s\S]*RuntimeError: boom before start/);
    const none = await request(`${base}/no-response`);
    assert.equal(none.status, 500);
    const cl = await request(`${base}/cl-mismatch`);
    assert.equal(cl.status, 500);
    await assert.rejects(request(`${base}/raise-after-start`), /socket hang up|aborted|ECONNRESET/);
  });

  it("keeps connections alive across requests", async () => {
    const text = await rawExchange(port, "GET /status/200 HTTP/1.1\r\nHost: x\r\n\r\nGET /status/201 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.match(text, /^HTTP\/1\.1 200 OK[\s\S]*HTTP\/1\.1 201 Created/);
  });

  it("tells the app when the client disconnects in the middle of the body", async () => {
    const before = JSON.parse((await request(`${base}/seen`)).text) as { disconnects: number };
    // Longer than the inline limit: the app starts with the first bytes and waits for the rest.
    const head = "POST /wait-disconnect HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n";
    await rawExchange(port, head + "x".repeat(70_000), 300);
    let seen = before.disconnects;
    for (let i = 0; i < 50 && seen === before.disconnects; i++) {
      await new Promise((r) => setTimeout(r, 50));
      seen = (JSON.parse((await request(`${base}/seen`)).text) as { disconnects: number }).disconnects;
    }
    assert.equal(seen, before.disconnects + 1);
  });

  it("drops a request whose client leaves before its body is complete", async () => {
    await rawExchange(port, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial", 200);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(app.inFlight, 0);
  });

  it("leaves the runtime balanced after the requests", async () => {
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(app.inFlight, 0);
    checkInvariants(app.runtime);
  });

  it("runs lifespan shutdown on close", async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await app.close(1);
    assert.equal(readFileSync(marker, "utf8"), "shutdown ran");
  });
});

describe("ASGI startup", { timeout: 120_000 }, () => {
  it("rejects serve() with LifespanError when startup fails", async () => {
    const err = await serve({ app: "asgi_startup_fails:app", appDir: APPS, port: 0, accessLog: false, stderr: () => {} }).then(
      () => assert.fail("serve() should reject"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof LifespanError);
    assert.match(err.message, /startup failed: database unreachable/);
  });

  it("rejects with AppLoadError naming the import error", async () => {
    const err = await serve({ app: "import_error:app", appDir: APPS, port: 0, stderr: () => {} }).catch((e: unknown) => e);
    assert.ok(err instanceof AppLoadError);
    assert.match(err.message, /ModuleNotFoundError: No module named 'does_not_exist'/);
    assert.ok(!existsSync(join(APPS, "__pycache__", "never")));
  });

  it("serves an app without lifespan support (lifespan auto)", async () => {
    const h = await serve({ app: "asgi_no_lifespan:app", appDir: APPS, port: 0, accessLog: false, stderr: () => {} });
    try {
      const r = await request(`${h.url}/`);
      assert.equal(r.text, "plain");
    } finally {
      await h.close();
    }
  });
});
