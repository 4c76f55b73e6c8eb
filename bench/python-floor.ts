// The Python-level floor of the greenlet bench: two Python stacks that only ping-pong.
//
// Two green threads (each a JSPI stack on its own C-stack region, with its own thread
// state) loop calling one builtin. Its wasm stub does what a greenwasm switch must do at
// the least: save the stack pointer, hand the thread state back to Pyodide
// (captureThreadState), set the outer stack pointer, suspend on one `Suspending` import
// that parks the caller and wakes the other stack, then restore both. Nothing else: no
// greenlet lookup, reference counts, hooks or engine state. µs per round trip (two calls,
// two switches), timed inside Python. What a greenlet switch costs above this is
// bookkeeping, which is what could still be moved out of JS.

import { encodeModule, op, suspending, ValType } from '../src/engine/index.ts';
import { installBuiltins } from '../src/python/greenlet/builtins.ts';
import { machineOf } from '../src/python/pyodide.ts';
import { runtimeState } from '../src/python/runtime.ts';
import type { Runtime } from '../src/python/index.ts';
import { pingPong } from './jspi-floor.ts';
import { lastLineJSON } from './lib.ts';

const MODULE = '_greenwasm_floor';
const i32 = ValType.i32;

interface Floor {
  /** The next `total` calls ping-pong; the last one wakes the other stack and does not park. */
  arm(total: number): void;
}

const installed = new WeakMap<Runtime, Floor>();

function install(rt: Runtime): Floor {
  const m = runtimeState(rt).greenlets.m;
  const { stackPointer, memory } = machineOf(m);
  const outer = new WebAssembly.Global({ value: 'i32', mutable: true }, 0);
  const turns = pingPong();
  // imports: 0 sw (Suspending), 1 captureThreadState, 2 restoreThreadState, 3 Py_IncRef; globals: 0 SP, 1 outer
  const imports = [
    { module: 'f', name: 'sw', type: { params: [], results: [i32] } },
    { module: 'f', name: 'capture', type: { params: [], results: [i32] } },
    { module: 'f', name: 'restore', type: { params: [i32], results: [] } },
    { module: 'f', name: 'incref', type: { params: [i32], results: [] } },
  ];
  const globals = [
    { module: 'f', name: 'sp', global: { type: i32, mutable: true } },
    { module: 'f', name: 'outer', global: { type: i32, mutable: true } },
  ];
  const [SP, OUTER] = [0, 1];
  const [LSP, LTS] = [3, 4];
  const none = m.__Py_NoneStruct;
  const body = [
    ...op.globalGet(SP), ...op.localSet(LSP),
    ...op.call(1), ...op.localSet(LTS),
    ...op.globalGet(OUTER), ...op.globalSet(SP),
    ...op.call(0), ...op.drop(),
    ...op.globalGet(SP), ...op.globalSet(OUTER),
    ...op.localGet(LSP), ...op.globalSet(SP),
    ...op.localGet(LTS), ...op.call(2),
    ...op.i32Const(none), ...op.call(3), ...op.i32Const(none),
  ];
  const mod = new WebAssembly.Module(encodeModule(imports, [{ type: { params: [i32, i32, i32], results: [i32] }, locals: [i32, i32], body, export: 'sw' }], globals, { memory: { module: 'f', name: 'memory' } }) as BufferSource);
  const inst = new WebAssembly.Instance(mod, {
    f: { sw: suspending(() => turns.sw(0)) as Function, capture: m._captureThreadState, restore: m._restoreThreadState, incref: m._Py_IncRef, sp: stackPointer, outer, memory },
  });
  installBuiltins(m, MODULE, { sw: inst.exports['sw'] as Function });
  return {
    arm(total) {
      turns.arm(total);
      outer.value = m.stackSave(); // the resting stack pointer that resumed stacks run above
    },
  };
}

const CODE = (rounds: number) => `
import json, threading, time, ${MODULE}
N = ${rounds}
ready = threading.Barrier(2)
def other():
    ready.wait()
    sw = ${MODULE}.sw
    for _ in range(N): sw(None)
t = threading.Thread(target=other)
t.start()
ready.wait()
sw = ${MODULE}.sw
t0 = time.perf_counter()
for _ in range(N): sw(None)
us = (time.perf_counter() - t0) / N * 1e6
t.join()
print(json.dumps({"floor": us}))
`;

/** µs per round trip over `rounds` round trips (one sample); `out` collects the runtime's stdout. */
export async function pythonPingPongRoundTrip(rt: Runtime, rounds: number, out: { value: string }): Promise<number> {
  let floor = installed.get(rt);
  if (!floor) installed.set(rt, (floor = install(rt)));
  floor.arm(2 * rounds);
  out.value = '';
  const exit = await rt.runCode(CODE(rounds));
  if (exit !== 0) throw new Error(`python floor run exited ${exit}: ${out.value}`);
  return lastLineJSON<{ floor: number }>(out.value).floor;
}
