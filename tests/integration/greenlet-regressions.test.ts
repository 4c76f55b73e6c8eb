/**
 * Minimal reproductions of greenlet bugs found by the suite, SQLAlchemy and
 * stress tests. Each one states what native greenlet (Debian python3 3.11 +
 * greenlet 2.0.2, or upstream greenlet 3.x where noted) does; they fail until
 * fixed, then guard against regressions.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { liveContinuations } from "../../src/engine/index.ts";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createRuntime, importGuest, type PyProxy, type Runtime } from "../../src/python/index.ts";
import { runtimeState } from "../../src/python/runtime.ts";
import { checkInvariants } from "../../src/python/testing.ts";
import { Capture, tempDir } from "./support.ts";

/** Run `code`; it must exit 0. Returns the last stdout line. */
async function last(rt: Runtime, out: Capture, err: Capture, code: string): Promise<string> {
  out.clear();
  err.clear();
  const exit = await rt.runCode(code);
  assert.equal(exit, 0, `exit ${exit}\nstdout:\n${out.text}\nstderr:\n${err.text}`);
  return out.text.trim().split("\n").at(-1) ?? "";
}

describe("greenlet regressions (default greenletStackSize)", { timeout: 120_000 }, () => {
  const out = new Capture();
  const err = new Capture();
  let rt: Runtime;

  before(async () => {
    rt = await createRuntime({ stdout: out.sink, stderr: err.sink });
  });

  after(async () => {
    await rt?.close();
  });

  it("kills a greenlet again when it is freed again after resurrecting itself during its kill", { todo: "known limitation: kills run from __del__, which CPython calls once per object (PEP 442); needs a tp_del hook" }, async () => {
    // greenlet's test_parent_restored_on_kill leaks its frames without this.
    // Native: the second dealloc throws GreenletExit again, so `finally` runs.
    // Ours: __del__ runs once per object (PEP 442), so the second kill never happens.
    const line = await last(rt, out, err, `
import gc, greenlet
main = greenlet.getcurrent()
hub = greenlet.greenlet(lambda: None)
keep, finished = [], []
def worker():
    try:
        main.switch()
    except greenlet.GreenletExit:
        keep.append(greenlet.getcurrent())   # resurrect
        try:
            hub.switch()
        finally:
            finished.append(True)
g = greenlet.greenlet(worker, parent=hub)
g.switch()
del g            # first kill: worker resurrects itself, parks in hub.switch()
assert keep
del keep[:]      # freed again: killed again
gc.collect()
print(finished)
`);
    assert.equal(line, "[True]");
  });

  it("collecting a cycle through a suspended greenlet kills it without a 'no live stack' error", async () => {
    // greenlet's test_gc.test_finalizer_crash printed this as "Exception ignored":
    // gc clears the _started weakref (its callback made the host forget the
    // greenlet) before it calls __del__, whose kill then found no stack. Now
    // the host forgets it after the collection. greenlet's docs: a collected
    // suspended greenlet gets GreenletExit, so its finally block runs.
    await last(rt, out, err, `
import gc, greenlet
parent = greenlet.getcurrent()
def body():
    try:
        parent.switch()
    finally:
        print("finally ran")
g = greenlet.greenlet(body)
g.cycle = [g]
g.switch()
del g
gc.collect()
print("done")
`);
    assert.doesNotMatch(err.text, /no live stack|Exception ignored/, err.text);
    assert.match(out.text, /finally ran\ndone/);
  });

  it("sys.setprofile called inside a greenlet applies to the whole thread", async () => {
    // Native greenlet: all greenlets of a thread share one PyThreadState, so a
    // profiler set in a greenlet still sees main's calls after switching back.
    // Here each greenlet has its own tstate; the profile and trace functions
    // move to the resumed greenlet's on every switch (greenlet's test_tracing
    // *_sets_profiler and, through profilers left set on parked tstates,
    // test_trace_events_trivial).
    const line = await last(rt, out, err, `
import sys, greenlet
events = []
def prof(frame, event, arg):
    events.append((event, frame.f_code.co_name))
def marker():
    pass
greenlet.greenlet(lambda: sys.setprofile(prof)).switch()
marker()
sys.setprofile(None)
print(("call", "marker") in events)
`);
    assert.equal(line, "True");
  });

  it("sys.settrace called inside a greenlet applies to the whole thread, and removing it there removes it everywhere", async () => {
    // Native greenlet: one PyThreadState per thread, so the trace function is
    // the thread's. Here it moves with every switch to the resumed greenlet.
    const line = await last(rt, out, err, `
import sys, greenlet
calls = []
def tracer(frame, event, arg):
    if event == "call":
        calls.append(frame.f_code.co_name)
def m1(): pass
def m2(): pass
def m3(): pass
main = greenlet.getcurrent()
def body():
    sys.settrace(tracer)
    main.switch()
    m2()
    sys.settrace(None)
    main.switch()
g = greenlet.greenlet(body)
g.switch()
m1()           # traced: set in g
g.switch()     # g traces m2, then removes the tracer
m3()           # not traced
g.switch()
print([n for n in calls if n in ("m1", "m2", "m3")], sys.gettrace())
`);
    assert.equal(line, "['m1', 'm2'] None");
  });

  it("threading.setprofile_all_threads reaches greenlets that another green thread starts afterwards", async () => {
    const line = await last(rt, out, err, `
import threading, greenlet
events = set()
def prof(frame, event, arg):
    if event == "call":
        events.add(frame.f_code.co_name)
ready, go = threading.Event(), threading.Event()
def marker_in_greenlet(): pass
def marker_main(): pass
def worker():
    ready.set()
    go.wait()
    # Started after the profiler was set on every existing thread state.
    greenlet.greenlet(marker_in_greenlet).switch()
t = threading.Thread(target=worker)
t.start()
ready.wait()
threading.setprofile_all_threads(prof)
marker_main()
go.set()
t.join()
threading.setprofile_all_threads(None)
print(sorted(events & {"marker_in_greenlet", "marker_main"}))
`);
    assert.equal(line, "['marker_in_greenlet', 'marker_main']");
  });

  it("sys.setprofile sees no frames of greenlet's own implementation", async () => {
    // greenlet's test_trace_events_into_greenlet_*_already_set expects only
    // the user's frames. greenwasm's start path and slow switch path
    // (_switch_slow, _switch_to, _on_finish, _kill_pending) are Python; they
    // run with the thread state's tracing counter raised, as native greenlet
    // runs its C code.
    const line = await last(rt, out, err, `
import sys, greenlet
events = []
def prof(frame, event, arg):
    events.append(frame.f_code.co_filename)
g = greenlet.greenlet(lambda: 1)
sys.setprofile(prof)
g.switch()
sys.setprofile(None)
print(sorted({f for f in events if "greenlet" in f}))
`);
    assert.equal(line, "[]");
  });

  it("formats repr like greenlet", async () => {
    // greenlet's TestRepr: ' pending>', ' current active started main>',
    // ' suspended active started main>'.
    const line = await last(rt, out, err, `
import greenlet
main = greenlet.getcurrent()
print([repr(greenlet.greenlet()).endswith(" pending>"),
       repr(main).endswith(" current active started main>"),
       greenlet.greenlet(lambda: repr(main)).switch().endswith(" suspended active started main>")])
`);
    assert.equal(line, "[True, True, True]");
  });

  it("refuses a non-greenlet parent with greenlet's message", async () => {
    // greenlet's test_set_parent_wrong_types (2.0.2 and 3.x).
    const line = await last(rt, out, err, `
import greenlet
g = greenlet.greenlet()
try:
    g.parent = None
except TypeError as e:
    print(e)
`);
    assert.equal(line, "GreenletChecker: Expected any type of greenlet, not NoneType");
  });

  it("leaks no continuation when asyncio tasks switch greenlets", async () => {
    // Each asyncio step that touches greenlets is adopted as a main instance;
    // the host forgets it when Pyodide's promising task ends.
    const code = `
import asyncio, greenlet
async def task():
    g = greenlet.greenlet(lambda: greenlet.getcurrent().parent.switch(1))
    v = g.switch()
    await asyncio.sleep(0)
    g.switch()
    return v
async def main():
    return await asyncio.gather(task(), task())
print(asyncio.run(main()))
`;
    await last(rt, out, err, code);
    const before = liveContinuations();
    for (let i = 0; i < 3; i++) assert.equal(await last(rt, out, err, code), "[1, 1]");
    assert.equal(liveContinuations() - before, 0, "continuations left by 3 runs");
  });

  it("forgets the main instance of every Pyodide task that ran greenlet code, once the tasks end", async () => {
    // Promising calls from JS (as the server's event-loop pumps are) that switch
    // greenlets and block are adopted as main instances of thread 0. A task's
    // thread state is freed when it ends, and freed memory still looked alive
    // when nothing reused it: 4-5 of 20 such instances stayed until a later task
    // reused the memory (under load: leaked for good once traffic stopped).
    const tmp = tempDir("main-instances");
    writeFileSync(join(tmp.dir, "touch_tasks.py"), `
import greenlet, time
def step(i):
    g = greenlet.greenlet(lambda: greenlet.getcurrent().parent.switch(i))
    v = g.switch()
    time.sleep(0.001 * (i % 5))
    g.switch()
    return v
`);
    const fresh = await createRuntime({ paths: [tmp.dir] });
    try {
      const host = runtimeState(fresh).greenlets;
      const before = host.stats();
      const step = importGuest(fresh, "touch_tasks").step as PyProxy;
      for (let round = 0; round < 3; round++) {
        const got = await Promise.all(Array.from({ length: 20 }, (_, i) => step.callPromising(i) as Promise<number>));
        assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => i));
        assert.deepEqual(host.stats(), before, `round ${round}: main instances left by ended tasks`);
      }
      step.destroy();
    } finally {
      await fresh.close();
      tmp.remove();
    }
  });

  it("a new greenlet given the driver's gr_context sees it, with two asyncio tasks interleaving", async () => {
    // SQLAlchemy's greenlet_spawn sets `gr_context = driver.gr_context` on a new
    // greenlet. This failed for the second task (its greenlet started with an
    // empty context) whenever a Pyodide task step returned instead of
    // suspending: the host's cache of the running stack went stale and named
    // the first task's stack. It showed under some string hash seeds (4
    // always, 0 never), so both are run. Native greenlet 2.0.2, any seed:
    // [['a','a','set'], ['b','b','set']].
    const code = `
import asyncio, contextvars, greenlet
var = contextvars.ContextVar("var", default="unset")
class Spawned(greenlet.greenlet):          # SQLAlchemy's _AsyncIoGreenlet
    def __init__(self, fn, driver):
        greenlet.greenlet.__init__(self, fn, driver)
        self.driver = driver
        self.gr_context = driver.gr_context
async def read():
    await asyncio.sleep(0)
    return var.get()
def sync_fn():
    seen = [var.get(), greenlet.getcurrent().driver.switch(read())]
    var.set("set")
    return seen
async def spawn(fn):                        # SQLAlchemy's greenlet_spawn
    g = Spawned(fn, greenlet.getcurrent())
    result = g.switch()
    while not g.dead:
        result = g.switch(await result)
    return result
async def task(tag):
    var.set(tag)
    return await spawn(sync_fn) + [var.get()]
async def main():
    return await asyncio.gather(task("a"), task("b"))
print(asyncio.run(main()))
`;
    const seen = new Set<string>();
    for (const seed of ["4", "0"]) {
      const o = new Capture();
      const e = new Capture();
      const fresh = await createRuntime({ env: { PYTHONHASHSEED: seed }, stdout: o.sink, stderr: e.sink });
      try {
        seen.add(await last(fresh, o, e, code));
      } finally {
        await fresh.close();
      }
    }
    assert.deepEqual([...seen], ["[['a', 'a', 'set'], ['b', 'b', 'set']]"]);
  });

  it("a greenlet started in a green thread shares that thread's threading.local data, not the main thread's", async () => {
    // Native: greenlets of a thread share its thread state. Here a greenlet
    // copied the dict and thread-local key of whatever thread state was
    // current when the engine started it (the event loop's: the main thread's).
    const line = await last(rt, out, err, `
import threading, greenlet
loc = threading.local()
loc.v = "main"
seen = []
def worker():
    loc.v = "thread"
    seen.append(greenlet.greenlet(lambda: getattr(loc, "v", None)).switch())
    g = greenlet.greenlet(lambda: setattr(loc, "w", "set in greenlet"))
    g.switch()
    seen.append(getattr(loc, "w", None))
t = threading.Thread(target=worker)
t.start()
t.join()
seen.append(greenlet.greenlet(lambda: getattr(loc, "v", None)).switch())
print(seen)
`);
    assert.equal(line, "['thread', 'set in greenlet', 'main']");
  });

  it("a greenlet freed from another thread is killed in its own thread, not discarded", async () => {
    // greenlet's per-thread kill queue (issues 251/252): a greenlet freed from
    // another thread is killed (GreenletExit, finally blocks run) when its own
    // thread next runs greenlet code or, at the latest, as it ends.
    const line = await last(rt, out, err, `
import gc, threading, greenlet
events = []
handed = []
ready, go = threading.Event(), threading.Event()
def body(name):
    try:
        greenlet.getcurrent().parent.switch()
    except greenlet.GreenletExit:
        events.append(name + " killed in " + threading.current_thread().name)
        raise
def worker():
    kept = greenlet.greenlet(body)
    kept.switch("kept")
    g = greenlet.greenlet(body)
    g.switch("handed")
    handed.append(g)
    del g
    ready.set()
    go.wait()
    events.append("worker ends")
t = threading.Thread(target=worker, name="T")
t.start()
ready.wait()
del handed[:]      # freed in the main thread: queued for T
gc.collect()
events.append("freed in main")
go.set()
t.join()
print(events)
`);
    const events = JSON.parse(line.replaceAll("'", '"')) as string[];
    assert.deepEqual([...events].sort(), ["freed in main", "handed killed in T", "kept killed in T", "worker ends"], line);
    // The queued kill runs once T runs again (here: as its wait resumes, at the latest as it ends).
    assert.ok(events.indexOf("handed killed in T") > events.indexOf("freed in main"), line);
    assert.ok(events.indexOf("kept killed in T") > events.indexOf("worker ends"), line);
  });

  it("getcurrent() runs its thread's queued kills, and a finalizer they trigger may block", async () => {
    // greenlet's getcurrent() clears its thread's "deleteme" list (greenlet's
    // test_threaded_updatecurrent). Here T frees main's suspended greenlet; main's
    // next getcurrent() kills it, and the finalizer of its attribute blocks on a
    // lock that T releases. Before: the kill waited for main's end, where main
    // waited for T, which waited for the finalizer: the run never settled.
    const line = await last(rt, out, err, `
import threading, greenlet
events = []
lock1 = threading.Lock(); lock1.acquire()
lock2 = threading.Lock(); lock2.acquire()
class Bomb:
    def __del__(self):
        events.append("finalizer")
        lock2.release()
        lock1.acquire(timeout=5)   # blocks until T runs again
        events.append("finalizer resumed")
def parked():
    greenlet.getcurrent().parent.switch()
def other():
    lock2.acquire()
    del g[0]                   # main's greenlet, freed here: queued for main
    events.append("freed in T")
    lock1.release()
    lock2.acquire(timeout=5)   # (timeouts: a regression fails in seconds instead of deadlocking)
    events.append("T after finalizer")
    lock1.release()
main = greenlet.getcurrent()
g = [greenlet.greenlet(parked)]
g[0].bomb = Bomb()
g[0].switch()
t = threading.Thread(target=other)
t.start()
lock2.release()
lock1.acquire()
events.append("main: current is main" if greenlet.getcurrent() is main else "main: wrong current")
t.join(10)
print(events)
`);
    assert.equal(line, "['freed in T', 'finalizer', 'T after finalizer', 'finalizer resumed', 'main: current is main']");
  });

  it("releases greenlets that a finished run left suspended", { todo: "known gap: greenlets a finished thread left suspended keep their stacks and frames while referenced (here from the run's __main__, in cycles through their own frames); like greenlet, they are not raised into (greenlet's test_untracked_memory_doesnt_increase_unfinished_thread_dealloc_in_main), and greenwasm cannot free a suspended stack's frames without running it" }, async () => {
    // A run's thread is gone when it returns: its suspended greenlets can never
    // run again. Here they stay alive in a cycle through their own frames
    // (globals of the run's __main__), invisible to the gc. Native greenlet
    // makes greenlets of a dead thread collectable.
    const base = runtimeState(rt).greenlets.stats().greenlets;
    const live = liveContinuations();
    await last(rt, out, err, `
import greenlet
main = greenlet.getcurrent()
def f():
    main.switch()
keep = [greenlet.greenlet(f) for _ in range(10)]
for g in keep:
    g.switch()
`);
    await last(rt, out, err, "import gc; gc.collect()");
    assert.equal(runtimeState(rt).greenlets.stats().greenlets - base, 0, "greenlets still registered");
    assert.equal(liveContinuations() - live, 0, "continuations still live");
    checkInvariants(rt, { greenlets: false, continuations: false });
  });
});

