/**
 * The one seam between greenwasm and Pyodide.
 *
 * Invariants:
 * - This is the only module that imports `pyodide` or reads `pyodide._module`.
 *   Everything else sees the Emscripten Module through {@link PyodideInternals}.
 * - Every Module field used anywhere in greenwasm is listed in
 *   {@link PyodideInternals}; `checkInternals` verifies each one exists at boot,
 *   so a Pyodide upgrade that drops one fails loudly at startup, not later.
 * - Pyodide is loaded from the installed npm package only (`indexURL` is the
 *   package directory); nothing is fetched from the network.
 */
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { loadPyodide, version as pyodidePackageVersion } from "pyodide";
import type { PyodideAPI } from "pyodide";
import type { PyProxy } from "pyodide/ffi";
import { PyodideVersionError } from "./errors.ts";

/** The exact Pyodide version greenwasm is pinned to (npm `pyodide`). */
export const PYODIDE_VERSION = "314.0.7";
/** The CPython version shipped by {@link PYODIDE_VERSION}; verified at boot. */
export const PYTHON_VERSION = "3.14.2";

/** The public Pyodide API object returned by `loadPyodide`. */
export type Pyodide = PyodideAPI;
/** A JS handle on a Python object. */
export type { PyProxy };

/** An Emscripten mount record. */
export interface FSMount {
  mountpoint: string;
  opts: Record<string, unknown>;
  type: FSType;
  /** Mounts nested directly below this one. */
  mounts: FSMount[];
}

/** An Emscripten FS node (only the fields greenwasm reads or wraps). */
export interface FSNode {
  name: string;
  mode: number;
  parent: FSNode;
  mount: FSMount;
  node_ops: FSOps;
  stream_ops: FSOps;
  /** Socket nodes: the socket object Emscripten's socket syscalls pass to `sock_ops`. */
  sock?: unknown;
}

/** An Emscripten FS open file description (fields greenwasm reads). */
export interface FSStream {
  node: FSNode;
  flags: number;
  /** File descriptor (set by `FS.createStream`). */
  fd?: number;
}

/** A table of Emscripten node or stream operations. */
export type FSOps = Record<string, ((...args: never[]) => unknown) | undefined>;

/** An Emscripten filesystem type such as NODEFS or MEMFS. */
export interface FSType {
  mount(mount: unknown): FSNode;
  createNode(parent: FSNode | null, name: string, mode: number, dev?: number): FSNode;
  node_ops: FSOps;
  stream_ops: FSOps;
}

/** Emscripten's `FS.ErrnoError`. */
export interface FSErrnoErrorCtor {
  new (errno: number): Error & { errno: number };
}

/** The subset of Emscripten's `FS` object greenwasm uses. */
export interface EmscriptenFS {
  /** Root node; `root.mount` is the root mount record. */
  root: FSNode;
  filesystems: { MEMFS: FSType; NODEFS: FSType };
  mount(type: FSType, opts: Record<string, unknown>, mountpoint: string): FSNode;
  mkdirTree(path: string, mode?: number): void;
  writeFile(path: string, data: string | Uint8Array): void;
  analyzePath(path: string): { exists: boolean; object: FSNode | null };
  isDir(mode: number): boolean;
  chdir(path: string): void;
  /** Permission check used by open/create/delete/access: 0 or an errno. Replaceable per Module. */
  nodePermissions(node: FSNode, perms: string): number;
  ErrnoError: FSErrnoErrorCtor;
  createNode(parent: FSNode | null, name: string, mode: number, dev: number): FSNode;
  /** Open a stream on `node` at the lowest free fd; the result carries `fd`. */
  createStream(stream: { path: string; node: FSNode; flags: number; seekable: boolean; stream_ops: object }): FSStream & { fd: number };
  getStream(fd: number): FSStream | null;
  isSocket(mode: number): boolean;
}

/**
 * Emscripten's socket filesystem. Pyodide 314's socket syscall wrappers
 * (src/core/socket_syscalls.c: `__wrap___syscall_{connect,recvfrom,sendto,
 * poll,fcntl64,shutdown}`) call `getSocket(fd)`, then the socket's
 * `sock_ops.{connectAsync,recvmsgAsync,sendmsgAsync,fcntl64,shutdown}` and
 * `pollAsync` here, suspending on the promises they return. A missing
 * `recvmsgAsync`/`sendmsgAsync`, or `null` from `pollAsync`, sends the call to
 * Emscripten's synchronous syscall instead (`sock_ops.recvmsg`/`sendmsg`,
 * `stream_ops.write`/`poll`), which does not suspend. `socket()` calls
 * `createSocket`. greenwasm replaces both (src/python/net.ts).
 */
