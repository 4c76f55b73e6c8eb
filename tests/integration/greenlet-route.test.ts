/**
 * The two switch routes (src/python/greenlet/route.ts): the common switch
 * between two region stacks of one thread is made in wasm, everything else
 * goes through JS, and both leave the same state behind. Counts come from
 * the host's `routes` counters; after each test the invariants are checked
 * (C stack pointer balanced, nothing leaked, control blocks included).
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { createRuntime, type Runtime } from "../../src/python/index.ts";
import { runtimeState } from "../../src/python/runtime.ts";
import { checkInvariants, recordBaseline } from "../../src/python/testing.ts";
import { Capture } from "./support.ts";

describe("greenlet switch routes", { timeout: 120_000 }, () => {
  const out = new Capture();
  const err = new Capture();
  let rt: Runtime;

  before(async () => {
    rt = await createRuntime({ stdout: out.sink, stderr: err.sink });
    recordBaseline(rt);
  });
  after(async () => {
    await rt?.close();
  });
  afterEach(() => {
    checkInvariants(rt);
  });

  /** Run `code` (exit 0); the last stdout line and the switches each route made meanwhile. */
  async function run(code: string): Promise<{ line: string; wasm: number; js: number }> {
    const routes = runtimeState(rt).greenlets.routes;
    const [w0, j0] = [routes.wasm, routes.js];
    out.clear();
    err.clear();
    const exit = await rt.runCode(code);
    assert.equal(exit, 0, `exit ${exit}\nstdout:\n${out.text}\nstderr:\n${err.text}`);
    return { line: out.text.trim().split("\n").at(-1) ?? "", wasm: routes.wasm - w0, js: routes.js - j0 };
  }

  it("a ping-pong between main and a greenlet switches in wasm, values and () packed as greenlet packs them", async () => {
    const r = await run(`
import greenlet
main = greenlet.getcurrent()
def body(x):
    got = [x]
    while True:
        v = main.switch(x * 2 if isinstance(x, int) else x)
        got.append(v)
        if v == "stop": return got
        x = v
g = greenlet.greenlet(body)
seen = [g.switch(1)]
for i in range(2, 102): seen.append(g.switch(i))
seen.append(g.switch())
seen.append(g.switch(None))
res = g.switch("stop")
print(seen[:3], seen[-3:], len(res), res[-3:], g.dead)
`);
    assert.equal(r.line, "[2, 4, 6] [202, (), None] 104 [(), None, 'stop'] True");
    // 101 round trips after the start, each two wasm hand-offs; the start, the
    // end may use either route, but not many more.
    assert.ok(r.wasm >= 200, `wasm route used: ${JSON.stringify(r)}`);
    assert.ok(r.js <= 4, `JS route only for the start and the end: ${JSON.stringify(r)}`);
  });

  it("takes the JS route for several arguments, keywords, a profile function, a tracer and throw, with greenlet's results", async () => {
    const r = await run(`
import sys, greenlet
main = greenlet.getcurrent()
def body(*a, **k):
    got = [(a, k)]
    while True:
        v = main.switch(len(got))
        got.append(v)
        if v == "stop": return got
g = greenlet.greenlet(body)
g.switch(1, 2, x=3)
g.switch(4, 5)
g.switch(y=6)
sys.setprofile(lambda f, e, a: None)
g.switch("p")
sys.setprofile(None)
greenlet.settrace(lambda e, a: None)
g.switch("t")
greenlet.settrace(None)
class Boom(Exception): pass
def thrower():
    try:
        main.switch("ready")
    except Boom:
        return "caught"
t = greenlet.greenlet(thrower)
t.switch()
print(g.switch("stop"), t.throw(Boom))
`);
    assert.equal(r.line, "[((1, 2), {'x': 3}), (4, 5), {'y': 6}, 'p', 't', 'stop'] caught");
    // Each of those switches and the switch back from it (the greenlet's
    // main.switch runs under the same tracer or profile function) is a JS one.
    assert.ok(r.js >= 8, `JS route: ${JSON.stringify(r)}`);
  });

  it("each green thread's greenlets see their own thread's running asyncio loop, on either route", async () => {
    // Two green threads with different running loops switch greenlets at the
    // same time, so their switches interleave on the event loop. Native greenlet:
    // a greenlet runs on its thread's state and sees that thread's loop.
    const r = await run(`
import asyncio.events as ev, threading, greenlet
bad = []
class Loop: pass
def worker(name, keywords):
    loop = Loop()
    ev._set_running_loop(loop)
    main = greenlet.getcurrent()
    def body(**kw):
        for i in range(100):
            if ev._get_running_loop() is not loop:
                bad.append((name, i))
            if keywords: main.switch(k=i)
            else: main.switch(i)
    g = greenlet.greenlet(body)
    for i in range(100):
        if keywords: g.switch(k=i)
        else: g.switch()
    ev._set_running_loop(None)
for keywords in (True, False):
    ts = [threading.Thread(target=worker, args=(n, keywords)) for n in "ab"]
    for t in ts: t.start()
    for t in ts: t.join()
print("mismatches", len(bad), bad[:3])
`);
    assert.equal(r.line, "mismatches 0 []");
    // 2 x 200 switches with keywords (JS), 2 x ~199 without (wasm unless the
    // object table evicted an entry, which only sends switches to JS).
    assert.ok(r.js >= 400 && r.wasm >= 200, `both routes exercised: ${JSON.stringify(r)}`);
  });

  it("a greenlet parked by the wasm route holds no host reference: freed while parked, it is killed and its finally runs", async () => {
    const r = await run(`
import greenlet
main = greenlet.getcurrent()
log = []
def body():
    try:
        main.switch("parked")
    finally:
        log.append("finally")
# Only this call's stack holds the greenlet besides the host: once it parked
# (wasm route) and the call returned, nothing does.
first = greenlet.greenlet(body).switch()
greenlet.getcurrent()   # runs the thread's queued kills
print(first, log)
`);
    assert.equal(r.line, "parked ['finally']");
    assert.ok(r.wasm >= 1, `the park went through wasm: ${JSON.stringify(r)}`);
  });
});
