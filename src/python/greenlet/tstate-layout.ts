import type { PyodideInternals } from "../pyodide.ts";

/**
 * Byte offsets of the PyThreadState fields greenlet reads or writes, found by
 * probing a scratch thread state at startup instead of trusting a header:
 * the layout of CPython 3.14's `struct _ts`/`_PyThreadStateImpl` on wasm32
 * depends on build flags. Each probe mutates one field through a public API
 * and looks for the one word that changed to the expected value.
 */
export interface TstateLayout {
  /** `PyObject *dict` (threading dict, shared by every greenlet of a thread). */
  dict: number;
  /** `PyObject *context` (contextvars; a greenlet's `gr_context`). */
  context: number;
  /** `uint64_t context_ver`, bumped whenever `context` is replaced. */
  contextVer: number;
  /** `PyObject *threading_local_key` and `threading_local_sentinel` (thread locals). */
  localKey: number;
  localSentinel: number;
  /** `_PyThreadStateImpl.asyncio_running_loop`. */
  runningLoop: number;
  /**
   * `Py_tracefunc c_profilefunc, c_tracefunc; PyObject *c_profileobj, *c_traceobj`
   * (sys.setprofile / sys.settrace; adjacent in `struct _ts`).
   */
  profileFunc: number;
  traceFunc: number;
  profileObj: number;
  traceObj: number;
}

const SCAN_WORDS = 1024; // 4 KiB: larger than _PyThreadStateImpl on 3.14 wasm32
/** An upper bound of sizeof(struct _ts) (the public PyThreadState) on 3.14 wasm32. */
const PUBLIC_TSTATE_BYTES = 512;

export class LayoutProbeError extends Error {
  override name = "LayoutProbeError";
}

function words(m: PyodideInternals, ts: number): Uint32Array {
  return m.HEAPU32.slice(ts >>> 2, (ts >>> 2) + SCAN_WORDS);
}

function find(before: Uint32Array, after: Uint32Array, pred: (v: number, old: number, i: number) => boolean, what: string): number {
  const hits: number[] = [];
  for (let i = 0; i < after.length; i++) if (pred(after[i]!, before[i]!, i)) hits.push(i * 4);
  if (hits.length !== 1) throw new LayoutProbeError(`cannot locate PyThreadState.${what} (${hits.length} candidates)`);
  return hits[0]!;
}

/** Run `code` with `ts` as the current thread state. */
function runIn(m: PyodideInternals, ts: number, code: string): void {
  const src = m.stringToNewUTF8(code);
  const old = m._PyThreadState_Swap(ts);
  try {
    if (m._PyRun_SimpleString(src) !== 0) throw new LayoutProbeError(`probe failed: ${code}`);
  } finally {
    m._PyThreadState_Swap(old);
    m._free(src);
  }
}

