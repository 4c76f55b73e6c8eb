/** src/python/calls.ts: direct calls into guest Python for hosts such as src/server. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { callThread, createRuntime, GuestCallError, importGuest, type Runtime } from "../../src/python/index.ts";
import { checkInvariants } from "../../src/python/testing.ts";

describe("importGuest / callThread", { timeout: 120_000 }, () => {
  let rt: Runtime;
  const stderr: string[] = [];
  before(async () => {
    rt = await createRuntime({ stderr: (b) => void stderr.push(Buffer.from(b).toString("utf8")) });
  });
  after(async () => {
    await rt?.close();
  });

  it("runs blocking calls concurrently, each on its own stack", async () => {
    const mod = importGuest(rt, "time");
    const sleep = mod.sleep;
    const t0 = performance.now();
    await Promise.all([0.3, 0.3, 0.3, 0.3].map((s) => callThread(rt, sleep, [s])));
    const elapsed = performance.now() - t0;
    sleep.destroy();
    mod.destroy();
    assert.ok(elapsed >= 290 && elapsed < 900, `four 0.3 s sleeps took ${elapsed.toFixed(0)} ms`);
  });

  it("rejects with GuestCallError and prints the traceback when the call raises", async () => {
    const builtins = importGuest(rt, "builtins");
    const int = builtins.int;
    await assert.rejects(callThread(rt, int, ["not a number"]), GuestCallError);
    int.destroy();
    builtins.destroy();
    assert.match(stderr.join(""), /ValueError: invalid literal for int\(\) with base 10: 'not a number'/);
  });

  it("leaves the runtime balanced", () => {
    checkInvariants(rt, { continuations: false });
  });
});
