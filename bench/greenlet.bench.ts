// greenlet: greenwasm's greenlet against native CPython + greenlet (Debian python3-greenlet).
//
//   round trip main→g→main   µs per `g.switch(x)` that g answers with `main.switch(x)`, a loop
//                            of ROUNDS round trips timed inside Python with perf_counter after a
//                            warm-up loop; one argument (greenwasm's C-level fast path) and no
//                            argument. Same script for both. ours: createRuntime in this process,
//                            one run per sample; native: one /usr/bin/python3 process per sample;
//                            samples interleaved; median.
//   memory per greenlet      N started greenlets suspended in main.switch(), memory growth / N.
//                            ours: wasm linear memory growth (greenletStackSize 128 KiB default,
//                            and 16 KiB, the minimum); native: RSS growth (/proc/self/statm).
//   largest live count       ours: a child process creates suspended greenlets (16 KiB stacks)
//                            until it fails or reaches CEILING_MAX, counted in steps of 500;
//                            native: creates the same number and reports that it fits.
//                            Needs vm.max_map_count above ~2 per greenlet (npm run setup raises it).

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRuntime, type Runtime } from '../src/python/index.ts';
import { jspiPingPongRoundTrip } from './jspi-floor.ts';
import { pythonPingPongRoundTrip } from './python-floor.ts';
import { lastLineJSON, median, NATIVE_PYTHON, nativePythonJSON, nativePythonVersion, ROOT, sh, type Bench, type Row } from './lib.ts';

const ROUNDS = 200_000;
const MEM_N = 10_000;
const TARGET = 100_000;
/** The ceiling search goes this far (wasm32 memory runs out first). */
const CEILING_MAX = 250_000;
/** The smallest greenletStackSize createRuntime accepts. */
const MIN_STACK = 16384;

const ROUNDTRIP = `
import json, time, greenlet
ROUNDS = ${ROUNDS}
main = greenlet.getcurrent()
def answer_arg():
    while True:
        main.switch(None)
def answer_noarg():
    while True:
        main.switch()
def per_round_trip_us(run, with_arg):
    g = greenlet.greenlet(run)
    g.switch()
    sw = g.switch
    if with_arg:
        for _ in range(ROUNDS // 10): sw(None)
        t0 = time.perf_counter()
        for _ in range(ROUNDS): sw(None)
    else:
        for _ in range(ROUNDS // 10): sw()
        t0 = time.perf_counter()
        for _ in range(ROUNDS): sw()
    us = (time.perf_counter() - t0) / ROUNDS * 1e6
    g.throw()
    return us
def floor_us():
    f = id
    for _ in range(ROUNDS // 10): f(None)
    t0 = time.perf_counter()
    for _ in range(ROUNDS): f(None)
    return (time.perf_counter() - t0) / ROUNDS * 1e6
print(json.dumps({"arg": per_round_trip_us(answer_arg, True), "noarg": per_round_trip_us(answer_noarg, False), "floor": floor_us()}))
`;

/** Memory growth per suspended greenlet; `measure()` returns bytes in use. */
const MEMORY = (measure: string) => `
import gc, json, greenlet
${measure}
N = ${MEM_N}
main = greenlet.getcurrent()
def body():
    main.switch()
gc.collect()
print("MARK before", flush=True)
before = used()
gs = []
for _ in range(N):
    g = greenlet.greenlet(body)
    g.switch()
    gs.append(g)
after = used()
print("MARK after", flush=True)
print(json.dumps({"per": (after - before) / N}))
`;
const NATIVE_USED = `
import os
def used():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
`;
const WASM_USED = `
def used():
    import pyodide_js
    return int(pyodide_js._module.HEAPU8.length)
`;

async function runOurs(rt: Runtime, text: { value: string }, code: string): Promise<Record<string, number>> {
  text.value = '';
  const exit = await rt.runCode(code);
  if (exit !== 0) throw new Error(`greenwasm run exited ${exit}: ${text.value}`);
  return lastLineJSON<Record<string, number>>(text.value);
}

