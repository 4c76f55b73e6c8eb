/**
 * greenlet's own test suite (Debian python3-greenlet 2.0.2's greenlet/tests,
 * fetched by `npm run setup`) against greenwasm's greenlet.
 *
 * The tests are copied into the installed package as `greenlet.tests` (they
 * use relative imports and `greenlet._greenlet`), objgraph comes from
 * .cache/site-packages, and tests/python/run_unittest_suite.py runs them with
 * greenlet's leak checker on. Skips: tests/integration/greenlet-skips.json
 * (tests that need OS threads, greenlet's C test extensions / C API, or assert
 * CPython-version-specific details), each with its reason. test_leaks imports
 * psutil, which has no wasm build: tests/python/shims/psutil.py provides the
 * one call it makes (process USS), answered with the wasm memory size.
 *
 * A watchdog thread interrupts (SIGINT → KeyboardInterrupt) a test that
 * writes nothing for WATCHDOG_MS; the runner turns that into a failure of
 * that test and goes on, so a hang names the hanging test.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { Worker } from "node:worker_threads";
import { createRuntime, type Runtime } from "../../src/python/index.ts";
import { checkInvariants } from "../../src/python/testing.ts";
import { runtimeState } from "../../src/python/runtime.ts";
import { liveContinuations } from "../../src/engine/index.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");
const TESTS_DIR = join(ROOT, ".cache", "greenlet-tests", "greenlet", "tests");
const SITE = join(ROOT, ".cache", "site-packages");
const PY_HELPERS = join(ROOT, "tests", "python");
const SHIMS = join(PY_HELPERS, "shims");
const SKIPS = JSON.parse(readFileSync(join(import.meta.dirname, "greenlet-skips.json"), "utf8")) as Record<string, string>;
/** The full unittest output of the last run (gitignored; GREENLET_SUITE_LOG overrides the path). */
const LOG = process.env.GREENLET_SUITE_LOG ?? join(ROOT, ".cache", "greenlet-suite.log");
/** Debugging aid: GREENLET_SUITE_ONLY=id-prefix[,id-prefix] runs just those tests. */
const ONLY = process.env.GREENLET_SUITE_ONLY ? JSON.stringify(process.env.GREENLET_SUITE_ONLY.split(",")) : "None";
/** A test that writes nothing for this long is interrupted. */
const WATCHDOG_MS = 60_000;

/** Interrupts Python (SIGINT) when `progress` stops moving for `ms`. Runs on its own thread. */
function startWatchdog(progress: Int32Array, interrupt: Int32Array, ms: number): Worker {
  const w = new Worker(
    `const { workerData: { progress, interrupt, ms } } = require("node:worker_threads");
     let last = Atomics.load(progress, 0);
     for (;;) {
       if (Atomics.wait(progress, 0, last, ms) === "timed-out") {
         Atomics.store(interrupt, 0, 2);
         Atomics.notify(interrupt, 0);
         Atomics.wait(progress, 0, last);
       }
       last = Atomics.load(progress, 0);
       if (last < 0) break;
     }`,
    { eval: true, workerData: { progress, interrupt, ms } },
  );
  w.unref();
  return w;
}

describe("greenlet's own test suite (greenlet 2.0.2, Debian)", { timeout: 600_000 }, () => {
  const progress = new Int32Array(new SharedArrayBuffer(4));
  const interruptBuffer = new Int32Array(new SharedArrayBuffer(4));
  const chunks: Uint8Array[] = [];
  const sink = (bytes: Uint8Array): void => {
    chunks.push(bytes);
    Atomics.add(progress, 0, 1);
    Atomics.notify(progress, 0);
    if (process.env.GREENLET_SUITE_VERBOSE) process.stdout.write(bytes);
  };
  let rt: Runtime;
  let watchdog: Worker;

  before(async () => {
    assert.ok(existsSync(join(TESTS_DIR, "test_greenlet.py")), `${TESTS_DIR} missing: run \`npm run setup\``);
    assert.ok(existsSync(join(SITE, "objgraph.py")), `${SITE}/objgraph.py missing: run \`npm run setup\``);
    rt = await createRuntime({
      paths: [SITE, PY_HELPERS, SHIMS],
      mounts: [{ host: TESTS_DIR, guest: "/greenlet-tests" }],
      // The psutil shim reads the wasm memory size through pyodide_js.
      allowJs: true,
      interruptBuffer,
      stdout: sink,
      stderr: sink,
    });
    watchdog = startWatchdog(progress, interruptBuffer, WATCHDOG_MS);
  });

  after(async () => {
    Atomics.store(progress, 0, -1);
    Atomics.notify(progress, 0);
    await watchdog?.terminate();
    await rt?.close();
  });

  it("passes every test that is not in greenlet-skips.json", async (t) => {
    const code = `
import json, os, shutil, sys
import greenlet
dst = os.path.join(os.path.dirname(greenlet.__file__), "tests")
shutil.rmtree(dst, ignore_errors=True)
shutil.copytree("/greenlet-tests", dst)
from run_unittest_suite import run_suite
passed, failed, skipped = run_suite("greenlet.tests", json.loads(${JSON.stringify(JSON.stringify(SKIPS))}), verbosity=2, slowest=8, only=${ONLY})
`;
    const t0 = performance.now();
    const exit = await rt.runCode(code);
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    const text = Buffer.concat(chunks).toString("utf8");
    writeFileSync(LOG, text);
    const counts = /^greenlet\.tests: (\d+) passed, (\d+) failed, (\d+) skipped$/m.exec(text);
    const failures = text.split("\n").filter((l) => l.startsWith("FAILED-TEST "));
    const unused = text.split("\n").filter((l) => l.startsWith("UNUSED-SKIP "));
    const line = counts ? `${counts[0]} (${secs} s; full log: ${LOG})` : `no counts line (${secs} s; log: ${LOG})`;
    t.diagnostic(line);
    console.log(line);
    for (const f of failures) {
      t.diagnostic(f);
      console.log(f);
    }
    assert.equal(exit, 0, `the suite runner exited ${exit}:\n${text.slice(-4000)}`);
    assert.ok(counts, `no counts line in the output:\n${text.slice(-4000)}`);
    assert.deepEqual(unused, [], "skip-list keys that match no test");
    assert.equal(Number(counts[2]), 0, `${counts[2]} tests failed:\n${failures.join("\n")}`);
    assert.ok(Number(counts[1]) > 0);
  });

  it("leaves the C stack balanced and reports what greenlets the suite left behind", async (t) => {
    // Several of greenlet's tests leak on purpose (@fails_leakcheck: suspended
    // greenlets in reference cycles, which native greenlet cannot collect
    // either), so greenlet/continuation counts are reported, not asserted.
    assert.equal(await rt.runCode("import gc; gc.collect()"), 0);
    const line = `after the suite and a gc.collect(): greenlets.stats() ${JSON.stringify(runtimeState(rt).greenlets.stats())}, liveContinuations() ${liveContinuations()}, abandoned ${runtimeState(rt).greenlets.abandoned}`;
    t.diagnostic(line);
    console.log(line);
    checkInvariants(rt, { greenlets: false, continuations: false });
  });
});