describe("greenlet regressions (greenletStackSize 32768, the documented minimum)", { timeout: 120_000 }, () => {
  const out = new Capture();
  const err = new Capture();
  let rt: Runtime;

  before(async () => {
    rt = await createRuntime({ greenletStackSize: 32768, stdout: out.sink, stderr: err.sink });
  });

  after(async () => {
    await rt?.close();
  });

  it("frees objects promptly inside a greenlet, and frees the greenlet after it finishes", { todo: "known limitation: below ~48 KiB greenletStackSize CPython's C-stack protection margins leave no room, so the trashcan defers container frees inside the greenlet" }, async () => {
    // With 32 KiB stacks CPython's stack protection leaves no room: the
    // trashcan defers every container deallocation inside the greenlet (to a
    // tstate list that is never processed), so each greenlet leaks itself
    // and whatever it touched. 49152 works. (eval('['*50+']'*50) also fails
    // with "Parser stack overflowed" at 32768.)
    const line = await last(rt, out, err, `
import gc, weakref, greenlet
class Obj: pass
def run():
    o = Obj()
    r = weakref.ref(o)
    t = [o]
    del o, t
    return r() is None
g = greenlet.greenlet(run)
freed_inside = g.switch()
gr = weakref.ref(g)
del g
gc.collect()
print([freed_inside, gr() is None])
`);
    assert.equal(line, "[True, True]");
  });
});

