import { encodeModule, op, ValType, suspending, promising } from "../../engine/index.ts";
import type { FuncType } from "../../engine/index.ts";
import { wasmRoute, resumeKept, captureOrTrap, enterOuter } from "./route.ts";
import type { RouteLocals, RouteRefs } from "./route.ts";

/**
 * The wasm glue between CPython's calling conventions and the engine.
 *
 * Cross-language contract (wasm32):
 * - a METH_FASTCALL builtin is `PyObject *f(PyObject *self, PyObject *const *args,
 *   Py_ssize_t nargs)`: wasm (i32, i32, i32) -> i32;
 * - a METH_FASTCALL|METH_KEYWORDS method is `f(self, args, nargsf, kwnames)`:
 *   (i32, i32, i32, i32) -> i32; `args` holds nargs positional values then one
 *   value per name in `kwnames`. Called through the method descriptor, slot
 *   -1 of `args` holds `self`; through a bound builtin method it does not.
 *
 *   switch method(self, args, nargsf, kwnames):
 *       the wasm route (route.ts): switches and returns, or falls through to the JS route:
 *       cell[0] = SP                             -- the stack pointer the host records for this stack
 *       r = fast(self, args, nargsf, kwnames)   -- plain import: checks, parks, returns a code
 *       r == 1 -> after(wait(), 0)               -- wait: Suspending; resolves to our id on resume
 *       r == 2 -> the stub keeps SP and the thread state (the host parked with keptSp):
 *                 me = cell[4]; sp = SP; ts = captureThreadState(); SP = me.OUTER   -- me: our control block
 *                 id = wait(); then resume as route.ts says for a kept park (by me.ROUTE)
 *       r == 0 -> v = slowArgs(self, args, nargsf, kwnames)   -- [self, *args, *kwvalues]
 *                 res = PyObject_Vectorcall(slowFn(), v, nargs + 1, kwnames); slowDone(v); res
 *       r < 0  -> immediate()                    -- a result ready without switching (or NULL)
 *   switch builtin(self, args, nargs): cell[0] = SP; r = slowSwitch(...); r > 0 as above, else immediate()
 *
 * `cell` is 8 bytes of linear memory owned by the host: +0 the stub's stack
 * pointer (written by the stub before `fast`/`slowSwitch`), +4 the control
 * block of a stack parking kept (written by the host; every region stack has
 * one, control.ts). `SP` is Pyodide's `__stack_pointer` global;
 * captureThreadState/restoreThreadState are Pyodide's wasm exports, called
 * wasm-to-wasm.
 *
 * After a resume, if the imported global `killFlag` is set and the result is
 * not NULL, the stub calls Python's `_kill_pending()` (wasm-to-wasm, so those
 * kills may switch) and hands its result to `killDone`. The stubs of the
 * builtins in `KILLS_FIRST` do the same before calling the builtin.
 *
 * A `Suspending` import suspends even when it returns a plain value, leaving
 * a microtask gap in which other stacks run; so only `wait` and `handOff`
 * suspend, and only after this stack parked.
 *   entry(id) = leave(id, PyObject_Call(enter(id), startArgs(id), startKwargs(id)))
 *
 * No JS frame sits between these stubs and the JSPI boundary: Pyodide's own
 * wasm exports (PyObject_Call, PyObject_Vectorcall) are imported as wasm
 * functions, so those calls stay wasm-to-wasm.
 */
const i32 = ValType.i32;
const FASTCALL: FuncType = { params: [i32, i32, i32], results: [i32] };
const METHOD: FuncType = { params: [i32, i32, i32, i32], results: [i32] };
const V_I: FuncType = { params: [], results: [i32] };
const I_I: FuncType = { params: [i32], results: [i32] };
const II_I: FuncType = { params: [i32, i32], results: [i32] };
const I_V: FuncType = { params: [i32], results: [] };
const V_V: FuncType = { params: [], results: [] };

/** Codes of `fast` / `slowSwitch` that mean "switch": the host parked, the engine or the stub keeps SP. */
export const PARKED = 1;
export const PARKED_KEPT = 2;

export type FastcallFn = (self: number, args: number, nargs: number) => number;
export type MethodFn = (self: number, args: number, nargsf: number, kwnames: number) => number;

