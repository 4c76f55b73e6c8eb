import { suspenderFlag } from "../pyodide.ts";
import type { PyodideInternals } from "../pyodide.ts";

/** Counts at or above this mark immortal objects (ob_refcnt, the i32 at offset 0; wasm32 GIL build). */
export const MORTAL_LIMIT = 1 << 28;

/**
 * The handful of CPython C-API operations the greenlet host performs from JS.
 * Pointers are wasm32 addresses. Functions named like CPython's keep its
 * reference semantics: `long`, `bool`, `none`, `newRef`, `tuple2` return new
 * references; `arg` returns borrowed ones.
 */
export class PyApi {
  readonly m: PyodideInternals;
  readonly none_ptr: number;
  readonly typeError: number;
  readonly memoryError: number;
  readonly suspenderAt: number;
  private readonly msgBuf: { ptr: number; size: number } = { ptr: 0, size: 0 };
  #u32: Uint32Array;
  #i32: Int32Array;

  constructor(m: PyodideInternals) {
    this.m = m;
    this.none_ptr = m.__Py_NoneStruct;
    // PyExc_* exports are addresses of `PyObject *` globals.
    this.typeError = m.HEAPU32[m._PyExc_TypeError >>> 2]!;
    this.memoryError = m.HEAPU32[m._PyExc_MemoryError >>> 2]!;
    this.#u32 = m.HEAPU32;
    this.#i32 = m.HEAP32;
    this.suspenderAt = suspenderFlag(m);
  }

  /**
   * `Module.HEAPU32` / `HEAP32` without a lookup on the (large, slow) Module
   * object each time. Invariant: linear memory is not shared, so growing it
   * detaches the old buffer and a stale view has length 0; it is then
   * re-read from the Module, which Emscripten has updated.
   */
  get u32(): Uint32Array {
    const h = this.#u32;
    return h.length !== 0 ? h : (this.#u32 = this.m.HEAPU32);
  }
  get i32(): Int32Array {
    const h = this.#i32;
    return h.length !== 0 ? h : (this.#i32 = this.m.HEAP32);
  }

  incref(p: number): void {
    this.m._Py_IncRef(p);
  }
  decref(p: number): void {
    this.m._Py_DecRef(p);
  }
  /** Drop a reference with stack switching disabled, so finalizers it runs cannot switch from under JS. */
  decrefNoSwitch(p: number): void {
    this.withoutSwitching(() => this.m._Py_DecRef(p));
  }
  /** Call `fn(*args)` (args: a tuple, stolen) with switching disabled; returns a new ref or 0. */
  callNoSwitch(fn: number, args: number): number {
    try {
      return this.withoutSwitching(() => this.m._PyObject_Call(fn, args, 0));
    } finally {
      this.m._Py_DecRef(args);
    }
  }
  /**
   * Pyodide's `validSuspender.value` ("the running wasm code may suspend"),
   * read and written in linear memory, where it lives (pyodide.ts
   * `suspenderFlag`); `suspenderAt` is its address, for wasm stubs.
   */
  get canSuspend(): boolean {
    return this.i32[this.suspenderAt >>> 2] !== 0;
  }
  set canSuspend(v: boolean) {
    this.i32[this.suspenderAt >>> 2] = v ? 1 : 0;
  }
  /** Run `f` with Pyodide's suspension flag off, so Python code it runs cannot switch under a JS frame. */
  withoutSwitching<R>(f: () => R): R {
    const saved = this.canSuspend;
    this.canSuspend = false;
    try {
      return f();
    } finally {
      this.canSuspend = saved;
    }
  }
  /**
   * Py_INCREF / Py_DECREF of an ordinary (mortal, GIL build) object done in
   * JS when the count cannot reach zero. Cross-language contract: ob_refcnt
   * is the i32 at offset 0 of every object on wasm32; immortal objects have
   * huge counts and take the C path. `H`: a current view (`i32`), if the
   * caller holds one.
   */
  retain(p: number, H: Int32Array = this.i32): void {
    const rc = H[p >>> 2]!;
    if (rc > 0 && rc < MORTAL_LIMIT) H[p >>> 2] = rc + 1;
    else this.m._Py_IncRef(p);
  }
  /** Drop a reference; if it is the last, deallocate with switching disabled (see decrefNoSwitch). */
  release(p: number, H: Int32Array = this.i32): void {
    const rc = H[p >>> 2]!;
    if (rc > 1 && rc < MORTAL_LIMIT) H[p >>> 2] = rc - 1;
    else this.decrefNoSwitch(p);
  }
  newRef(p: number): number {
    this.m._Py_IncRef(p);
    return p;
  }
  none(): number {
    return this.newRef(this.none_ptr);
  }
  bool(v: boolean): number {
    return this.m._PyBool_FromLong(v ? 1 : 0);
  }
  long(n: number): number {
    return this.m._PyLong_FromLong(n);
  }
  asLong(p: number): number {
    return this.m._PyLong_AsLong(p);
  }
  /**
   * An address passed from Python as `id(obj)`. C `long` is 32-bit on wasm32,
   * so addresses at or above 2 GiB need the unsigned conversion.
   */
  asAddress(p: number): number {
    return this.m._PyLong_AsUnsignedLong(p) >>> 0;
  }
  /** The i-th argument of a METH_FASTCALL call (borrowed). */
  arg(args: number, i: number): number {
    return this.u32[(args >>> 2) + i]!;
  }
  /** New tuples; they steal the references passed in. */
  tuple1(a: number): number {
    return this.tuple([a]);
  }
  tuple3(a: number, b: number, c: number): number {
    return this.tuple([a, b, c]);
  }
  tuple4(a: number, b: number, c: number, d: number): number {
    return this.tuple([a, b, c, d]);
  }
  tuple(items: number[]): number {
    const t = this.m._PyTuple_New(items.length);
    items.forEach((v, i) => this.m._PyTuple_SetItem(t, i, v));
    return t;
  }
  isTrue(p: number): boolean {
    return p === this.m.__Py_TrueStruct;
  }
  /** A new 2-tuple; steals the references to `a` and `b`. */
  tuple2(a: number, b: number): number {
    return this.tuple([a, b]);
  }
  setError(type: number, msg: string): void {
    const bytes = new TextEncoder().encode(msg);
    if (this.msgBuf.size < bytes.length + 1) {
      if (this.msgBuf.ptr) this.m._free(this.msgBuf.ptr);
      this.msgBuf.size = bytes.length + 1;
      this.msgBuf.ptr = this.m._malloc(this.msgBuf.size);
    }
    this.m.HEAPU8.set(bytes, this.msgBuf.ptr);
    this.m.HEAPU8[this.msgBuf.ptr + bytes.length] = 0;
    this.m._PyErr_SetString(type, this.msgBuf.ptr);
  }
  /** Set an exception and return NULL, for a builtin's error return. */
  raise(type: number, msg: string): number {
    this.setError(type, msg);
    return 0;
  }
}