export interface EmscriptenSOCKFS {
  root: FSNode;
  createSocket(family: number, type: number, protocol: number): unknown;
  getSocket(fd: number): unknown;
  pollAsync?: (fds: number, nfds: number, timeout: number) => Promise<number> | null;
}

/** Pyodide's StackState: saves/restores a slice of the C shadow stack across a suspension. */
export interface StackStateInstance {
  start: number;
  stop: number;
  restore(): number;
}

/**
 * The Emscripten Module of a booted Pyodide, typed for every member greenwasm
 * touches. Pointers are wasm32 byte offsets (`number`). C functions keep their
 * C names with Emscripten's leading underscore.
 */
export interface PyodideInternals {
  _malloc(size: number): number;
  _free(ptr: number): void;
  /** The indirect function table; grow it to install new wasm functions. */
  wasmTable: WebAssembly.Table;
  /** Views on linear memory; re-read after anything that may grow memory. */
  HEAPU8: Uint8Array;
  HEAP16: Int16Array;
  HEAP32: Int32Array;
  HEAPU32: Uint32Array;
  _PyCFunction_NewEx(methodDef: number, self: number, module: number): number;
  _PyObject_Call(callable: number, args: number, kwargs: number): number;
  _Py_IncRef(obj: number): void;
  _Py_DecRef(obj: number): void;
  _PyThreadState_Swap(tstate: number): number;
  _PyThreadState_New(interp: number): number;
  _PyThreadState_Get(): number;
  _PyThreadState_Clear(tstate: number): void;
  _PyThreadState_Delete(tstate: number): void;
  _PyInterpreterState_Get(): number;
  /** Pyodide: detach the current thread state for a suspension; 0 on failure. */
  _captureThreadState(): number;
  /** Pyodide: re-attach a thread state captured by `_captureThreadState`. */
  _restoreThreadState(state: number): void;
  StackState: new () => StackStateInstance;
  /** Current C shadow-stack pointer (`__stack_pointer`). */
  stackSave(): number;
  stackRestore(sp: number): void;
  _emscripten_stack_get_base(): number;
  _emscripten_stack_get_end(): number;
  _emscripten_stack_set_limits(base: number, end: number): void;
  _PyImport_AddModule(namePtr: number): number;
  _PyModule_AddObjectRef(module: number, namePtr: number, obj: number): number;
  _PyUnstable_ThreadState_SetStackProtection(tstate: number, stackStart: number, stackSize: number): number;
  /**
   * Stack pointer at the entry of the innermost promising call; Pyodide sets it
   * on every promising entry. greenwasm runs one promising call during boot, so
   * it is a number whenever a runtime is handed out.
   */
  stackStop: number;
  /**
   * The main module's symbol table as seen by Emscripten's dynamic linker: every
   * raw wasm export (functions, `__stack_pointer` and other globals) plus the
   * JS imports. Emscripten keeps the real `wasmExports` in a closure; this is
   * the closest exported view of it.
   */
  readonly wasmExports: Readonly<Record<string, unknown>>;
  // ---- C API used by the greenlet host (src/python/greenlet) ----
  stringToNewUTF8(s: string): number;
  /** Pyodide's flag: true when the running wasm stack may suspend (a promising entry, no JS frame in between). */
  validSuspender: { value: boolean };
  _PyRun_SimpleString(code: number): number;
  /** Set the current thread state's profile / trace function (func: a Py_tracefunc table index or 0). */
  _PyEval_SetProfile(func: number, obj: number): void;
  _PyEval_SetTrace(func: number, obj: number): void;
  _PyThreadState_EnterTracing(tstate: number): void;
  _PyThreadState_LeaveTracing(tstate: number): void;
  __PyThreadState_GetDict(tstate: number): number;
  _PyThreadState_GetID(tstate: number): bigint;
  _PyThreadState_GetFrame(tstate: number): number;
  _PyInterpreterState_ThreadHead(interp: number): number;
  _PyThreadState_Next(tstate: number): number;
  _PyEval_GetBuiltins(): number;
  _PyDict_GetItemString(dict: number, key: number): number;
  _PyDict_SetItem(dict: number, key: number, value: number): number;
  _PyObject_CallOneArg(callable: number, arg: number): number;
  _PyErr_Print(): void;
  _PyErr_Occurred(): number;
  _PyErr_GetRaisedException(): number;
  _PyErr_SetString(type: number, msg: number): void;
  _PyTuple_New(n: number): number;
  _PyTuple_GetItem(t: number, i: number): number;
  _PyTuple_Size(t: number): number;
  _PyList_AsTuple(list: number): number;
  _PyType_IsSubtype(a: number, b: number): number;
  /** Address of `PyType_Type`. */
  readonly _PyType_Type: number;
  /** Pyodide: the PyObject* behind a PyProxy (borrowed). */
  PyProxy_getPtr(proxy: unknown): number;
  _PyTuple_SetItem(t: number, i: number, v: number): number;
  _PyBool_FromLong(v: number): number;
  _PyLong_FromLong(v: number): number;
  _PyLong_AsLong(o: number): number;
  _PyLong_AsUnsignedLong(o: number): number;
  _PyDescr_NewMethod(type: number, methodDef: number): number;
  _PyObject_SetAttrString(obj: number, name: number, value: number): number;
  _PyObject_Vectorcall(callable: number, args: number, nargsf: number, kwnames: number): number;
  _PyErr_SetRaisedException(exc: number): void;
  _PyErr_Clear(): void;
  /** Returns 0 and a new reference (or NULL when unset) in `*out`; -1 on error. */
  _PyContextVar_Get(var_: number, dflt: number, out: number): number;
  /** Addresses of data: `&_Py_NoneStruct`, `&PyContext_Type`, `&PyExc_TypeError` (a `PyObject *` variable), ... */
  readonly __Py_NoneStruct: number;
  readonly __Py_TrueStruct: number;
  readonly __Py_NotImplementedStruct: number;
  readonly _PyContext_Type: number;
  readonly _PyExc_TypeError: number;
  readonly _PyExc_MemoryError: number;
  /**
   * Pyodide: starts a promising task (late-bound: Pyodide calls it through
   * the Module, so the greenlet host may wrap it to learn when tasks end).
   */
  promisingApply: (...args: unknown[]) => unknown;
  // ---- blocking I/O (src/python/io) ----
  readonly _PyExc_RuntimeError: number;
  _PyFloat_AsDouble(o: number): number;
  /** Pyodide: 1 if `o` is a JsProxy. */
  _JsProxy_Check(o: number): number;
  /** Pyodide: the JS value behind a JsProxy. */
  _JsProxy_Val(o: number): unknown;
  /** Pyodide: convert a JS value to Python as `await` on a JsProxy does (new reference, 0 on error). */
  _js2python(v: unknown): number;
  /** Pyodide: set the Python error for a JS exception (a JsException, or the PythonError it carries). */
  handle_js_error(e: unknown): void;
  /** Emscripten's virtual filesystem. */
  FS: EmscriptenFS;
  /** Emscripten errno constants (`EROFS`, `EACCES`, ...). */
  ERRNO_CODES: Readonly<Record<string, number>>;
  /** Emscripten's socket filesystem (see {@link EmscriptenSOCKFS}). */
  SOCKFS: EmscriptenSOCKFS;
  /** Pyodide's internal API object (`pyodide_js._api` in Python); net.ts sets `_nodeSock` on it. */
  API: Record<string, unknown>;
}

