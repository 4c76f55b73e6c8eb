/**
 * greenwasm.pg (src/python/py/greenwasm/pg) under native CPython (Debian's
 * /usr/bin/python3) against a throwaway PostgreSQL: the Python test scripts
 * in tests/python/pg/; pg-wasm.test.ts runs the same scripts inside greenwasm.
 *
 * SQLAlchemy is the Debian 1.4 copy in .cache/site-packages (pure Python);
 * greenlet for the asyncio scripts is Debian's python3-greenlet. Only the
 * `greenwasm` package is put on the path (through a symlink), not
 * src/python/py itself, whose `greenlet` is greenwasm's wasm-only one.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { startPostgres, type PostgresServer } from "../support/postgres.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");
const SITE = join(ROOT, ".cache", "site-packages");
const SCRIPTS = join(ROOT, "tests", "python", "pg");
const PYTHON = "/usr/bin/python3";

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  summary: { run: number; failed: string[]; skipped: string[] } | undefined;
}

/** A TCP server that accepts connections and never answers (connect_timeout tests). */
function silentServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => undefined);
  });
  return new Promise((resolvePort) => {
    server.listen(0, "127.0.0.1", () => {
      const addr = server.address();
      resolvePort({
        port: typeof addr === "object" && addr ? addr.port : 0,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

describe("greenwasm.pg under native CPython against PostgreSQL", { timeout: 300_000 }, () => {
  let pg: PostgresServer;
  let silent: { port: number; close: () => Promise<void> };
  let pkgDir: string;

  before(async () => {
    assert.ok(existsSync(PYTHON), `${PYTHON} missing: run \`npm run setup\``);
    assert.ok(existsSync(join(SITE, "sqlalchemy")), `${SITE}/sqlalchemy missing: run \`npm run setup\``);
    pkgDir = mkdtempSync(join(tmpdir(), "greenwasm-pgpkg-"));
    symlinkSync(join(ROOT, "src", "python", "py", "greenwasm"), join(pkgDir, "greenwasm"));
    const ssl = spawnSync("openssl", ["version"]).status === 0;
    pg = await startPostgres({ ssl });
    silent = await silentServer();
  });

  after(async () => {
    await pg?.close();
    await silent?.close();
    if (pkgDir) rmSync(pkgDir, { recursive: true, force: true });
  });

  /**
   * Run tests/python/pg/<script> natively. `onLine` sees every stdout line as it arrives and
   * may write to the script's stdin.
   */
  function runScript(script: string, onLine?: (line: string, stdin: NodeJS.WritableStream) => void): Promise<RunResult> {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env["PATH"],
      HOME: process.env["HOME"],
      LANG: "C.UTF-8",
      PYTHONPATH: [pkgDir, SCRIPTS, SITE].join(":"),
      PYTHONDONTWRITEBYTECODE: "1",
      PYTHONUNBUFFERED: "1",
      GREENWASM_PG_SILENT_PORT: String(silent.port),
      ...pg.env,
    };
    const child = spawn(PYTHON, [join(SCRIPTS, script)], { env, cwd: SCRIPTS, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let partial = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      partial += chunk;
      const lines = partial.split("\n");
      partial = lines.pop()!;
      for (const line of lines) onLine?.(line, child.stdin);
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    return new Promise((done) => {
      child.on("close", (code) => {
        const line = stdout.split("\n").find((l) => l.startsWith("SUMMARY "));
        done({ code, stdout, stderr, summary: line ? JSON.parse(line.slice("SUMMARY ".length)) : undefined });
      });
    });
  }

  function assertPassed(r: RunResult, minTests: number): void {
    const output = `\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
    assert.ok(r.summary, `no SUMMARY line (exit ${r.code})${output}`);
    assert.deepEqual(r.summary.failed, [], `failed tests${output}`);
    assert.equal(r.code, 0, `exit ${r.code}${output}`);
    assert.ok(r.summary.run >= minTests, `only ${r.summary.run} tests ran${output}`);
  }

  it("DB-API: auth (SCRAM, md5, cleartext), TLS, parameters, cursors, transactions, errors, executemany", async () => {
    assertPassed(await runScript("test_dbapi.py"), 20);
  });

  it("types round-trip both ways, NULLs and arrays included", async () => {
    assertPassed(await runScript("test_types.py"), 8);
  });

  it("SQLAlchemy ORM (sync): CRUD, selectinload, savepoints, IntegrityError, every type, pooling", async () => {
    assertPassed(await runScript("test_sa_orm.py"), 10);
  });

  it("SQLAlchemy asyncio: AsyncSession CRUD and 50 sessions (serialized natively)", async () => {
    assertPassed(await runScript("test_sa_async.py"), 2);
  });

  it("bad input: malformed URL, unknown option, refused port, unknown host, silent server", async () => {
    assertPassed(await runScript("test_badinput.py"), 6);
  });

  it("fault: the server restarts mid-query, the error is prompt and the pool recovers", async () => {
    const restarts: number[] = [];
    let chain = Promise.resolve();
    const r = await runScript("test_fault.py", (line, stdin) => {
      const m = /FAULT-READY (\d+)$/.exec(line);
      if (!m) return;
      chain = chain.then(async () => {
        // Restart only once the long query is really running on the server.
        const deadline = Date.now() + 15_000;
        for (;;) {
          const n = await pg.sql("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'");
          if (Number(n.trim()) > 0) break;
          assert.ok(Date.now() < deadline, "the in-flight query never showed up in pg_stat_activity");
          await new Promise((res) => setTimeout(res, 50));
        }
        await pg.restart();
        restarts.push(Number(m[1]));
        stdin.write("restarted\n");
      });
    });
    await chain;
    assertPassed(r, 2);
    assert.deepEqual(restarts, r.summary!.skipped.length ? [1] : [1, 2]);
  });
});
