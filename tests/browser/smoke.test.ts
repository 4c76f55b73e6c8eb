// Smoke test of the test tier itself: Pyodide loads, runs Python, and suspends on a JS
// promise through JSPI (`pyodide.ffi.run_sync`), in Chromium and in Node, with the same body.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HOSTS, openHost, runInHost, type Host, type HostEnv } from './harness.ts';

interface SmokeResult {
  jspi: boolean;
  crossOriginIsolated: boolean | null;
  sum: number;
  version: string;
  suspended: number;
  order: string[];
  stackBefore: number;
  stackAfter: number;
}

// Runs inside the host: self-contained, no closures over this module.
async function smokeBody(env: HostEnv, delayMs: number): Promise<SmokeResult> {
  const { loadPyodide } = await import(env.pyodideURL);
  const py = await loadPyodide({ indexURL: env.indexURL });
  const order: string[] = [];
  // A JS function returning a promise that settles later, on a timer.
  py.globals.set('delayed', (v: number) => {
    order.push('js called');
    return new Promise((ok) =>
      setTimeout(() => {
        order.push('js resolved');
        ok(v);
      }, delayMs),
    );
  });
  py.globals.set('mark', (s: string) => order.push(s));
  const stackBefore: number = py._module.stackSave();
  const suspended = await py.runPythonAsync(`
from pyodide.ffi import run_sync, can_run_sync
mark(f'python before, can_run_sync={can_run_sync()}')
# A synchronous call in Python; the whole wasm stack suspends until the promise settles.
value = run_sync(delayed(42))
mark('python after')
value
`);
  const stackAfter: number = py._module.stackSave();
  return {
    jspi: 'Suspending' in WebAssembly && 'promising' in WebAssembly,
    crossOriginIsolated: typeof crossOriginIsolated === 'boolean' ? crossOriginIsolated : null,
    sum: py.runPython('sum(range(10))'),
    version: py.runPython('import sys; sys.version'),
    suspended,
    order,
    stackBefore,
    stackAfter,
  };
}

for (const name of HOSTS) {
  describe(`smoke (${name})`, () => {
    let host: Host;
    before(async () => {
      host = await openHost(name);
    });
    after(async () => {
      await host?.close();
    });

    test('Pyodide runs Python and suspends on a JS promise via JSPI', async (t) => {
      let r: SmokeResult;
      try {
        r = await runInHost(host, smokeBody, 20);
      } catch (e) {
        if (host.pageLog?.length) t.diagnostic(host.pageLog.join('\n'));
        throw e;
      }
      t.diagnostic(`${name}: Python ${r.version.split(' ')[0]}`);
      assert.equal(r.jspi, true, 'WebAssembly.Suspending/promising must exist');
      if (name === 'chromium') assert.equal(r.crossOriginIsolated, true, 'COOP/COEP headers must isolate the page');
      assert.equal(r.sum, 45);
      assert.match(r.version, /^3\.\d+\.\d+/);
      assert.equal(r.suspended, 42);
      assert.deepEqual(r.order, ['python before, can_run_sync=True', 'js called', 'js resolved', 'python after']);
      assert.equal(r.stackAfter, r.stackBefore, 'C stack pointer must be balanced after a suspension');
    });
  });
}
