/**
 * greenwasm.pg inside Wasm: the tests/python/pg scripts in Pyodide 314 with Pyodide's own Node
 * socket layer (`useNodeSockFS`), against a throwaway PostgreSQL.
 *
 * A STAND-IN until greenwasm's runtime has sockets (`allowNet`, branch `net`): it boots plain
 * Pyodide, not createRuntime, so it has no greenwasm greenlet (the asyncio scripts are left to
 * the runtime version) and no asynchronous stdin (the restart fault script, too). When
 * `allowNet` is on main, boot with createRuntime({ allowNet, paths: [SITE, SCRIPTS], env }) and
 * run every script, adding test_sa_async.py with GREENWASM_PG_EXPECT_OVERLAP=1 and
 * test_fault.py fed through `stdin`, and checkInvariants() after each.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, it } from "node:test";
import { startPostgres, type PostgresServer } from "../support/postgres.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");
const SITE = join(ROOT, ".cache", "site-packages");
const SCRIPTS = join(ROOT, "tests", "python", "pg");
const PY_SOURCES = join(ROOT, "src", "python", "py");

interface Pyodide {
  runPythonAsync(code: string): Promise<unknown>;
  mountNodeFS(guest: string, host: string): void;
  useNodeSockFS(): Promise<void>;
  setStdout(opts: { write: (b: Uint8Array) => number }): void;
  setStderr(opts: { write: (b: Uint8Array) => number }): void;
}

describe("greenwasm.pg in Pyodide over Node sockets (stand-in for greenwasm allowNet)", { timeout: 300_000 }, () => {
  let pg: PostgresServer;
  let py: Pyodide;
  let output = "";
  let silent: Server;
  const sockets = new Set<Socket>();

  before(async () => {
    assert.ok(existsSync(join(SITE, "sqlalchemy")), `${SITE}/sqlalchemy missing: run \`npm run setup\``);
    pg = await startPostgres();
    silent = createServer((s) => {
      sockets.add(s);
      s.on("error", () => undefined);
    });
    await new Promise<void>((done) => silent.listen(0, "127.0.0.1", done));
    const addr = silent.address();
    const silentPort = typeof addr === "object" && addr ? addr.port : 0;
    const { loadPyodide } = (await import(pathToFileURL(join(ROOT, "node_modules", "pyodide", "pyodide.mjs")).href)) as {
      loadPyodide(opts: { env: Record<string, string> }): Promise<Pyodide>;
    };
    py = await loadPyodide({ env: { HOME: "/home/pyodide", ...pg.env, GREENWASM_PG_SILENT_PORT: String(silentPort) } });
    const sink = { write: (b: Uint8Array) => ((output += Buffer.from(b).toString("utf8")), b.length) };
    py.setStdout(sink);
    py.setStderr(sink);
    await py.useNodeSockFS();
    py.mountNodeFS("/opt/pgtest/py", PY_SOURCES);
    py.mountNodeFS("/opt/pgtest/tests", SCRIPTS);
    py.mountNodeFS("/opt/pgtest/site", SITE);
    await py.runPythonAsync('import sys; sys.path[:0] = ["/opt/pgtest/py", "/opt/pgtest/tests", "/opt/pgtest/site"]');
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((done) => (silent ? silent.close(() => done()) : done()));
    await pg?.close();
  });

  async function runScript(script: string, minTests: number): Promise<void> {
    output = "";
    const code = await py.runPythonAsync(`
import runpy, sys
sys.argv = [${JSON.stringify(script)}]
try:
    runpy.run_path(${JSON.stringify(`/opt/pgtest/tests/${script}`)}, run_name="__main__")
    code = 0
except SystemExit as e:
    code = e.code
code
`);
    const line = output.split("\n").find((l) => l.startsWith("SUMMARY "));
    assert.ok(line, `no SUMMARY line (exit ${String(code)})\n${output}`);
    const summary = JSON.parse(line.slice("SUMMARY ".length)) as { run: number; failed: string[] };
    assert.deepEqual(summary.failed, [], output);
    assert.equal(code, 0, output);
    assert.ok(summary.run >= minTests, `only ${summary.run} tests ran\n${output}`);
  }

  it("types round-trip", async () => runScript("test_types.py", 8));
  it("DB-API (TLS is refused clearly; no threads for cancel)", async () => runScript("test_dbapi.py", 20));
  it("bad input fails promptly", async () => runScript("test_badinput.py", 6));
  it("SQLAlchemy ORM (sync)", async () => runScript("test_sa_orm.py", 10));
});
