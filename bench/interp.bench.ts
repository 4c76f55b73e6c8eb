// interp: the speed of ordinary CPU-bound Python (bench/apps/cpu_work.py: objects, dicts,
// strings, JSON, recursion), the factor every other bench's Python work pays.
//
//   `greenwasm run`        the CLI: Python on a worker thread with Ctrl-C polling on
//                          (CPython calls the interrupt poll about every 0.4 µs); its
//                          launcher runs Node with --no-wasm-deopt (bin/greenwasm.js)
//   runtime, no polling    createRuntime (own process) without an interruptBuffer
//   runtime, --no-wasm-deopt   the same under `node --no-wasm-deopt`: V8 speculatively inlines
//                          indirect calls in optimized wasm and deoptimizes when a guess fails;
//                          past a per-function limit it settles for slower code. Which Python
//                          code ran before can decide that for CPython's interpreter loop.
//   native                 /usr/bin/python3, same file
// Each sample is one process reporting the median ms of 15 rounds after 3
// warm-up rounds, timed inside Python; samples interleaved, median of samples.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { lastLineJSON, median, NATIVE_PYTHON, nativePythonVersion, NODE, ROOT, sh, type Bench, type Row } from './lib.ts';

const SCRIPT = join(ROOT, 'bench', 'apps', 'cpu_work.py');

const parse = (text: string): number => {
  const ms = lastLineJSON<{ ms: number }>(text).ms;
  if (!Number.isFinite(ms)) throw new Error(`cpu_work.py printed ${text}`);
  return ms;
};

/** One process running a runtime (no interrupt buffer) on the script. */
function inRuntime(nodeFlags: string[] = []): number {
  const url = JSON.stringify(pathToFileURL(join(ROOT, 'src', 'python', 'index.ts')).href);
  const child = `
    const { createRuntime } = await import(${url});
    const rt = await createRuntime({ mounts: [{ host: ${JSON.stringify(join(ROOT, 'bench', 'apps'))}, guest: "/bench" }] });
    const code = await rt.runFile("/bench/cpu_work.py");
    await rt.close();
    process.exitCode = code;`;
  return parse(sh(NODE, [...nodeFlags, '--input-type=module', '-e', child]));
}

const bench: Bench = {
  name: 'interp',
  description: 'CPU-bound Python: `greenwasm run` and an in-process runtime vs native CPython (the interpreter factor)',
  async run(ctx) {
    const cli: number[] = [];
    const runtime: number[] = [];
    const native: number[] = [];
    const noDeopt: number[] = [];
    for (let i = 0; i < ctx.warmup + ctx.runs; i++) {
      const keep = i >= ctx.warmup;
      const a = parse(sh(NODE, [join(ROOT, 'bin', 'greenwasm.js'), 'run', SCRIPT]));
      const b = inRuntime();
      const d = inRuntime(['--no-wasm-deopt']);
      const c = parse(sh(NATIVE_PYTHON, [SCRIPT]));
      ctx.log(`greenwasm run ${a.toFixed(2)} ms, runtime ${b.toFixed(2)} ms, runtime --no-wasm-deopt ${d.toFixed(2)} ms, native ${c.toFixed(2)} ms${keep ? '' : ' (warm-up)'}`);
      if (keep) {
        cli.push(a);
        runtime.push(b);
        noDeopt.push(d);
        native.push(c);
      }
    }
    const peer = `CPython ${nativePythonVersion()} native`;
    const metric = 'cpu_work.py round (objects, dicts, str, JSON, recursion)';
    const rows: Row[] = [
      { metric: `${metric}, \`greenwasm run\` (Ctrl-C polling on)`, unit: 'ms', better: 'lower', ours: median(cli), peer, peerValue: median(native) },
      { metric: `${metric}, runtime without an interrupt buffer`, unit: 'ms', better: 'lower', ours: median(runtime), peer, peerValue: median(native) },
      { metric: `${metric}, runtime without an interrupt buffer, \`node --no-wasm-deopt\``, unit: 'ms', better: 'lower', ours: median(noDeopt), peer, peerValue: median(native) },
      { metric: `${metric}, \`greenwasm run\` against the runtime without polling`, unit: 'ms', better: 'lower', ours: median(cli), peer: 'the same, runtime without an interrupt buffer, `node --no-wasm-deopt`', peerValue: median(noDeopt),
        note: 'the cost of Ctrl-C polling (both under --no-wasm-deopt)' },
      { metric: `${metric}, runtime without an interrupt buffer, \`node --no-wasm-deopt\` against V8's defaults`, unit: 'ms', better: 'lower', ours: median(noDeopt), peer: 'the same, runtime without an interrupt buffer', peerValue: median(runtime),
        note: 'what the flag the CLI launcher adds is worth' },
    ];
    return rows;
  },
};

export default bench;