/** Process RSS at the moments Python printed "MARK before" / "MARK after" (read inside the stdout sink). */
const marks: Record<string, number> = {};

async function boot(stackSize: number | undefined, text: { value: string }): Promise<Runtime> {
  const sink = (b: Uint8Array) => {
    const s = new TextDecoder().decode(b);
    const m = /MARK (\w+)/.exec(s);
    if (m) marks[m[1]!] = process.memoryUsage.rss();
    text.value += s;
  };
  return createRuntime({ allowJs: true, stdout: sink, stderr: sink, ...(stackSize ? { greenletStackSize: stackSize } : {}) });
}

/** Largest number of suspended greenlets one greenwasm process holds (minimum stacks), and how it ended. */
function oursLargest(): { live: number; end: string } {
  const url = (p: string) => JSON.stringify(pathToFileURL(join(ROOT, p)).href);
  const child = `
    const { createRuntime } = await import(${url('src/python/index.ts')});
    const rt = await createRuntime({ greenletStackSize: ${MIN_STACK}, stdout: (b) => process.stdout.write(b), stderr: (b) => process.stderr.write(b) });
    await rt.runCode(\`
import greenlet
main = greenlet.getcurrent()
gs = []
try:
    for i in range(${CEILING_MAX}):
        g = greenlet.greenlet(lambda: main.switch())
        g.switch()
        gs.append(g)
        if (i + 1) % 500 == 0:
            print("LIVE", i + 1, flush=True)
except BaseException as e:
    print("STOPPED", len(gs), type(e).__name__, str(e)[:200], flush=True)
\`);
    await rt.close();`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', child], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 300_000 });
  const steps = Math.max(0, ...r.stdout.split('\n').filter((l) => l.startsWith('LIVE ')).map((l) => Number(l.split(' ')[1])));
  const stopped = r.stdout.split('\n').find((l) => l.startsWith('STOPPED '));
  const live = stopped ? Number(stopped.split(' ')[1]) : steps;
  const end = (stopped ?? r.stderr.split('\n').find((l) => /FATAL|Error/.test(l)) ?? `reached ${CEILING_MAX} (search limit); exit ${r.status ?? r.signal}`).trim();
  return { live, end };
}