/** Pyodide's socket syscall wrappers; their presence means socket calls reach `SOCKFS` hooks. */
const SOCKET_HOOKS = [
  "___wrap___syscall_connect", "___wrap___syscall_recvfrom", "___wrap___syscall_sendto",
  "___wrap___syscall_poll", "___wrap___syscall_fcntl64", "___wrap___syscall_shutdown",
] as const;

const REQUIRED_FUNCTIONS = [
  "_malloc", "_free", "_PyCFunction_NewEx", "_PyObject_Call", "_Py_IncRef", "_Py_DecRef",
  "_PyThreadState_Swap", "_PyThreadState_New", "_PyThreadState_Get", "_PyThreadState_Clear",
  "_PyThreadState_Delete", "_PyInterpreterState_Get", "_captureThreadState", "_restoreThreadState",
  "StackState", "stackSave", "stackRestore", "_emscripten_stack_get_base", "_emscripten_stack_get_end",
  "_emscripten_stack_set_limits", "_PyImport_AddModule", "_PyModule_AddObjectRef",
  "_PyUnstable_ThreadState_SetStackProtection",
  "stringToNewUTF8", "_PyRun_SimpleString", "__PyThreadState_GetDict", "_PyThreadState_GetID",
  "_PyThreadState_GetFrame", "_PyInterpreterState_ThreadHead", "_PyThreadState_Next", "_PyEval_GetBuiltins",
  "_PyDict_GetItemString", "_PyObject_CallOneArg", "_PyErr_Print", "_PyErr_Occurred",
  "_PyErr_GetRaisedException", "_PyErr_SetString", "_PyTuple_New", "_PyTuple_GetItem", "_PyTuple_Size", "_PyList_AsTuple", "_PyType_IsSubtype", "PyProxy_getPtr", "_PyTuple_SetItem",
  "_PyBool_FromLong", "_PyLong_FromLong", "_PyLong_AsLong", "_PyLong_AsUnsignedLong", "_PyDescr_NewMethod", "_PyObject_SetAttrString",
  "_PyObject_Vectorcall", "_PyErr_SetRaisedException", "_PyErr_Clear", "_PyContextVar_Get",
  "_PyDict_SetItem", "_PyEval_SetProfile", "_PyEval_SetTrace", "_PyThreadState_EnterTracing", "_PyThreadState_LeaveTracing",
  "promisingApply", "_PyFloat_AsDouble", "_JsProxy_Check", "_JsProxy_Val", "_js2python", "handle_js_error",
] as const;

