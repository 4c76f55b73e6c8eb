/** End-to-end tests of `greenwasm serve`, spawned as a process. */
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import { request } from "../server/support.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(ROOT, "bin", "greenwasm.js");
const APPS = join(ROOT, "tests", "server", "apps");
const SITE = join(ROOT, ".cache", "site-packages");

interface Proc {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

const children = new Set<ChildProcessWithoutNullStreams>();

function start(args: string[]): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: "pipe" });
  children.add(child);
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  const killer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  const exit = new Promise<number | null>((resolve) =>
    child.on("close", (code) => {
      clearTimeout(killer);
      children.delete(child);
      resolve(code);
    }),
  );
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** The URL the server prints once it listens. */
async function served(p: Proc): Promise<string> {
  for (let i = 0; i < 1200; i++) {
    const m = /serving (http:\/\/\S+)/.exec(p.stderr());
    if (m) return m[1]!;
    if (p.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`server did not start; stderr:\n${p.stderr()}`);
}

describe("greenwasm serve", { concurrency: 2, timeout: 300_000 }, () => {
  after(() => {
    for (const c of children) c.kill("SIGKILL");
  });

  it("prints its help", async () => {
    const p = start(["serve", "--help"]);
    assert.equal(await p.exit, 0);
    assert.match(p.stdout(), /usage: greenwasm serve \[options\] module:attribute/);
    assert.match(p.stdout(), /--workers N/);
  });

  it("exits 2 on usage errors and 1 when the app cannot be imported", async () => {
    const usage = start(["serve", "--port", "nope", "a:b"]);
    assert.equal(await usage.exit, 2);
    assert.match(usage.stderr(), /--port: expected an integer/);
    const load = start(["serve", "import_error:app", "--app-dir", APPS, "--port", "0"]);
    assert.equal(await load.exit, 1);
    assert.match(load.stderr(), /cannot load app "import_error:app": ModuleNotFoundError/);
  });

  it("serves, logs access lines, and drains in-flight requests on SIGTERM", async () => {
    const p = start(["serve", "asgi_app:app", "--app-dir", APPS, "--path", SITE, "--port", "0", "--workers", "2"]);
    const url = await served(p);
    assert.match(p.stderr(), /booting 2 workers/);
    const first = await request(`${url}/status/200`);
    assert.equal(first.status, 200);
    const load = Array.from({ length: 40 }, (_, i) => request(`${url}/sleep?s=0.7&id=${i}`));
    await new Promise((r) => setTimeout(r, 200));
    p.child.kill("SIGTERM");
    const replies = await Promise.all(load);
    for (const [i, r] of replies.entries()) {
      assert.equal(r.status, 200);
      assert.equal((JSON.parse(r.text) as { id: string }).id, String(i));
    }
    assert.equal(await p.exit, 0);
    assert.match(p.stderr(), /SIGTERM: shutting down[\s\S]*stopped/);
    assert.match(p.stdout(), /"GET \/status\/200 HTTP\/1\.1" 200/);
    await assert.rejects(request(`${url}/status/200`), /ECONNREFUSED/);
  });
});
