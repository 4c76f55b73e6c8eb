import type { PyodideInternals } from "../pyodide.ts";
import type { PyApi } from "./pyapi.ts";
import type { TstateLayout } from "./tstate-layout.ts";

/**
 * sys.setprofile / sys.settrace per greenlet thread.
 *
 * Native greenlet runs all greenlets of a thread on one PyThreadState, so a
 * profile or trace function set in any of them applies to the whole thread.
 * Here every greenlet has its own thread state; the functions of the stack
 * that parks move to the stack of the same thread that resumes next, through
 * CPython's own PyEval_SetProfile / PyEval_SetTrace (which keep the
 * interpreter's count of profiled/traced threads, and so its
 * instrumentation, right).
 *
 * Invariants:
 * - A parked stack's thread state has no profile or trace function (unless
 *   set from outside, e.g. threading.setprofile_all_threads): as natively,
 *   only each thread's running stack carries them.
 * - `GreenThread.hooks` holds the snapshot (owning references to the two
 *   objects) taken off the stack of the thread that parked last; null when
 *   it had neither. The next unpark of the thread consumes it.
 * - With neither function set anywhere in a thread, a switch costs two reads
 *   of the parking thread state and two of the resuming one.
 */
export interface HookSnapshot {
  profileFunc: number;
  profileObj: number;
  traceFunc: number;
  traceObj: number;
}

export class ThreadHooks {
  readonly #m: PyodideInternals;
  readonly #api: PyApi;
  readonly #l: TstateLayout;
  readonly #profileFunc: number;
  readonly #traceFunc: number;

  constructor(api: PyApi, layout: TstateLayout) {
    this.#m = api.m;
    this.#api = api;
    this.#l = layout;
    this.#profileFunc = layout.profileFunc;
    this.#traceFunc = layout.traceFunc;
  }

  /** Whether thread state `ts` has a profile or trace function (the cheap check, on every switch). */
  has(ts: number, H: Int32Array = this.#api.i32): boolean {
    return (H[(ts + this.#profileFunc) >>> 2]! | H[(ts + this.#traceFunc) >>> 2]!) !== 0;
  }

  /** Snapshot `ts`'s functions; the snapshot owns references to their objects. */
  capture(ts: number): HookSnapshot {
    const H = this.#m.HEAPU32;
    const l = this.#l;
    const s = {
      profileFunc: H[(ts + l.profileFunc) >>> 2]!,
      profileObj: H[(ts + l.profileObj) >>> 2]!,
      traceFunc: H[(ts + l.traceFunc) >>> 2]!,
      traceObj: H[(ts + l.traceObj) >>> 2]!,
    };
    if (s.profileObj) this.#m._Py_IncRef(s.profileObj);
    if (s.traceObj) this.#m._Py_IncRef(s.traceObj);
    return s;
  }

  /** `capture` the current thread state `ts`'s functions and remove them from it (switching disabled by the caller). */
  take(ts: number): HookSnapshot {
    const s = this.capture(ts);
    this.apply(ts, null);
    return s;
  }

  release(s: HookSnapshot): void {
    if (s.profileObj) this.#m._Py_DecRef(s.profileObj);
    if (s.traceObj) this.#m._Py_DecRef(s.traceObj);
  }

  /**
   * Make the current thread state `ts` carry the functions of `s` (none if
   * null), then release `s`. Switching must be disabled by the caller: audit
   * hooks and finalizers of replaced objects may run Python.
   */
  apply(ts: number, s: HookSnapshot | null): void {
    const m = this.#m;
    const H = m.HEAPU32;
    const l = this.#l;
    const pf = s?.profileFunc ?? 0;
    const po = s?.profileObj ?? 0;
    const tf = s?.traceFunc ?? 0;
    const to = s?.traceObj ?? 0;
    const exc = m._PyErr_GetRaisedException();
    if (H[(ts + l.profileFunc) >>> 2] !== pf || H[(ts + l.profileObj) >>> 2] !== po) m._PyEval_SetProfile(pf, po);
    if (H[(ts + l.traceFunc) >>> 2] !== tf || H[(ts + l.traceObj) >>> 2] !== to) m._PyEval_SetTrace(tf, to);
    if (exc) m._PyErr_SetRaisedException(exc);
    if (s) this.release(s);
  }
}
