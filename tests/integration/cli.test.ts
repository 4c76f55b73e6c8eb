/** End-to-end tests of `bin/greenwasm.js`, spawned with this Node (26) and the system Node. */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { tempDir } from "./support.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(ROOT, "bin", "greenwasm.js");

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcessWithoutNullStreams>();

/** Spawn the CLI; a child still running after 60 s is killed so a hang fails the test instead of the run. */
function start(args: string[]): ChildProcessWithoutNullStreams {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: "pipe" });
  children.add(child);
  const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  child.on("close", () => {
    clearTimeout(killer);
    children.delete(child);
  });
  return child;
}

function finish(child: ChildProcessWithoutNullStreams, input?: string): Promise<Result> {
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  if (input !== undefined) child.stdin.end(input);
  return new Promise((resolve) => child.on("close", (status) => resolve({ status, stdout, stderr })));
}

function cli(args: string[], input?: string): Promise<Result> {
  return finish(start(args), input ?? "");
}

/** Resolves with everything printed so far once stdout contains `needle`. */
function stdoutReaches(child: ChildProcessWithoutNullStreams, needle: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = "";
    child.stdout.on("data", (d: Buffer) => {
      seen += d.toString("utf8");
      if (seen.includes(needle)) resolve(seen);
    });
    child.on("close", () => reject(new Error(`exited before printing ${JSON.stringify(needle)}; stdout: ${JSON.stringify(seen)}`)));
  });
}