export interface TrampolineImports {
  fast: MethodFn;
  slowSwitch: (self: number, args: number, nargs: number) => number;
  /** The promise of the switch `fast`/`slowSwitch` just started (resolves to the parked stack's id). */
  wait: () => Promise<number>;
  slowFn: () => number;
  slowArgs: (self: number, args: number, nargsf: number, kwnames: number) => number;
  slowDone: (vector: number) => void;
  /** `_kill_pending` and an empty tuple (borrowed), and what to do with its result. */
  killFn: () => number;
  emptyTuple: () => number;
  killDone: (result: number) => void;
  /** Set to 1 by the host while kills are pending. */
  killFlag: WebAssembly.Global;
  /** The resumed stack runs again (`outer`: the stack pointer a kept park found on resuming, else 0). */
  after: (id: number, outer: number) => number;
  /** Pyodide's `__stack_pointer`, linear memory, and the host's 8-byte cell (see above). */
  stackPointer: WebAssembly.Global;
  memory: WebAssembly.Memory;
  cell: number;
  /** Pyodide's raw wasm exports captureThreadState / restoreThreadState. */
  capture: Function;
  restore: Function;
  /** captureThreadState failed in a kept park: throws (a Pyodide invariant broke). */
  noThreadState: () => void;
  /** The wasm route's switch (route.ts): records it in the engine; resolves when `from` (block index) runs again. */
  handOff: (from: number, target: number, sp: number) => Promise<number>;
  /** Pyodide's raw wasm exports PyThreadState_Get and Py_IncRef. */
  tstateGet: Function;
  incref: Function;
  /** Addresses of Pyodide's suspender flag (pyodide.ts `suspenderFlag`) and of the running stack's block (control.ts). */
  suspender: number;
  run: number;
  /** The object table (control.ts), the empty tuple's address and the thread-state offsets the route reads. */
  table: number;
  emptyTupleAddr: number;
  layout: RouteRefs["layout"];
  immediate: () => number;
  /** Returns `run` (borrowed); `startArgs`/`startKwargs` return its arguments (borrowed; kwargs may be 0). */
  enter: (id: number) => number;
  startArgs: (id: number) => number;
  startKwargs: (id: number) => number;
  leave: (id: number, result: number) => number;
  /** Pyodide's raw wasm exports. */
  call: Function;
  vectorcall: Function;
  /** Plain (non-suspending) builtins, by name. */
  builtins: Record<string, FastcallFn>;
}

export interface Trampolines {
  /** The METH_FASTCALL|METH_KEYWORDS `switch` method. */
  switchMethod: Function;
  /** Wasm functions for METH_FASTCALL builtins, by name (including "switch"). */
  builtins: Record<string, Function>;
  /** Start a new continuation's stack; resolves when its entry returns. */
  entry: (id: number) => Promise<number>;
}

/**
 * Builtins whose stub first runs the thread's queued kills, as greenlet's
 * getcurrent() clears its thread's "deleteme" list: a greenlet freed from
 * another thread dies as soon as its own thread asks who is current.
 */
const KILLS_FIRST = new Set(["current"]);

const IF_I32 = [0x04, i32];
const ELSE = [0x05];
const END = [0x0b];
const I32_GT_S = [0x4a];
const I32_EQZ = [0x45];
const I32_EQ = [0x46];
const I32_AND = [0x71];
const I32_ADD = [0x6a];

