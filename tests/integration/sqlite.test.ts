/**
 * The embedded default database (issue 5): SQLAlchemy 1.4 on SQLite in a
 * writable host mount, sync and asyncio (aiosqlite's connection thread is a
 * green thread), persisted on the host and intact in a fresh runtime.
 */
import assert from "node:assert/strict";
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { createRuntime } from "../../src/python/index.ts";
import { checkInvariants, settleThreads } from "../../src/python/testing.ts";
import { Capture, tempDir } from "./support.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");
const SITE = join(ROOT, ".cache", "site-packages");
const SCRIPTS = join(ROOT, "tests", "python", "sqlite");

async function runScript(data: string, mode: "write" | "read"): Promise<Record<string, unknown>> {
  const out = new Capture();
  const err = new Capture();
  const rt = await createRuntime({
    paths: [SITE, SCRIPTS],
    mounts: [{ host: data, guest: "/data", writable: true }],
    stdout: out.sink,
    stderr: err.sink,
  });
  try {
    const status = await rt.runModule("orm_roundtrip", [mode, "/data/app.db"]);
    assert.equal(status, 0, `${err.text}\n${out.text}`);
    await settleThreads(rt);
    checkInvariants(rt);
    const line = out.text.split("\n").find((l) => l.startsWith("RESULT "));
    assert.ok(line, out.text);
    return JSON.parse(line.slice(7)) as Record<string, unknown>;
  } finally {
    await rt.close();
  }
}

describe("SQLAlchemy on embedded SQLite (writable mount)", { timeout: 180_000 }, () => {
  let data: { dir: string; remove: () => void };
  before(() => {
    data = tempDir("sqlite");
  });
  after(() => data?.remove());

  it("runs the ORM sync and async, and the file persists into a fresh runtime", async () => {
    const w = await runScript(data.dir, "write");
    assert.deepEqual(w["books"], { Italo: ["Invisible Cities"], Ursula: ["A Wizard of Earthsea", "The Lathe of Heaven"] });
    assert.equal(w["types_equal"], true);
    assert.equal(w["nulls"], true);
    assert.equal(w["after_rollback"], 3);
    assert.equal(w["integrity"], "IntegrityError");
    assert.deepEqual(w["async_books"], ["Invisible Cities", ...Array.from({ length: 10 }, (_, i) => `async ${i}`)].sort());
    assert.equal(w["async_integrity"], true);
    const file = join(data.dir, "app.db");
    assert.ok(existsSync(file) && statSync(file).size > 0, "the database file is on the host");
    const r = await runScript(data.dir, "read");
    assert.deepEqual(r, { books: 13, types_equal: true });
  });
});