describe("greenwasm CLI", { concurrency: 2, timeout: 240_000 }, () => {
  const tmp = tempDir("cli");
  const lib = join(tmp.dir, "lib");

  before(() => {
    mkdirSync(join(lib, "clipkg"), { recursive: true });
    writeFileSync(join(lib, "clipkg", "__init__.py"), "");
    writeFileSync(join(lib, "clipkg", "__main__.py"), "import sys\nprint('clipkg main', sys.argv[1:])\n");
    writeFileSync(join(tmp.dir, "args.py"), "import sys, neighbour\nprint(sys.argv, neighbour.X)\n");
    writeFileSync(join(tmp.dir, "neighbour.py"), "X = 'neighbour imported'\n");
    writeFileSync(join(tmp.dir, "touch.py"), "open(__file__ + '.new', 'w')\n");
  });
  after(() => {
    for (const child of children) child.kill("SIGKILL");
    tmp.remove();
  });

  it("runs examples/hello.py (npm start) with exit 0", async () => {
    const r = await cli(["run", "examples/hello.py"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Hello from Python 3\.14\.2 on emscripten\nfib\(90\) = 2880067194370816120\n$/);
  });

  it("runs Node with --no-wasm-deopt (same process), or with V8's defaults under GREENWASM_V8_DEFAULTS=1", () => {
    const code = "import js; print(list(js.process.execArgv), js.process.ppid)";
    const run = (env: NodeJS.ProcessEnv) => {
      const r = spawnSync(process.execPath, [BIN, "run", "--allow-js", "-c", code], { cwd: ROOT, env, encoding: "utf8", timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.trim();
    };
    const { GREENWASM_V8_DEFAULTS: _, ...env } = process.env;
    // execve keeps the pid: Python's process is still the direct child of this test.
    assert.equal(run(env), `['--no-wasm-deopt'] ${process.pid}`);
    assert.equal(run({ ...env, GREENWASM_V8_DEFAULTS: "1" }), `[] ${process.pid}`);
  });

  it("runs a script like python: sys.argv, its directory importable, read-only", async () => {
    const r = await cli(["run", join(tmp.dir, "args.py"), "a", "--b"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "['/app/args.py', 'a', '--b'] neighbour imported\n");
    const w = await cli(["run", join(tmp.dir, "touch.py")]);
    assert.equal(w.status, 1);
    assert.match(w.stderr, /OSError: \[Errno \d+\] Read-only file system/);
    assert.equal(existsSync(join(tmp.dir, "touch.py.new")), false);
  });

  it("maps exit statuses: 0, uncaught exception 1, SystemExit(3) 3", async () => {
    const [ok, boom, exit3] = await Promise.all([
      cli(["run", "-c", "print('ok')"]),
      cli(["run", "-c", "1/0"]),
      cli(["run", "-c", "import sys; print(sys.argv); raise SystemExit(3)", "x", "y"]),
    ]);
    assert.deepEqual([ok.status, ok.stdout], [0, "ok\n"]);
    assert.equal(boom.status, 1);
    assert.match(boom.stderr, /Traceback \(most recent call last\):\n  File "<string>", line 1, in <module>\n[^]*ZeroDivisionError: division by zero\n$/);
    assert.deepEqual([exit3.status, exit3.stdout], [3, "['-c', 'x', 'y']\n"]);
  });

  it("runs -m MODULE found through --path", async () => {
    const r = await cli(["run", "--path", lib, "-m", "clipkg", "one", "two"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "clipkg main ['one', 'two']\n");
  });

  it("passes --env, --mount and --cwd to Python", async () => {
    const r = await cli(["run", "--env", "GW_X=1", "--mount", `${tmp.dir}:/work:rw`, "--cwd", "/work", "-c",
      "import os; print(os.environ['GW_X'], os.getcwd(), sorted(os.listdir('.'))[:2]); open('made.txt', 'w').write('x')"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "1 /work ['args.py', 'lib']\n");
    assert.equal(existsSync(join(tmp.dir, "made.txt")), true);
  });

  it("pipes stdin to input() and sys.stdin.read()", async () => {
    const r = await cli(["run", "-c", "import sys; print('first:', input()); print('rest:', repr(sys.stdin.read()))"], "alpha\nbeta\ngamma");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "first: alpha\nrest: 'beta\\ngamma'\n");
  });

  it("streams stdout while the program is still blocked on stdin", async () => {
    const child = start(["run", "-c", "print('first line'); import sys; line = sys.stdin.readline(); print('echo', line.strip())"]);
    const result = finish(child);
    const seen = await stdoutReaches(child, "first line\n");
    assert.equal(seen, "first line\n");
    assert.equal(child.exitCode, null, "the process must still be running");
    child.stdin.end("ping\n");
    const r = await result;
    assert.equal(r.status, 0, r.stderr);
  });

  it("turns SIGINT into KeyboardInterrupt in a CPU-bound loop: exit 130", async () => {
    const child = start(["run", "-c", "print('looping', flush=True)\nwhile True: pass"]);
    const result = finish(child);
    await stdoutReaches(child, "looping");
    child.kill("SIGINT");
    const r = await result;
    assert.equal(r.status, 130);
    assert.match(r.stderr, /KeyboardInterrupt\n$/);
  });

  it("lets Python catch the KeyboardInterrupt from SIGINT and choose its exit status", async () => {
    const child = start(["run", "-c", "import time\ntry:\n    print('sleeping', flush=True)\n    time.sleep(60)\nexcept KeyboardInterrupt:\n    print('caught')\n    raise SystemExit(4)"]);
    const result = finish(child);
    await stdoutReaches(child, "sleeping");
    child.kill("SIGINT");
    const r = await result;
    assert.equal(r.status, 4, r.stderr);
    assert.match(r.stdout, /caught\n$/);
  });

  it("prints versions and help", async () => {
    const [v, h] = await Promise.all([cli(["--version"]), cli(["--help"])]);
    assert.deepEqual([v.status, v.stdout], [0, "greenwasm 0.1.0\nPyodide 314.0.7\nPython 3.14.2\n"]);
    assert.equal(h.status, 0);
    assert.match(h.stdout, /greenwasm run \[options\] -m MODULE/);
  });

  it("exits 2 with a message on usage errors, without booting Python", async () => {
    const cases: [string[], RegExp][] = [
      [["run"], /missing script/],
      [["run", "--bogus", "x.py"], /unknown option --bogus/],
      [["run", "does-not-exist.py"], /can't open file "does-not-exist\.py"/],
      [["run", "--mount", "a:b:c:d", "-c", "pass"], /--mount: expected HOST\[:GUEST\]\[:rw\]/],
      [["run", "--env", "NOVALUE", "-c", "pass"], /--env: expected KEY=VALUE/],
      [["frobnicate"], /unknown command "frobnicate"/],
      [[], /usage:/],
    ];
    for (const [args, message] of cases) {
      const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: "utf8", timeout: 20_000 });
      assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });

  it("exits 2 when a --path or --mount directory does not exist", async () => {
    const r = await cli(["run", "--path", join(tmp.dir, "nope"), "-c", "pass"]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /does not exist/);
  });

  it("refuses to start on a Node.js without JSPI", { skip: !existsSync("/usr/bin/node") && "no system node" }, () => {
    const probe = spawnSync("/usr/bin/node", ["-p", "process.version + ' ' + typeof WebAssembly.Suspending"], { encoding: "utf8" });
    const [version, suspending] = probe.stdout.trim().split(" ");
    assert.equal(suspending, "undefined", `system node ${version} has JSPI; this test needs one without (e.g. Node 20)`);
    const r = spawnSync("/usr/bin/node", [BIN, "run", "-c", "pass"], { cwd: ROOT, encoding: "utf8", timeout: 20_000 });
    assert.equal(r.status, 2);
    assert.equal(
      r.stderr,
      `greenwasm: this Node.js (${version}) lacks JavaScript Promise Integration (JSPI). Use Node.js 25 or newer, or Node.js 24 with --experimental-wasm-jspi.\n`,
    );
  });
});
