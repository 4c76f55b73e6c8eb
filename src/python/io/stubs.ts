import { encodeModule, op, ValType, suspending } from "../../engine/index.ts";
import type { FuncType } from "../../engine/index.ts";
import type { FastcallFn } from "../greenlet/trampoline.ts";

/**
 * Wasm stubs for builtins that may block: each is a METH_FASTCALL function
 * (wasm32 `(self, args, nargs) -> PyObject*`) of the form
 *
 *     r = prep(self, args, nargs)     -- plain import: returns a result (or NULL),
 *                                        or SUSPEND after detaching the stack
 *     r == SUSPEND -> finish(wait())  -- wait: Suspending import; finish: plain,
 *                                        re-attaches the stack, builds the result
 *
 * Only `wait` may suspend, and only after `prep` detached the stack: a
 * `Suspending` import suspends even when it returns a plain value, which
 * would let other stacks run while this one still holds the thread state.
 * No JS frame sits between the stub and the caller's JSPI boundary.
 */
export const SUSPEND = 1; // never a valid PyObject* (objects are 8-aligned)

const i32 = ValType.i32;
const FASTCALL: FuncType = { params: [i32, i32, i32], results: [i32] };

export interface BlockingBuiltin {
  /** Decide: a result (new reference, or 0 with an exception set) or SUSPEND. */
  prep: FastcallFn;
}

export interface StubImports {
  /** The promise of the suspension `prep` just set up; resolves to a token for `finish`. */
  wait: () => Promise<number>;
  finish: (token: number) => number;
  blocking: Record<string, BlockingBuiltin>;
  plain: Record<string, FastcallFn>;
}

/** Build the wasm functions to install as builtins, by name. */
export function buildStubs(imp: StubImports): Record<string, Function> {
  const blocking = Object.keys(imp.blocking);
  const plain = Object.keys(imp.plain);
  const WAIT = 0;
  const FINISH = 1;
  const FIRST_PREP = 2;
  const FIRST_PLAIN = FIRST_PREP + blocking.length;
  const imports = [
    { module: "s", name: "wait", type: { params: [], results: [i32] } },
    { module: "s", name: "finish", type: { params: [i32], results: [i32] } },
    ...blocking.map((n) => ({ module: "p", name: n, type: FASTCALL })),
    ...plain.map((n) => ({ module: "b", name: n, type: FASTCALL })),
  ];
  const R = 3; // local after the three params
  const funcs = [
    ...blocking.map((n, i) => ({
      type: FASTCALL,
      locals: [i32],
      export: n,
      body: [
        ...op.localGet(0), ...op.localGet(1), ...op.localGet(2), ...op.call(FIRST_PREP + i), ...op.localSet(R),
        ...op.localGet(R), ...op.i32Const(SUSPEND), 0x46 /* i32.eq */, 0x04, i32 /* if (result i32) */,
          ...op.call(WAIT), ...op.call(FINISH),
        0x05 /* else */,
          ...op.localGet(R),
        0x0b /* end */,
      ],
    })),
    ...plain.map((n, i) => ({
      type: FASTCALL,
      export: n,
      body: [...op.localGet(0), ...op.localGet(1), ...op.localGet(2), ...op.call(FIRST_PLAIN + i)],
    })),
  ];
  const module = new WebAssembly.Module(encodeModule(imports, funcs) as BufferSource);
  const prep: Record<string, Function> = {};
  for (const n of blocking) prep[n] = imp.blocking[n]!.prep;
  const instance = new WebAssembly.Instance(module, {
    s: { wait: suspending(imp.wait as (...a: never[]) => unknown) as unknown as Function, finish: imp.finish },
    p: prep,
    b: imp.plain as unknown as Record<string, Function>,
  });
  const ex = instance.exports as Record<string, Function>;
  const out: Record<string, Function> = {};
  for (const n of [...blocking, ...plain]) out[n] = ex[n]!;
  return out;
}
