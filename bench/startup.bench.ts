// startup: wall time of a fresh process that prints "hello" from Python.
//   ours: the greenwasm CLI            node bin/greenwasm.js run -c "print('hello')"
//   peers: native CPython              /usr/bin/python3 -c "print('hello')"
//          bare Pyodide in Node        node -e "loadPyodide(); runPython(print('hello'))"
// The second peer isolates what greenwasm adds on top of loading Pyodide.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { measure, NATIVE_PYTHON, nativePythonVersion, NODE, PYODIDE_URL, ROOT, sh, type Bench } from './lib.ts';

const HELLO = "print('hello')";
const CLI = join(ROOT, 'bin', 'greenwasm.js');
const BARE = `const { loadPyodide } = await import(${JSON.stringify(PYODIDE_URL)});
const py = await loadPyodide();
py.runPython(${JSON.stringify(HELLO)});`;

function timed(cmd: string, args: string[]): () => number {
  return () => {
    const t0 = performance.now();
    const out = sh(cmd, args);
    const ms = performance.now() - t0;
    if (!out.includes('hello')) throw new Error(`${cmd} ${args.join(' ')} did not print hello: ${out}`);
    return ms;
  };
}

const bench: Bench = {
  name: 'startup',
  description: 'hello-world process startup: greenwasm CLI vs native CPython vs bare loadPyodide()',
  async run(ctx) {
    const bare = [NODE, ['--input-type=module', '-e', BARE]] as const;
    const haveCli = existsSync(CLI);
    const ours = haveCli ? ([NODE, [CLI, 'run', '-c', HELLO]] as const) : bare;
    const note = haveCli ? undefined : 'STAND-IN: bin/greenwasm.js missing, "ours" measured the bare loadPyodide() script';
    if (!haveCli) ctx.log(`warning: ${note}`);

    ctx.log(`native: ${NATIVE_PYTHON} -c ...`);
    const native = await measure(timed(NATIVE_PYTHON, ['-c', HELLO]), { runs: ctx.runs, warmup: ctx.warmup });
    ctx.log(`bare pyodide: node -e <loadPyodide + runPython>`);
    const pyodide = await measure(timed(bare[0], [...bare[1]]), { runs: ctx.runs, warmup: ctx.warmup });
    ctx.log(`ours: node ${haveCli ? 'bin/greenwasm.js run -c' : '(stand-in)'} ...`);
    const cli = await measure(timed(ours[0], [...ours[1]]), { runs: ctx.runs, warmup: ctx.warmup });

    const base = { metric: 'hello-world process startup', unit: 'ms', better: 'lower' as const, ours: cli.median };
    return [
      { ...base, peer: `CPython ${nativePythonVersion()} native`, peerValue: native.median, ...(note && { note }) },
      { ...base, peer: 'node + bare loadPyodide()', peerValue: pyodide.median, ...(note && { note }) },
    ];
  },
};
export default bench;
