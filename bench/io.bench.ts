// io: blocking waits in greenwasm against their peers, same machine, same run.
//
//   run_sync(settled promise)   µs per `run_sync(p)` where p is a JsProxy of an already-resolved
//                               JS promise, a loop timed inside Python. ours: greenwasm.run_sync;
//                               peer: pyodide.ffi.run_sync in the same runtime, same run.
//   thread switch (Event)       µs per switch: two threads ping-pong through two threading.Events
//                               (set / wait / clear), round trips / 2. ours: green threads;
//                               peer: native CPython OS threads (Debian python3), same script.
//   Queue round trip            µs per put+get round trip between two threads through two
//                               queue.Queue objects. Same peers as above.
//   asyncio step                µs per `await asyncio.sleep(0)` inside `asyncio.run` (a loop of
//                               ASYNCIO_N steps timed inside Python). ours: a runtime's default
//                               loop (Pyodide's WebLoop); peer: native CPython's asyncio.
//   TCP echo round trip         see bench/io-net.ts (ours vs native python3 client and vs
//                               Pyodide's useNodeSockFS, same native echo server).

import { createRuntime } from '../src/python/index.ts';
import { tcpEchoRows } from './io-net.ts';
import { lastLineJSON, median, nativePythonJSON, nativePythonVersion, type Bench, type Row } from './lib.ts';

const RUN_SYNC = (fn: string, n: number) => `
import js, json, time
from ${fn === 'ours' ? 'greenwasm' : 'pyodide.ffi'} import run_sync
js.eval("globalThis.__settled = Promise.resolve(1)")
p = js.__settled
N = ${n}
for _ in range(N // 10): run_sync(p)
t0 = time.perf_counter()
for _ in range(N): run_sync(p)
print(json.dumps({"us": (time.perf_counter() - t0) / N * 1e6}))
`;

const PING_PONG = `
import json, queue, threading, time
N = 20000
a, b = threading.Event(), threading.Event()
def pong():
    for _ in range(N):
        a.wait(); a.clear(); b.set()
t = threading.Thread(target=pong); t.start()
t0 = time.perf_counter()
for _ in range(N):
    a.set(); b.wait(); b.clear()
event_us = (time.perf_counter() - t0) / N / 2 * 1e6
t.join()
q1, q2 = queue.Queue(), queue.Queue()
def echo():
    while (x := q1.get()) is not None:
        q2.put(x)
t = threading.Thread(target=echo); t.start()
t0 = time.perf_counter()
for i in range(N):
    q1.put(i); q2.get()
queue_us = (time.perf_counter() - t0) / N * 1e6
q1.put(None); t.join()
print(json.dumps({"event": event_us, "queue": queue_us}))
`;

const ASYNCIO_STEP = `
import asyncio, json, time
async def main():
    for _ in range(200): await asyncio.sleep(0)
    t0 = time.perf_counter()
    for _ in range(2000): await asyncio.sleep(0)
    return (time.perf_counter() - t0) / 2000 * 1e6
print(json.dumps({"us": asyncio.run(main())}))
`;

const bench: Bench = {
  name: 'io',
  description: 'run_sync of a settled promise vs pyodide.ffi.run_sync; thread switch and queue round trip: green threads vs native threads; asyncio step vs native; TCP echo round trip vs native and useNodeSockFS',
  async run(ctx) {
    let text = '';
    const sink = (b: Uint8Array) => void (text += new TextDecoder().decode(b));
    const rt = await createRuntime({ allowJs: true, stdout: sink, stderr: sink });
    const py = async (code: string): Promise<Record<string, number>> => {
      text = '';
      const exit = await rt.runCode(code);
      if (exit !== 0) throw new Error(`greenwasm run exited ${exit}: ${text}`);
      return lastLineJSON<Record<string, number>>(text);
    };
    const ours: Record<string, number[]> = { runSync: [], pyodideRunSync: [], event: [], queue: [], step: [] };
    const native: Record<string, number[]> = { event: [], queue: [], step: [] };
    for (let i = 0; i < ctx.warmup + ctx.runs; i++) {
      const o = (await py(RUN_SYNC('ours', 100_000)))['us']!;
      const p = (await py(RUN_SYNC('pyodide', 2_000)))['us']!;
      const pp = await py(PING_PONG);
      const n = nativePythonJSON<Record<string, number>>(PING_PONG);
      const step = (await py(ASYNCIO_STEP))['us']!;
      const nativeStep = nativePythonJSON<Record<string, number>>(ASYNCIO_STEP)['us']!;
      ctx.log(`  sample ${i}: run_sync ours ${o.toFixed(2)} µs, pyodide ${p.toFixed(1)} µs; event ours ${pp['event']!.toFixed(2)} native ${n['event']!.toFixed(2)} µs; queue ours ${pp['queue']!.toFixed(2)} native ${n['queue']!.toFixed(2)} µs`);
      if (i < ctx.warmup) continue;
      ours.runSync!.push(o);
      ours.pyodideRunSync!.push(p);
      ours.event!.push(pp['event']!);
      ours.queue!.push(pp['queue']!);
      native.event!.push(n['event']!);
      native.queue!.push(n['queue']!);
      ours.step!.push(step);
      native.step!.push(nativeStep);
    }
    await rt.close();
    const nativePeer = `CPython ${nativePythonVersion()} native OS threads`;
    const rows: Row[] = [
      { metric: 'run_sync of a settled JS promise', unit: 'µs', better: 'lower', ours: median(ours.runSync!), peer: 'pyodide.ffi.run_sync (same runtime)', peerValue: median(ours.pyodideRunSync!) },
      { metric: 'thread switch via threading.Event ping-pong', unit: 'µs', better: 'lower', ours: median(ours.event!), peer: nativePeer, peerValue: median(native.event!), note: 'ours: green threads (cooperative, one JSPI stack each)' },
      { metric: 'queue.Queue round trip between two threads', unit: 'µs', better: 'lower', ours: median(ours.queue!), peer: nativePeer, peerValue: median(native.queue!) },
      { metric: 'asyncio step: await asyncio.sleep(0) in asyncio.run', unit: 'µs', better: 'lower', ours: median(ours.step!), peer: `CPython ${nativePythonVersion()} native asyncio`, peerValue: median(native.step!), note: "ours: Pyodide's WebLoop, one JS callback per step (served ASGI apps use greenwasm's batched loop instead)" },
    ];
    rows.push(...(await tcpEchoRows(ctx)));
    return rows;
  },
};

export default bench;