describe("greenlet regressions (linear memory above 2 GiB)", { timeout: 120_000 }, () => {
  it("starts greenlets whose thread state lies above 2 GiB", async () => {
    // 2,300 suspended greenlets with 1 MiB stacks push the heap past 2**31:
    // the host then reads a negative pointer ("TypeError: Cannot convert
    // undefined to a BigInt at GreenletHost.readId") and Python gets
    // "SystemError: error return without exception set". wasm32 addresses are
    // unsigned; JS sees i32 results of exports as signed.
    const out = new Capture();
    const err = new Capture();
    const rt = await createRuntime({ greenletStackSize: 1 << 20, stdout: out.sink, stderr: err.sink });
    try {
      const line = await last(rt, out, err, `
import greenlet
main = greenlet.getcurrent()
gs = []
for i in range(2300):
    g = greenlet.greenlet(lambda: main.switch() or 1)
    g.switch()
    gs.append(g)
print(len(gs), all(g.switch() == 1 for g in gs))
# Freed greenlets above 2 GiB: their id() does not fit a wasm32 C long.
gs.clear()
`);
      assert.equal(line, "2300 True");
      assert.doesNotMatch(err.text, /SystemError|Exception ignored|OverflowError/, err.text);
    } finally {
      await rt.close();
    }
  });
});