/** Options for {@link bootPyodide}. */
export interface BootPyodideOptions {
  /** Object Python's `js` module is bound to. Default: none (required). */
  jsglobals: object;
  /**
   * Environment handed to Emscripten before the interpreter starts; a value of
   * `undefined` removes one of Emscripten's default variables. Default: none (required).
   */
  env: Record<string, string | undefined>;
  /** Receives text Pyodide prints before streams are configured. Default: discard. */
  bootOutput?: (text: string) => void;
}

/** Directory of the installed `pyodide` npm package, with a trailing slash. */
export function pyodidePackageDir(): string {
  return dirname(fileURLToPath(import.meta.resolve("pyodide"))) + "/";
}

/** Throws {@link PyodideVersionError} unless `found` is the pinned version. */
export function checkPyodideVersion(found: string): void {
  if (found !== PYODIDE_VERSION) throw new PyodideVersionError(found, PYODIDE_VERSION);
}

/**
 * Load Pyodide from the installed npm package and check it is the pinned
 * version. The returned interpreter has not run any promising call yet.
 */
export async function bootPyodide(opts: BootPyodideOptions): Promise<Pyodide> {
  checkPyodideVersion(pyodidePackageVersion);
  const sink = opts.bootOutput ?? (() => {});
  const py = await loadPyodide({
    indexURL: pyodidePackageDir(),
    packageCacheDir: pyodidePackageDir(),
    jsglobals: opts.jsglobals,
    // Emscripten deletes a default variable when its value is undefined.
    env: opts.env as Record<string, string>,
    stdout: sink,
    stderr: sink,
    stdin: () => null,
    _sysExecutable: "",
  });
  checkPyodideVersion(py.version);
  const mod = moduleOf(py);
  Object.defineProperty(mod, "wasmExports", {
    configurable: true,
    enumerable: false,
    get: () => mainModuleSymbols(mod),
  });
  checkInternals(mod as unknown as PyodideInternals);
  return py;
}

/** The typed Emscripten Module behind a Pyodide booted by {@link bootPyodide}. */
export function internals(py: Pyodide): PyodideInternals {
  return moduleOf(py) as unknown as PyodideInternals;
}

/**
 * Enable CPython's interrupt polling with `poll` as the getter of
 * `Module.Py_EmscriptenSignalBuffer` (the contract is in interrupts.ts):
 * `setInterruptBuffer` turns polling on (`Py_EMSCRIPTEN_SIGNAL_HANDLING`), then
 * the property becomes an accessor whose setter ignores Pyodide's assignments.
 */
export function installInterruptPoll(py: Pyodide, poll: () => unknown): void {
  py.setInterruptBuffer(new Int32Array(1));
  Object.defineProperty(moduleOf(py), "Py_EmscriptenSignalBuffer", { configurable: true, get: poll, set: () => {} });
}

/** Pyodide's C stack pointer global and linear memory, for wasm modules that import them (both checked at boot). */
export function machineOf(m: PyodideInternals): { stackPointer: WebAssembly.Global; memory: WebAssembly.Memory } {
  return {
    stackPointer: m.wasmExports["__stack_pointer"] as WebAssembly.Global,
    memory: m.wasmExports["memory"] as WebAssembly.Memory,
  };
}

const suspenderFlags = new WeakMap<object, number>();