export function buildTrampolines(imp: TrampolineImports): Trampolines {
  const names = Object.keys(imp.builtins);
  const imports = [
    { module: "g", name: "fast", type: METHOD },
    { module: "g", name: "slowSwitch", type: FASTCALL },
    { module: "g", name: "slowFn", type: V_I },
    { module: "g", name: "after", type: II_I },
    { module: "g", name: "immediate", type: V_I },
    { module: "g", name: "enter", type: I_I },
    { module: "g", name: "startArgs", type: I_I },
    { module: "g", name: "startKwargs", type: I_I },
    { module: "g", name: "leave", type: II_I },
    { module: "g", name: "call", type: FASTCALL },
    { module: "g", name: "vectorcall", type: METHOD },
    { module: "g", name: "slowArgs", type: METHOD },
    { module: "g", name: "slowDone", type: { params: [i32], results: [] } },
    { module: "g", name: "wait", type: V_I },
    { module: "g", name: "killFn", type: V_I },
    { module: "g", name: "emptyTuple", type: V_I },
    { module: "g", name: "killDone", type: I_V },
    { module: "g", name: "capture", type: V_I },
    { module: "g", name: "restore", type: I_V },
    { module: "g", name: "noThreadState", type: V_V },
    { module: "g", name: "handOff", type: { params: [i32, i32, i32], results: [i32] } },
    { module: "g", name: "tstateGet", type: V_I },
    { module: "g", name: "incref", type: I_V },
    ...names.map((n) => ({ module: "b", name: n, type: FASTCALL })),
  ];
  const [FAST, SLOW_SWITCH, SLOW_FN, AFTER, IMMEDIATE, ENTER, ARGS, KWARGS, LEAVE, CALL, VECTORCALL, SLOW_ARGS, SLOW_DONE, WAIT,
    KILL_FN, EMPTY, KILL_DONE, CAPTURE, RESTORE, NO_TSTATE, HAND_OFF, TSTATE_GET, INCREF] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22];
  const FIRST_BUILTIN = 23;
  const [KILL_FLAG, SP] = [0, 1]; // imported globals
  const VOID = 0x40;
  const cell = imp.cell;
  const refs: RouteRefs = {
    handOff: HAND_OFF, tstateGet: TSTATE_GET, incref: INCREF, capture: CAPTURE, restore: RESTORE, noThreadState: NO_TSTATE, after: AFTER,
    killFlag: KILL_FLAG, sp: SP, suspender: imp.suspender, run: imp.run, table: imp.table, emptyTuple: imp.emptyTupleAddr, layout: imp.layout,
  };
  /** cell[0] = SP, before the call that may park this stack. */
  const recordSp = [...op.i32Const(cell | 0), ...op.globalGet(SP), ...op.i32Store(0)];
  /** `_kill_pending()` (wasm-to-wasm: the kills may switch), its result handed to `killDone`. */
  const killPending = [...op.call(KILL_FN), ...op.call(EMPTY), ...op.i32Const(0), ...op.call(CALL), ...op.call(KILL_DONE)];
  /** If `killFlag` is set and `res` is not NULL, run the pending kills. */
  const killsAfter = (res: number) => [
    ...op.globalGet(KILL_FLAG), 0x04, VOID,
      ...op.localGet(res), 0x04, VOID, ...killPending, ...END,
    ...END,
  ];
  /**
   * With the code `r` of fast/slowSwitch (> 0) in local `r`: suspend, resume
   * (route.ts for a kept park, whose block the host left in cell[4]), keep the
   * result in local `L.res`, run pending kills if flagged, push the result.
   */
  const resume = (r: number, L: RouteLocals) => [
    ...op.localGet(r), ...op.i32Const(PARKED_KEPT), ...I32_EQ, 0x04, VOID,
      ...op.i32Const(cell | 0), ...op.i32Load(4), ...op.localSet(L.me),
      ...op.globalGet(SP), ...op.localSet(L.sp),
      ...captureOrTrap(refs, L),
      ...enterOuter(refs, L),
      ...op.call(WAIT), ...op.localSet(L.id),
      ...resumeKept(refs, L),
    ...ELSE,
      ...op.call(WAIT), ...op.i32Const(0), ...op.call(AFTER), ...op.localSet(L.res),
    ...END,
    ...killsAfter(L.res),
    ...op.localGet(L.res),
  ];
  /** If `killFlag` is set, run the pending kills. */
  const runKills = [...op.globalGet(KILL_FLAG), 0x04, VOID, ...killPending, ...END];
  /** The route's 10 locals, numbered from `first`. */
  const routeLocals = (first: number): RouteLocals => ({
    from: first, target: first + 1, payload: first + 2, t: first + 3, me: first + 4,
    sp: first + 5, ts: first + 6, id: first + 7, out: first + 8, res: first + 9,
  });
  const [R, V] = [4, 5]; // locals of the method stub (after its 4 params), then the route's
  const ML = routeLocals(6);
  const methodBody = [
    ...wasmRoute(refs, ML, 0, 1, 2, 3, killsAfter(ML.res)),
    ...recordSp,
    ...op.localGet(0), ...op.localGet(1), ...op.localGet(2), ...op.localGet(3), ...op.call(FAST), ...op.localSet(R),
    ...op.localGet(R), ...op.i32Const(0), ...I32_GT_S, ...IF_I32,
      ...resume(R, ML),
    ...ELSE,
      ...op.localGet(R), ...I32_EQZ, ...IF_I32,
        ...op.localGet(0), ...op.localGet(1), ...op.localGet(2), ...op.localGet(3), ...op.call(SLOW_ARGS), ...op.localSet(V),
        ...op.call(SLOW_FN),
        ...op.localGet(V),
        ...op.localGet(2), ...op.i32Const(0x7fffffff), ...I32_AND, ...op.i32Const(1), ...I32_ADD,
        ...op.localGet(3),
        ...op.call(VECTORCALL), ...op.localSet(ML.res),
        ...op.localGet(V), ...op.call(SLOW_DONE),
        ...op.localGet(ML.res),
      ...ELSE,
        ...op.call(IMMEDIATE),
      ...END,
    ...END,
  ];
  const RB = 3; // locals of the builtin stub (after its 3 params), then the route's
  const BL = routeLocals(4);
  const builtinBody = [
    ...recordSp,
    ...op.localGet(0), ...op.localGet(1), ...op.localGet(2), ...op.call(SLOW_SWITCH), ...op.localSet(RB),
    ...op.localGet(RB), ...op.i32Const(0), ...I32_GT_S, ...IF_I32,
      ...resume(RB, BL),
    ...ELSE,
      ...op.call(IMMEDIATE),
    ...END,
  ];
  const funcs = [
    { type: METHOD, locals: Array<ValType>(12).fill(i32), export: "switchMethod", body: methodBody },
    { type: FASTCALL, locals: Array<ValType>(11).fill(i32), export: "switch", body: builtinBody },
    {
      type: I_I,
      export: "entry",
      body: [
        ...op.localGet(0),
        ...op.localGet(0), ...op.call(ENTER),
        ...op.localGet(0), ...op.call(ARGS),
        ...op.localGet(0), ...op.call(KWARGS),
        ...op.call(CALL), ...op.call(LEAVE),
      ],
    },
    ...names.map((n, i) => ({
      type: FASTCALL,
      export: `b_${n}`,
      body: [...(KILLS_FIRST.has(n) ? runKills : []), ...op.localGet(0), ...op.localGet(1), ...op.localGet(2), ...op.call(FIRST_BUILTIN + i)],
    })),
  ];
  const globals = [
    { module: "g", name: "killFlag", global: { type: i32, mutable: true } },
    { module: "g", name: "sp", global: { type: i32, mutable: true } },
  ];
  const module = new WebAssembly.Module(encodeModule(imports, funcs, globals, { memory: { module: "g", name: "memory" } }) as BufferSource);
  const instance = new WebAssembly.Instance(module, {
    g: {
      fast: imp.fast,
      slowSwitch: imp.slowSwitch,
      wait: suspending(imp.wait as (...a: never[]) => unknown) as unknown as Function,
      slowFn: imp.slowFn,
      after: imp.after,
      immediate: imp.immediate,
      enter: imp.enter,
      startArgs: imp.startArgs,
      startKwargs: imp.startKwargs,
      leave: imp.leave,
      call: imp.call,
      vectorcall: imp.vectorcall,
      slowArgs: imp.slowArgs,
      slowDone: imp.slowDone,
      killFn: imp.killFn,
      emptyTuple: imp.emptyTuple,
      killDone: imp.killDone,
      killFlag: imp.killFlag,
      sp: imp.stackPointer,
      memory: imp.memory,
      capture: imp.capture,
      restore: imp.restore,
      noThreadState: imp.noThreadState,
      handOff: suspending(imp.handOff as (...a: never[]) => unknown) as unknown as Function,
      tstateGet: imp.tstateGet,
      incref: imp.incref,
    },
    b: imp.builtins as unknown as Record<string, Function>,
  });
  const ex = instance.exports as Record<string, Function>;
  const builtins: Record<string, Function> = { switch: ex["switch"]! };
  for (const n of names) builtins[n] = ex[`b_${n}`]!;
  return { switchMethod: ex["switchMethod"]!, builtins, entry: promising<[number], number>(ex["entry"]!) };
}
