/**
 * Direct calls into guest Python, for hosts built on a runtime (src/server).
 *
 * These bypass the `run*` methods: several calls may be in flight at once and
 * none of them counts as a run. They are an advanced API: the caller owns
 * every handle it gets and must `destroy()` it.
 *
 * Contract:
 * - {@link importGuest} returns a handle on a guest module; its function
 *   attributes are callable from JS synchronously (`fn(...)`, Python may not
 *   suspend) or as a promising entry (`fn.callPromising(...)`, Python may
 *   suspend: `time.sleep`, greenlets, `run_sync`).
 * - {@link callThread} runs `fn(*args)` as a new greenlet thread: its own
 *   JSPI stack, C-stack region and thread state, so any number of such calls
 *   may be suspended at once without holding each other up.
 * - JS arguments are converted by Pyodide's rules: strings, numbers, booleans,
 *   null/undefined convert; functions, arrays and typed arrays arrive as
 *   JsProxy objects.
 */
import { GreenwasmError } from "../common/errors.ts";
import { RuntimeClosedError } from "./errors.ts";
import type { PyProxy } from "./pyodide.ts";
import type { Runtime } from "./runtime.ts";
import { runtimeState } from "./runtime.ts";

export type { PyProxy };

/** A Python exception escaped a {@link callThread} call; its traceback went to the runtime's stderr. */
export class GuestCallError extends GreenwasmError {
  constructor(what: string) {
    super(`Python raised an exception in ${what} (traceback printed to stderr)`);
    this.name = "GuestCallError";
  }
}

/** Import a guest module (`import name`) and return a handle on it; the caller destroys it. */
export function importGuest(runtime: Runtime, name: string): PyProxy {
  if (runtime.closed) throw new RuntimeClosedError();
  return runtimeState(runtime).pyodide.pyimport(name) as PyProxy;
}

/**
 * Call `fn(*args)` on a new greenlet thread. Resolves once it returns (the
 * result is dropped); rejects with {@link GuestCallError} if it raised, after
 * printing the traceback to the runtime's stderr.
 */
export async function callThread(runtime: Runtime, fn: PyProxy, args: readonly unknown[]): Promise<void> {
  if (runtime.closed) throw new RuntimeClosedError();
  const { module: mod, pyodide: py, greenlets } = runtimeState(runtime);
  const list = py.toPy(args, { depth: 1 }) as PyProxy;
  const tuple = mod._PyList_AsTuple(mod.PyProxy_getPtr(list));
  list.destroy();
  if (!tuple) throw new GreenwasmError("greenwasm: cannot build the argument tuple");
  let out;
  try {
    out = await greenlets.runThread(mod.PyProxy_getPtr(fn), tuple, 0);
  } finally {
    mod._Py_DecRef(tuple);
  }
  if (out.error) {
    mod._PyErr_SetRaisedException(out.error);
    mod._PyErr_Print();
    throw new GuestCallError("a thread call");
  }
  if (out.result) mod._Py_DecRef(out.result);
}
