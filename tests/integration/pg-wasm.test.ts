/**
 * greenwasm.pg inside greenwasm: the tests/python/pg scripts in a runtime with sockets
 * (`allowNet`), against a throwaway PostgreSQL. The same scripts run under native CPython in
 * pg-native.test.ts.
 *
 * Here in addition: the 50 AsyncSessions must overlap (GREENWASM_PG_EXPECT_OVERLAP=1: one
 * connection each, well under the serial time), the restart fault script is driven through
 * the runtime's stdin, and connections outside the allowlist fail with OperationalError.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { basename, dirname, join, resolve } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { createRuntime, type Runtime } from "../../src/python/index.ts";
import { checkInvariants } from "../../src/python/testing.ts";
import { startPostgres, type PostgresServer } from "../support/postgres.ts";
import { Capture, PushSource } from "./support.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");
const SITE = join(ROOT, ".cache", "site-packages");
const SCRIPTS = join(ROOT, "tests", "python", "pg");
const CA_GUEST = "/opt/pgtest/ca";

describe("greenwasm.pg inside greenwasm (allowNet) against PostgreSQL", { timeout: 300_000 }, () => {
  const out = new Capture();
  let pg: PostgresServer;
  let silent: Server;
  const sockets = new Set<Socket>();
  let env: Record<string, string>;
  let rt: Runtime;

  async function boot(stdin?: PushSource): Promise<Runtime> {
    return createRuntime({
      paths: [SITE, SCRIPTS],
      env,
      allowNet: ["127.0.0.1:*"],
      mounts: pg.caFile ? [{ host: dirname(pg.caFile), guest: CA_GUEST }] : [],
      stdout: out.sink,
      stderr: out.sink,
      ...(stdin ? { stdin } : {}),
    });
  }

  before(async () => {
    assert.ok(existsSync(join(SITE, "sqlalchemy")), `${SITE}/sqlalchemy missing: run \`npm run setup\``);
    pg = await startPostgres({ ssl: spawnSync("openssl", ["version"]).status === 0 });
    silent = createServer((s) => {
      sockets.add(s);
      s.on("error", () => undefined);
    });
    await new Promise<void>((done) => silent.listen(0, "127.0.0.1", done));
    const addr = silent.address();
    env = {
      ...pg.env,
      GREENWASM_PG_SILENT_PORT: String(typeof addr === "object" && addr ? addr.port : 0),
      ...(pg.caFile ? { GREENWASM_PG_CAFILE: `${CA_GUEST}/${basename(pg.caFile)}` } : {}),
    };
    rt = await boot();
  });

  afterEach(() => {
    checkInvariants(rt, { continuations: false });
  });

  after(async () => {
    await rt?.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((done) => (silent ? silent.close(() => done()) : done()));
    await pg?.close();
  });

  function assertPassed(code: number, minTests: number): void {
    const text = out.text;
    const line = text.split("\n").find((l) => l.startsWith("SUMMARY "));
    assert.ok(line, `no SUMMARY line (exit ${code})\n${text}`);
    const summary = JSON.parse(line.slice("SUMMARY ".length)) as { run: number; failed: string[] };
    assert.deepEqual(summary.failed, [], text);
    assert.equal(code, 0, text);
    assert.ok(summary.run >= minTests, `only ${summary.run} tests ran\n${text}`);
  }

  async function runScript(module: string, minTests: number, runtime: Runtime = rt): Promise<void> {
    out.clear();
    assertPassed(await runtime.runModule(module), minTests);
  }

  it("types round-trip both ways", async () => runScript("test_types", 8));
  it("DB-API: auth, TLS through Node, parameters, cursors, transactions, errors, executemany", async () =>
    runScript("test_dbapi", 20));
  it("bad input fails promptly", async () => runScript("test_badinput", 6));
  it("SQLAlchemy ORM (sync)", async () => runScript("test_sa_orm", 10));

  it("SQLAlchemy asyncio: AsyncSession CRUD, streaming, and 50 AsyncSessions that overlap", async () => {
    const overlapping = await createRuntime({
      paths: [SITE, SCRIPTS],
      env: { ...env, GREENWASM_PG_EXPECT_OVERLAP: "1" },
      allowNet: ["127.0.0.1:*"],
      stdout: out.sink,
      stderr: out.sink,
    });
    try {
      await runScript("test_sa_async", 2, overlapping);
      checkInvariants(overlapping, { continuations: false });
    } finally {
      await overlapping.close();
    }
  });

  it("a connection outside the allowlist is an OperationalError naming the rule", async () => {
    out.clear();
    const code = await rt.runCode(`
import greenwasm.pg as pg, pgtest
try:
    pg.connect(**pgtest.conninfo(host="127.0.0.2", connect_timeout=5))
except pg.OperationalError as e:
    print("REFUSED", e)
`);
    assert.equal(code, 0, out.text);
    assert.match(out.text, /REFUSED connection to server at "127\.0\.0\.2".*failed/);
    assert.match(out.text, /allow-net|allowNet/, out.text);
  });

  it("fault: the server restarts mid-query, the error is prompt and the pool recovers", async () => {
    const stdin = new PushSource();
    const faulty = await boot(stdin);
    const restarts: number[] = [];
    let handled = 0;
    try {
      out.clear();
      const run = faulty.runModule("test_fault");
      for (const n of [1, 2]) {
        await Promise.race([out.waitFor(`FAULT-READY ${n}`, 60_000), run]);
        if (!out.text.includes(`FAULT-READY ${n}`)) break;
        const deadline = Date.now() + 15_000;
        for (;;) {
          const active = await pg.sql("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'");
          if (Number(active.trim()) > 0) break;
          assert.ok(Date.now() < deadline, "the in-flight query never showed up in pg_stat_activity");
          await new Promise((r) => setTimeout(r, 50));
        }
        await pg.restart();
        restarts.push(n);
        stdin.push("restarted\n");
        handled++;
      }
      assertPassed(await run, 2);
      assert.deepEqual(restarts, [1, 2]);
      checkInvariants(faulty, { continuations: false });
    } finally {
      stdin.end();
      await faulty.close();
    }
    assert.equal(handled, 2);
  });
});
