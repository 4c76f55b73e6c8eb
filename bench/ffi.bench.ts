// ffi: cost of one call from Python to a host function, per call, loops of N calls.
//
//   ours (Pyodide FFI)          js.f()  where globalThis.f = () => 1   (JsProxy attr + call)
//                               f()     pre-bound JsProxy             (call only)
//   peer (native CPython)       gc.isenabled() / pre-bound isenabled()
//
// The peer is the closest native equivalent of "Python calls a function implemented by its
// host": a zero-argument C builtin reached through a module attribute. A third row times that
// same builtin inside Pyodide, to separate wasm interpreter cost from FFI cost. All numbers
// include the identical `for` loop overhead. See docs/benchmarks.md for why this peer.

import { measure, median, nativePythonJSON, nativePythonVersion, PYODIDE_DIR, PYODIDE_URL, type Bench } from './lib.ts';

const N_FFI = 100_000;
const N_BUILTIN = 1_000_000;

// Each snippet defines per_call_us(n) -> float.
const LOOPS: Record<string, string> = {
  'js.f()': `
import js, time
def per_call_us(n):
    t0 = time.perf_counter_ns()
    for _ in range(n):
        js.f()
    return (time.perf_counter_ns() - t0) / n / 1000
`,
  'f() (pre-bound)': `
import js, time
def per_call_us(n):
    f = js.f
    t0 = time.perf_counter_ns()
    for _ in range(n):
        f()
    return (time.perf_counter_ns() - t0) / n / 1000
`,
  'gc.isenabled()': `
import gc, time
def per_call_us(n):
    t0 = time.perf_counter_ns()
    for _ in range(n):
        gc.isenabled()
    return (time.perf_counter_ns() - t0) / n / 1000
`,
  'isenabled() (pre-bound)': `
import gc, time
def per_call_us(n):
    f = gc.isenabled
    t0 = time.perf_counter_ns()
    for _ in range(n):
        f()
    return (time.perf_counter_ns() - t0) / n / 1000
`,
};

function native(loop: string, n: number, runs: number, warmup: number): number {
  const samples = nativePythonJSON<number[]>(
    `${LOOPS[loop]}\nimport json\n[per_call_us(${n}) for _ in range(${warmup})]\nprint(json.dumps([per_call_us(${n}) for _ in range(${runs})]))`,
  );
  return median(samples);
}

const bench: Bench = {
  name: 'ffi',
  description: 'Python -> host function call cost: Pyodide js.f() vs native CPython calling a C builtin',
  async run(ctx) {
    (globalThis as Record<string, unknown>).f = () => 1;
    const { loadPyodide } = (await import(PYODIDE_URL)) as typeof import('pyodide');
    const py = await loadPyodide({ indexURL: PYODIDE_DIR + '/' });
    const inPyodide = async (loop: string, n: number) => {
      py.runPython(LOOPS[loop]!);
      const fn = py.globals.get('per_call_us') as (n: number) => number;
      const m = await measure(() => fn(n), { runs: ctx.runs, warmup: ctx.warmup });
      ctx.log(`pyodide ${loop}: ${m.median.toFixed(3)} µs/call (min ${m.min.toFixed(3)}, max ${m.max.toFixed(3)})`);
      return m.median;
    };
    const nat = (loop: string, n: number) => {
      const v = native(loop, n, ctx.runs, ctx.warmup);
      ctx.log(`native ${loop}: ${v.toFixed(4)} µs/call`);
      return v;
    };
    const cpy = `CPython ${nativePythonVersion()} native`;
    const row = { unit: 'µs/call', better: 'lower' as const };
    return [
      { ...row, metric: 'Python->JS call js.f()', ours: await inPyodide('js.f()', N_FFI), peer: `${cpy}, gc.isenabled()`, peerValue: nat('gc.isenabled()', N_BUILTIN) },
      { ...row, metric: 'Python->JS call f() pre-bound', ours: await inPyodide('f() (pre-bound)', N_FFI), peer: `${cpy}, isenabled() pre-bound`, peerValue: nat('isenabled() (pre-bound)', N_BUILTIN) },
      { ...row, metric: 'C builtin gc.isenabled() in Pyodide', ours: await inPyodide('gc.isenabled()', N_BUILTIN), peer: `${cpy}, gc.isenabled()`, peerValue: nat('gc.isenabled()', N_BUILTIN), note: 'interpreter baseline, no FFI' },
    ];
  },
};
export default bench;