export function probeTstateLayout(m: PyodideInternals): TstateLayout {
  const ts = m._PyThreadState_New(m._PyInterpreterState_Get());
  try {
    let before = words(m, ts);
    const dictPtr = m.__PyThreadState_GetDict(ts);
    const dict = find(before, words(m, ts), (v, old) => v === dictPtr && old === 0, "dict");

    before = words(m, ts);
    runIn(m, ts, "import contextvars\ncontextvars.ContextVar('greenwasm_probe').set(1)");
    let after = words(m, ts);
    const contextType = m._PyContext_Type;
    const context = find(before, after, (v, old) => old === 0 && v !== 0 && m.HEAPU32[(v + 4) >>> 2] === contextType, "context");
    // `uint64_t context_ver; uint64_t id;` follow `context`, 8-aligned; check
    // the layout through `id`, which PyThreadState_GetID reports.
    const contextVer = (context + 4 + 7) & ~7;
    const id = m._PyThreadState_GetID(ts);
    const idLow = m.HEAPU32[(ts + contextVer + 8) >>> 2]!;
    if (BigInt(idLow) !== (id & 0xffffffffn)) throw new LayoutProbeError("cannot locate PyThreadState.context_ver");

    // threading_local_key and threading_local_sentinel are adjacent object
    // pointers that `threading.local()` fills in on first use; other words
    // (datastack, C-stack bounds, counters) may change too, so require two
    // adjacent fresh words that both point at objects whose type is a type.
    before = words(m, ts);
    runIn(m, ts, "import threading\nthreading.local().__dict__");
    after = words(m, ts);
    const isObject = (p: number) => {
      if (p === 0 || p % 4 !== 0 || p + 8 > m.HEAPU32.length * 4) return false;
      const type = m.HEAPU32[(p + 4) >>> 2]!;
      if (type === 0 || type % 4 !== 0 || type + 8 > m.HEAPU32.length * 4) return false;
      return m._PyType_IsSubtype(m.HEAPU32[(type + 4) >>> 2]!, m._PyType_Type) === 1;
    };
    const fresh = (i: number) => before[i] === 0 && after[i] !== 0 && i * 4 !== dict && isObject(after[i]!);
    // Both fields belong to the public `struct _ts`, which ends well before
    // PUBLIC_TSTATE_BYTES; _PyThreadStateImpl's private tail (asyncio state,
    // freelists, ...) can gain fresh object pointers too, so it is not scanned.
    const pairs: number[] = [];
    for (let i = 0; i + 1 < PUBLIC_TSTATE_BYTES / 4; i++) if (fresh(i) && fresh(i + 1)) pairs.push(i * 4);
    if (pairs.length !== 1) throw new LayoutProbeError(`cannot locate threading_local_key (${pairs.join(",")})`);
    const localKey = pairs[0]!;

    runIn(m, ts, "import asyncio, builtins\nbuiltins._greenwasm_probe = object()\nasyncio._set_running_loop(builtins._greenwasm_probe)");
    const probeObj = lookupBuiltin(m, ts, "_greenwasm_probe");
    const runningLoop = find(new Uint32Array(SCAN_WORDS), words(m, ts), (v) => v === probeObj, "asyncio_running_loop");
    runIn(m, ts, "import asyncio, builtins\nasyncio._set_running_loop(None)\ndel builtins._greenwasm_probe");

    const hooks = probeHooks(m, ts);

    return { dict, context, contextVer, localKey, localSentinel: localKey + 4, runningLoop, ...hooks };
  } finally {
    m._PyThreadState_Clear(ts);
    m._PyThreadState_Delete(ts);
  }
}

/**
 * c_profileobj and c_traceobj hold the callables given to sys.setprofile and
 * sys.settrace; the two function pointers precede them in `struct _ts`
 * (`c_profilefunc, c_tracefunc, c_profileobj, c_traceobj`).
 */
function probeHooks(m: PyodideInternals, ts: number): Pick<TstateLayout, "profileFunc" | "traceFunc" | "profileObj" | "traceObj"> {
  runIn(m, ts, "import sys, builtins\nbuiltins._greenwasm_probe_p = lambda *a: None\n" +
    "builtins._greenwasm_probe_t = lambda *a: None\nsys.setprofile(builtins._greenwasm_probe_p)\n" +
    "sys.settrace(builtins._greenwasm_probe_t)");
  let cleared = false;
  try {
    const p = lookupBuiltin(m, ts, "_greenwasm_probe_p");
    const t = lookupBuiltin(m, ts, "_greenwasm_probe_t");
    const set = words(m, ts);
    const profileObj = find(new Uint32Array(SCAN_WORDS), set, (v, _o, i) => v === p && i * 4 < PUBLIC_TSTATE_BYTES, "c_profileobj");
    const traceObj = profileObj + 4;
    const profileFunc = profileObj - 8;
    const traceFunc = profileObj - 4;
    const at = (off: number) => set[off >>> 2]!;
    if (at(traceObj) !== t || at(profileFunc) === 0 || at(traceFunc) === 0) throw new LayoutProbeError("cannot locate PyThreadState.c_tracefunc");
    runIn(m, ts, "import sys, builtins\nsys.settrace(None)\nsys.setprofile(None)\n" +
      "del builtins._greenwasm_probe_p, builtins._greenwasm_probe_t");
    cleared = true;
    const after = words(m, ts);
    for (const off of [profileFunc, traceFunc, profileObj, traceObj]) {
      if (after[off >>> 2] !== 0) throw new LayoutProbeError("PyThreadState profile/trace fields not cleared by sys.setprofile(None)");
    }
    return { profileFunc, traceFunc, profileObj, traceObj };
  } finally {
    if (!cleared) runIn(m, ts, "import sys\nsys.settrace(None)\nsys.setprofile(None)");
  }
}

function lookupBuiltin(m: PyodideInternals, ts: number, name: string): number {
  const old = m._PyThreadState_Swap(ts);
  try {
    const builtins = m._PyEval_GetBuiltins();
    const key = m.stringToNewUTF8(name);
    const obj = m._PyDict_GetItemString(builtins, key);
    m._free(key);
    if (!obj) throw new LayoutProbeError(`probe object ${name} missing`);
    return obj;
  } finally {
    m._PyThreadState_Swap(old);
  }
}