/**
 * Pyodide's `validSuspender.value` ("the running wasm code may suspend") kept
 * in an i32 of linear memory (1 = true; returns its address), so wasm stubs can
 * read and set it. Pyodide's own JS reads and writes the same flag through an
 * accessor on a prototype given to the flag object, whose own data property is
 * removed. (An accessor defined on the object itself turns it into a slow
 * dictionary-mode object, and a WebAssembly.Global's `value` is slow to reach
 * from JS.) Installed once per flag object; refuses if it is not the plain
 * `{ value }` object Pyodide 314 defines.
 */
export function suspenderFlag(m: PyodideInternals): number {
  const vs = m.validSuspender;
  const known = suspenderFlags.get(vs);
  if (known !== undefined) return known;
  const d = Object.getOwnPropertyDescriptor(vs, "value");
  if (!d || !("value" in d) || !d.writable || !d.configurable || Object.keys(vs).length !== 1 || Object.getPrototypeOf(vs) !== Object.prototype) {
    throw new Error("Pyodide's validSuspender is not the plain { value } object this version pins");
  }
  const addr = m._malloc(4); // lives as long as the interpreter
  if (!addr) throw new Error("cannot allocate the suspender flag");
  const memory = machineOf(m).memory;
  const at = addr >>> 2;
  // Growing the (unshared) memory detaches the old buffer: a stale view has length 0.
  let view = new Int32Array(memory.buffer);
  const heap = () => (view.length !== 0 ? view : (view = new Int32Array(memory.buffer)));
  heap()[at] = d.value ? 1 : 0;
  const flag = {
    get value(): boolean {
      return heap()[at] !== 0;
    },
    set value(v: boolean) {
      heap()[at] = v ? 1 : 0;
    },
  };
  delete (vs as { value?: boolean }).value;
  Object.setPrototypeOf(vs, flag);
  suspenderFlags.set(vs, addr);
  return addr;
}

function moduleOf(py: Pyodide): Record<string, unknown> {
  const mod = (py as unknown as { _module?: Record<string, unknown> })._module;
  if (typeof mod !== "object" || mod === null) throw new Error("pyodide._module is missing");
  return mod;
}

function mainModuleSymbols(mod: Record<string, unknown>): Readonly<Record<string, unknown>> {
  const ldso = mod["LDSO"] as { loadedLibsByName?: Record<string, { exports?: Record<string, unknown> }> } | undefined;
  const exports = ldso?.loadedLibsByName?.["__main__"]?.exports;
  if (!exports) throw new Error("Emscripten LDSO main module symbols are missing");
  return exports;
}

function checkInternals(m: PyodideInternals): void {
  const missing: string[] = [];
  const record = m as unknown as Record<string, unknown>;
  for (const name of REQUIRED_FUNCTIONS) if (typeof record[name] !== "function") missing.push(name);
  if (!(m.wasmTable instanceof WebAssembly.Table)) missing.push("wasmTable");
  if (!(m.HEAPU8 instanceof Uint8Array)) missing.push("HEAPU8");
  if (!(m.HEAP16 instanceof Int16Array)) missing.push("HEAP16");
  if (!(m.HEAP32 instanceof Int32Array)) missing.push("HEAP32");
  if (!(m.HEAPU32 instanceof Uint32Array)) missing.push("HEAPU32");
  if (typeof m.FS?.mount !== "function") missing.push("FS");
  for (const fn of ["createNode", "createStream", "getStream", "isSocket"] as const) {
    if (typeof m.FS?.[fn] !== "function") missing.push(`FS.${fn}`);
  }
  if (typeof m.SOCKFS?.createSocket !== "function" || typeof m.SOCKFS?.getSocket !== "function" || !m.SOCKFS?.root) missing.push("SOCKFS");
  if (typeof m.API !== "object" || m.API === null) missing.push("API");
  for (const name of SOCKET_HOOKS) if (typeof record[name] !== "function") missing.push(name);
  if (typeof m.ERRNO_CODES?.["EROFS"] !== "number") missing.push("ERRNO_CODES.EROFS");
  if (!(m.wasmExports["__stack_pointer"] instanceof WebAssembly.Global)) missing.push("wasmExports.__stack_pointer");
  if (!(m.wasmExports["memory"] instanceof WebAssembly.Memory)) missing.push("wasmExports.memory");
  if (missing.length > 0) {
    throw new Error(`Pyodide ${PYODIDE_VERSION} Module lacks members greenwasm needs: ${missing.join(", ")}`);
  }
}
