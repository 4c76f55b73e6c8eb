/**
 * Green threads and blocking waits (issue 4): `threading` and friends run as
 * cooperative stacks that yield at blocking points, `time.sleep` suspends only
 * its own stack, and `greenwasm.run_sync` waits for JS promises, coroutines
 * and futures. Python bodies print one `RESULT <json>` line that the test
 * parses; every test ends with the runtime's invariants checked.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { createRuntime, type Runtime } from "../../src/python/index.ts";
import { checkInvariants, recordBaseline, settleThreads } from "../../src/python/testing.ts";
import { startEchoServer, type Peer } from "./net-peers.ts";
import { Capture } from "./support.ts";

const SITE = join(resolve(import.meta.dirname, "..", ".."), ".cache", "site-packages");

const PRELUDE = `
import json, threading, time, queue, asyncio
def report(**kw):
    print("RESULT " + json.dumps(kw))
`;

describe("green threads", { timeout: 180_000 }, () => {
  const out = new Capture();
  const err = new Capture();
  let rt: Runtime;
  let echo: Peer;

  async function run(code: string): Promise<Record<string, unknown>> {
    out.clear();
    err.clear();
    const status = await rt.runCode(PRELUDE + code);
    assert.equal(status, 0, `python failed:\n${err.text}\n${out.text}`);
    const line = out.text.split("\n").find((l) => l.startsWith("RESULT "));
    assert.ok(line, `no RESULT line in:\n${out.text}\n${err.text}`);
    return JSON.parse(line.slice(7)) as Record<string, unknown>;
  }

  before(async () => {
    echo = await startEchoServer();
    rt = await createRuntime({ paths: [SITE], allowJs: true, allowNet: [`127.0.0.1:${echo.port}`], stdout: out.sink, stderr: err.sink });
    assert.equal(await rt.runCode(PRELUDE + "import concurrent.futures, anyio"), 0, err.text);
    recordBaseline(rt);
  });
  afterEach(async () => {
    await settleThreads(rt);
    checkInvariants(rt);
  });
  after(async () => {
    await rt?.close();
    echo?.stop();
  });

  it("two threads sleeping 1 s each finish together, in about 1 s", async () => {
    const r = await run(`
t0 = time.monotonic()
ts = [threading.Thread(target=time.sleep, args=(1,)) for _ in range(2)]
for t in ts: t.start()
for t in ts: t.join()
report(elapsed=time.monotonic() - t0)
`);
    const elapsed = r["elapsed"] as number;
    assert.ok(elapsed >= 0.99 && elapsed < 1.6, `elapsed ${elapsed} s`);
  });

  it("gives each thread its own ident, name, thread-local data and empty context", async () => {
    const r = await run(`
import contextvars
var = contextvars.ContextVar("v", default="unset")
var.set("main")
local = threading.local()
local.x = "main"
seen = {}
def body(i):
    seen[i] = (threading.get_ident(), threading.current_thread().name, hasattr(local, "x"), var.get())
    local.x = i
    time.sleep(0.01)
    seen[i] += (local.x,)
ts = [threading.Thread(target=body, args=(i,), name=f"w{i}") for i in range(3)]
for t in ts: t.start()
for t in ts: t.join()
report(seen=[seen[i] for i in range(3)], main=(threading.get_ident(), threading.current_thread() is threading.main_thread(), local.x),
       alive=[t.is_alive() for t in ts], count=threading.active_count())
`);
    const seen = r["seen"] as [number, string, boolean, string, number][];
    const mainIdent = (r["main"] as [number, boolean, string])[0];
    assert.deepEqual(seen.map((s) => s.slice(1)), [["w0", false, "unset", 0], ["w1", false, "unset", 1], ["w2", false, "unset", 2]]);
    assert.equal(new Set([mainIdent, ...seen.map((s) => s[0])]).size, 4);
    assert.deepEqual(r["main"], [mainIdent, true, "main"]);
    assert.deepEqual(r["alive"], [false, false, false]);
    assert.equal(r["count"], 1);
  });

  it("blocks and hands over Lock, RLock, Condition, Semaphore, Event, Barrier and queue.Queue", async () => {
    const r = await run(`
log = []
lock = threading.Lock()
def holder():
    with lock:
        log.append("holder in")
        time.sleep(0.05)
        log.append("holder out")
def waiter():
    time.sleep(0.01)
    with lock:
        log.append("waiter in")
a, b = threading.Thread(target=holder), threading.Thread(target=waiter)
a.start(); b.start(); a.join(); b.join()

rlock = threading.RLock()
with rlock:
    with rlock:
        reentrant = True
timed = lock.acquire(timeout=0.01) and (lock.acquire(timeout=0.02) is False)
lock.release()

cond = threading.Condition()
items = []
def consumer():
    with cond:
        cond.wait_for(lambda: len(items) == 3, timeout=5)
        items.append("seen")
c = threading.Thread(target=consumer); c.start()
for i in range(3):
    time.sleep(0.005)
    with cond:
        items.append(i); cond.notify()
c.join()

sem = threading.BoundedSemaphore(2)
active = [0, 0]
def limited():
    with sem:
        active[0] += 1; active[1] = max(active[1], active[0])
        time.sleep(0.01)
        active[0] -= 1
ts = [threading.Thread(target=limited) for _ in range(6)]
for t in ts: t.start()
for t in ts: t.join()

ev = threading.Event()
threading.Timer(0.02, ev.set).start()
event = (ev.wait(0.001), ev.wait(5))

barrier = threading.Barrier(3)
order = []
def at_barrier(i):
    time.sleep(0.01 * i)
    order.append(("before", i)); barrier.wait(); order.append(("after", i))
ts = [threading.Thread(target=at_barrier, args=(i,)) for i in range(3)]
for t in ts: t.start()
for t in ts: t.join()

q = queue.Queue(maxsize=2)
got = []
def producer():
    for i in range(10): q.put(i)
    q.put(None)
p = threading.Thread(target=producer); p.start()
while (x := q.get()) is not None:
    got.append(x)
p.join()
try:
    queue.Queue().get(timeout=0.01)
    empty = False
except queue.Empty:
    empty = True
report(log=log, reentrant=reentrant, timed=timed, items=items, max_active=active[1], event=event,
       barrier=[k for k, _ in order], got=got, empty=empty)
`);
    assert.deepEqual(r["log"], ["holder in", "holder out", "waiter in"]);
    assert.equal(r["reentrant"], true);
    assert.equal(r["timed"], true);
    assert.deepEqual(r["items"], [0, 1, 2, "seen"]);
    assert.equal(r["max_active"], 2);
    assert.deepEqual(r["event"], [false, true]);
    assert.deepEqual(r["barrier"], ["before", "before", "before", "after", "after", "after"]);
    assert.deepEqual(r["got"], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(r["empty"], true);
  });

  it("runs ThreadPoolExecutor, asyncio.to_thread, run_in_executor and anyio.to_thread on threads", async () => {
    const r = await run(`
from concurrent.futures import ThreadPoolExecutor
import anyio.to_thread
def work(x):
    time.sleep(0.2)
    return x * x, threading.current_thread() is not threading.main_thread()
t0 = time.monotonic()
with ThreadPoolExecutor(max_workers=8) as ex:
    pool = list(ex.map(work, range(8)))
pool_elapsed = time.monotonic() - t0
async def main():
    t0 = time.monotonic()
    res = await asyncio.gather(*(asyncio.to_thread(work, i) for i in range(4)))
    gathered = time.monotonic() - t0
    loop = asyncio.get_running_loop()
    ex = await loop.run_in_executor(None, work, 7)
    an = await anyio.to_thread.run_sync(work, 9)
    return res, gathered, ex, an
res, gathered, ex, an = asyncio.run(main())
report(pool=pool, pool_elapsed=pool_elapsed, to_thread=res, gathered=gathered, executor=ex, anyio=an)
`);
    assert.deepEqual(r["pool"], [0, 1, 4, 9, 16, 25, 36, 49].map((v) => [v, true]));
    assert.ok((r["pool_elapsed"] as number) < 1.0, `8 sleeps of 0.2 s on 8 workers took ${r["pool_elapsed"]} s`);
    assert.deepEqual(r["to_thread"], [[0, true], [1, true], [4, true], [9, true]]);
    assert.ok((r["gathered"] as number) < 0.6, `4 to_thread sleeps took ${r["gathered"]} s`);
    assert.deepEqual(r["executor"], [49, true]);
    assert.deepEqual(r["anyio"], [81, true]);
  });

  it("runs ThreadPoolExecutor.map over blocking sockets concurrently", async () => {
    const r = await run(`
import socket
from concurrent.futures import ThreadPoolExecutor
def ask(i):
    with socket.create_connection(("127.0.0.1", ${echo.port}), timeout=5) as c:
        c.sendall(b"SLOW %d" % i)   # the echo server answers SLOW after 200 ms
        data = b""
        while len(data) < len(b"SLOW %d" % i):
            data += c.recv(64)
        return data.decode(), threading.current_thread().name
t0 = time.monotonic()
with ThreadPoolExecutor(max_workers=10) as ex:
    answers = list(ex.map(ask, range(10)))
report(answers=[a for a, _ in answers], workers=len({n for _, n in answers}), elapsed=time.monotonic() - t0)
`);
    assert.deepEqual(r["answers"], Array.from({ length: 10 }, (_, i) => `SLOW ${i}`));
    assert.ok((r["workers"] as number) > 1);
    assert.ok((r["elapsed"] as number) < 1.5, `10 round trips of 200 ms on 10 threads took ${r["elapsed"]} s`);
  });

  it("reports a thread's exception through threading.excepthook and keeps going", async () => {
    const r = await run(`
caught = []
threading.excepthook = lambda args: caught.append((args.exc_type.__name__, str(args.exc_value), args.thread.name))
def bad(): raise ValueError("boom")
t = threading.Thread(target=bad, name="bad"); t.start(); t.join()
threading.excepthook = threading.__excepthook__
report(caught=caught, alive=t.is_alive())
`);
    assert.deepEqual(r["caught"], [["ValueError", "boom", "bad"]]);
    assert.equal(r["alive"], false);
  });

  it("waits for non-daemon threads at the end of a run, like the interpreter at exit", async () => {
    out.clear();
    const status = await rt.runCode(`
import threading, time
def late():
    time.sleep(0.1)
    print("late thread done")
threading.Thread(target=late).start()
print("main done")
`);
    assert.equal(status, 0, err.text);
    assert.equal(out.text, "main done\nlate thread done\n");
  });

  it("honours threading.stack_size and survives deep C recursion in a thread", async () => {
    const r = await run(`
import json as j
old = threading.stack_size(1024 * 1024)
depth = []
def deep():
    v = []
    for _ in range(300): v = [v]
    depth.append(len(j.dumps(v)))
t = threading.Thread(target=deep); t.start(); t.join()
threading.stack_size(old)
try:
    threading.stack_size(1000)
    small = "accepted"
except ValueError:
    small = "ValueError"
report(depth=depth, small=small)
`);
    assert.deepEqual(r["depth"], [602]);
    assert.equal(r["small"], "ValueError");
  });

  it("raises a clear RuntimeError where a stack cannot block (Python called synchronously from JS)", async () => {
    const r = await run(`
import js
from pyodide.ffi import create_proxy
lock = threading.Lock(); lock.acquire()
def try_block(*_):
    try:
        lock.acquire()
        return "acquired"
    except RuntimeError as e:
        return str(e)
proxy = create_proxy(try_block)
msg = js.Reflect.apply(proxy, None, js.Array.new())
proxy.destroy()
lock.release()
report(msg=msg)
`);
    assert.match(r["msg"] as string, /cannot block here: this Python code was called synchronously from JavaScript/);
  });

  it("interrupts a main-thread wait with KeyboardInterrupt", async () => {
    err.clear();
    const running = rt.runCode(`
import threading
lock = threading.Lock(); lock.acquire(); print("waiting", flush=True); lock.acquire()
`);
    await out.waitFor("waiting");
    rt.interrupt();
    assert.equal(await running, 130);
    assert.match(err.text, /KeyboardInterrupt/);
  });
});

describe("greenwasm.run_sync", { timeout: 120_000 }, () => {
  const out = new Capture();
  const err = new Capture();
  let rt: Runtime;

  before(async () => {
    rt = await createRuntime({ allowJs: true, stdout: out.sink, stderr: err.sink });
    recordBaseline(rt);
  });
  afterEach(async () => {
    await settleThreads(rt);
    checkInvariants(rt);
  });
  after(async () => {
    await rt?.close();
  });

  it("waits for JS promises, coroutines and futures, from the main thread and from threads", async () => {
    out.clear();
    err.clear();
    const status = await rt.runCode(`
import asyncio, json, threading, js
from greenwasm import run_sync
from pyodide.ffi import JsException
js.eval("globalThis.later = (v, ms) => new Promise(r => setTimeout(() => r(v), ms)); globalThis.settled = Promise.resolve('ready')")
async def coro(x):
    await asyncio.sleep(0.01)
    return x + 1
async def failing():
    await asyncio.sleep(0)
    raise KeyError("from coroutine")
out = {"settled": run_sync(js.settled), "timer": run_sync(js.later(5, 10)), "coro": run_sync(coro(1))}
fut = asyncio.get_event_loop().create_future()
asyncio.get_event_loop().call_later(0.01, fut.set_result, "future")
out["future"] = run_sync(fut)
try:
    run_sync(failing())
except KeyError as e:
    out["coro_error"] = str(e)
try:
    run_sync(js.Promise.reject(js.Error.new("rejected")))
except JsException as e:
    out["js_error"] = str(e)
try:
    run_sync(42)
except TypeError as e:
    out["type_error"] = "TypeError"
res = []
ts = [threading.Thread(target=lambda i=i: res.append(run_sync(js.later(i, 20 - i)))) for i in range(3)]
for t in ts: t.start()
for t in ts: t.join()
out["threads"] = sorted(res)
print("RESULT " + json.dumps(out))
`);
    assert.equal(status, 0, err.text);
    const r = JSON.parse(out.text.split("\n").find((l) => l.startsWith("RESULT "))!.slice(7)) as Record<string, unknown>;
    assert.deepEqual(r, {
      settled: "ready", timer: 5, coro: 2, future: "future", coro_error: "'from coroutine'",
      js_error: "Error: rejected", type_error: "TypeError", threads: [0, 1, 2],
    });
  });
});

describe("green threads when the runtime closes", { timeout: 120_000 }, () => {
  it("stops daemon threads that poll with timeouts when the runtime closes, so the host process can exit", () => {
    // A separate process: the assertion is that it exits by itself once the runtime is closed.
    const script = `
import { createRuntime } from ${JSON.stringify(resolve("src/python/index.ts"))};
const rt = await createRuntime({});
const status = await rt.runCode(\`
import queue, threading, time
q = queue.Queue()
def poll():
    while True:
        try: q.get(timeout=0.05)
        except queue.Empty: pass
def nap():
    while True: time.sleep(0.02)
threading.Thread(target=poll, daemon=True).start()
threading.Thread(target=nap, daemon=True).start()
time.sleep(0.2)
print("ran", threading.active_count())
\`);
await rt.close();
console.log("closed", status);
`;
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 60_000 });
    assert.equal(child.signal, null, `the process did not exit after close (killed by ${child.signal}); stderr:\n${child.stderr}`);
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout, "ran 3\nclosed 0\n");
  });
});