const bench: Bench = {
  name: 'greenlet',
  description: 'greenlet switch round trip, memory per suspended greenlet and live-greenlet ceiling: greenwasm vs native CPython + greenlet',
  async run(ctx) {
    const pyv = nativePythonVersion();
    const nativeGreenlet = sh(NATIVE_PYTHON, ['-c', 'import greenlet; print(greenlet.__version__)']).trim();
    const peer = `CPython ${pyv} + greenlet ${nativeGreenlet} native`;
    const text = { value: '' };
    const rows: Row[] = [];

    ctx.log(`round trip: ${ROUNDS} per sample; ours in-process, native ${NATIVE_PYTHON}`);
    const rt = await boot(undefined, text);
    const ours: Record<string, number>[] = [];
    const native: Record<string, number>[] = [];
    for (let i = 0; i < ctx.warmup + ctx.runs; i++) {
      const n = nativePythonJSON<Record<string, number>>(ROUNDTRIP);
      const o = await runOurs(rt, text, ROUNDTRIP);
      o['jspi'] = await jspiPingPongRoundTrip(ROUNDS);
      o['python'] = await pythonPingPongRoundTrip(rt, ROUNDS, text);
      if (i >= ctx.warmup) {
        native.push(n);
        ours.push(o);
      }
      ctx.log(`  sample ${i}: ours ${o['arg']!.toFixed(3)} / ${o['noarg']!.toFixed(3)} / ${o['floor']!.toFixed(3)} / ${o['python']!.toFixed(3)} µs (arg / no arg / floor / Python floor), native ${n['arg']!.toFixed(3)} / ${n['noarg']!.toFixed(3)} / ${n['floor']!.toFixed(3)} µs`);
    }
    for (const [key, label] of [['arg', 'g.switch(x) ↔ main.switch(x)'], ['noarg', 'g.switch() ↔ main.switch()'], ['floor', 'interpreter floor: loop calling a C builtin `id(x)`']] as const) {
      rows.push({
        metric: `round trip main→g→main, ${label}`,
        unit: 'µs',
        better: 'lower',
        ours: median(ours.map((s) => s[key]!)),
        peer,
        peerValue: median(native.map((s) => s[key]!)),
        ...(key === 'floor' ? { note: 'not a switch: the same timing loop around a trivial C call; the part of each round trip that is interpreter speed (Pyodide vs native CPython)' } : {}),
      });
    }
    // Floors: ours only, set against native greenlet's whole round trip (one argument).
    const floors = [
      ['jspi', 'round trip, JSPI floor: two bare wasm stacks ping-pong (no Python)',
        'bench/jspi-floor.ts: the suspend/resume every greenwasm switch rests on, with nothing else; any JSPI greenlet costs at least this plus the interpreter'],
      ['python', 'round trip, Python floor: two Python stacks ping-pong through a minimal stub',
        'bench/python-floor.ts: a Python loop calling a builtin whose wasm stub swaps the stack pointer and thread state and suspends on one import, no greenlet bookkeeping; the mechanism every switch pays, interpreter included'],
    ] as const;
    for (const [key, metric, note] of floors) {
      rows.push({ metric, unit: 'µs', better: 'lower', ours: median(ours.map((s) => s[key]!)), peer, peerValue: median(native.map((s) => s['arg']!)), note });
    }

    ctx.log(`memory: ${MEM_N} suspended greenlets`);
    const nativeMem = nativePythonJSON<{ per: number }>(MEMORY(NATIVE_USED)).per;
    const oursDefault = (await runOurs(rt, text, MEMORY(WASM_USED)))['per']!;
    const oursDefaultRss = (marks['after']! - marks['before']!) / MEM_N;
    await rt.close();
    const small = await boot(MIN_STACK, text);
    const oursSmall = (await runOurs(small, text, MEMORY(WASM_USED)))['per']!;
    await small.close();
    const memPeer = `${peer} (RSS growth)`;
    rows.push(
      { metric: 'memory per suspended greenlet, greenletStackSize 128 KiB (default)', unit: 'KiB', better: 'lower', ours: oursDefault / 1024, peer: memPeer, peerValue: nativeMem / 1024, note: 'ours: wasm linear memory growth / N; JSPI stacks live outside it' },
      { metric: `memory per suspended greenlet, greenletStackSize ${MIN_STACK / 1024} KiB (minimum)`, unit: 'KiB', better: 'lower', ours: oursSmall / 1024, peer: memPeer, peerValue: nativeMem / 1024, note: 'ours: wasm linear memory growth / N; JSPI stacks live outside it' },
      { metric: 'process RSS growth per suspended greenlet, greenletStackSize 128 KiB', unit: 'KiB', better: 'lower', ours: oursDefaultRss / 1024, peer: memPeer, peerValue: nativeMem / 1024, note: 'ours: Node process RSS read when Python printed before/after markers: touched wasm pages + JSPI stacks' },
    );

    ctx.log(`largest live count: child process up to ${CEILING_MAX}`);
    const largest = oursLargest();
    ctx.log(`  ours reached ${largest.live}; ended with: ${largest.end}`);
    const nativeCount = nativePythonJSON<{ live: number }>(`
import greenlet, json
main = greenlet.getcurrent()
gs = []
for i in range(${Math.max(largest.live, TARGET)}):
    g = greenlet.greenlet(lambda: main.switch())
    g.switch()
    gs.append(g)
print(json.dumps({"live": sum(1 for g in gs if g)}))
`).live;
    rows.push({
      metric: 'largest number of live (suspended) greenlets in one process',
      unit: 'greenlets',
      better: 'higher',
      ours: largest.live,
      peer: `${peer} (created as many, not searched further)`,
      peerValue: nativeCount,
      note: `ours ended with: ${largest.end}`,
    });
    return rows;
  },
};
export default bench;
