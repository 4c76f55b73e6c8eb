import type { PyodideInternals, StackStateInstance } from "../pyodide.ts";
import type { Cont } from "./types.ts";
import { CB } from "./control.ts";
import type { ControlBlocks } from "./control.ts";
import type { PyApi } from "./pyapi.ts";

/** A stack suspended by a greenwasm wait (see `RunningStack.detach`). */
export interface Detached {
  tstate: number;
  /** Borrowed stack: its saved argument-stack slice. */
  stack: StackStateInstance | null;
  /** Region stack: its continuation. */
  region: Cont | null;
  /** The stack pointer when it suspended (region stacks resume there). */
  sp: number;
}

/**
 * Which continuation runs now, and who owns the shared C stack pointer.
 *
 * Invariants:
 * - `current` is the continuation running now, or null when unknown (the
 *   host then finds it from the thread state). It is cleared whenever a stack
 *   parks, detaches or is suspended by Pyodide.
 * - A running region stack (every region continuation has a control block)
 *   is named by `blocks.running`, its block, which the wasm switch route
 *   reads and sets too (route.ts); a running stack without a block (a
 *   borrowed-stack main instance) by `#borrowed`. `blocks.running` is
 *   non-zero only while the shared `__stack_pointer` points into that
 *   stack's region.
 * - Pyodide reads Module.stackStop only when it suspends a stack itself
 *   (time.sleep through its run_sync, socket syscalls, input()). On a region
 *   stack the view hands the stack pointer back to the stack below and
 *   yields an empty argument-stack slice; Pyodide's restore then writes that
 *   slice's address to Module.stackStop, which reactivates the region.
 *   Region stacks are never copied.
 */
export class RunningStack {
  #borrowed: Cont | null = null;
  readonly #m: PyodideInternals;
  readonly #api: PyApi;
  readonly #blocks: ControlBlocks;
  /** Pyodide exports used on every wait, read once off the (slow to search) Module. */
  readonly #stackSave: () => number;
  readonly #stackRestore: (sp: number) => void;
  readonly #capture: () => number;
  readonly #restore: (ts: number) => void;
  #stackStopStore = 0;
  readonly #hostSuspended = new Map<number, Cont>();

  constructor(m: PyodideInternals, api: PyApi, blocks: ControlBlocks) {
    this.#m = m;
    this.#api = api;
    this.#blocks = blocks;
    this.#stackSave = m.stackSave;
    this.#stackRestore = m.stackRestore;
    this.#capture = m._captureThreadState;
    this.#restore = m._restoreThreadState;
    this.#installStackStopView();
  }

  get current(): Cont | null {
    const cb = this.#blocks.running;
    return cb !== 0 ? this.#blocks.contOf(cb) : this.#borrowed;
  }

  /** `c` starts or resumes running on this thread of control. */
  enter(c: Cont): void {
    this.#blocks.running = c.data.cb;
    this.#borrowed = c.data.cb ? null : c;
  }

  /** The running stack parked; nothing known runs now. */
  leave(): void {
    this.#blocks.running = 0;
    this.#borrowed = null;
  }

  forget(c: Cont): void {
    if (this.current === c) this.leave();
  }

  /**
   * Detach the running stack before it suspends on a JS promise (a greenwasm
   * wait): hands the thread state and the shared C stack pointer back to the
   * event loop. Call from a plain import right before the Suspending one;
   * `attach` (after resume, on the same stack) undoes it. Null: this stack
   * cannot suspend (a JS frame is on it, or no Pyodide task owns it).
   */
  detach(): Detached | null {
    if (!this.#api.canSuspend) return null;
    const cb = this.#blocks.running;
    let stack: StackStateInstance | null = null;
    let region: Cont | null = null;
    const sp = this.#stackSave();
    if (cb !== 0) {
      region = this.#blocks.contOf(cb);
      this.#stackRestore(this.#blocks.get(region, CB.OUTER));
    } else {
      stack = new this.#m.StackState();
    }
    const tstate = this.#capture();
    if (!tstate) {
      this.#m._PyErr_Clear();
      if (region) this.#stackRestore(sp);
      else stack?.restore();
      return null;
    }
    this.leave();
    return { tstate, stack, region, sp };
  }

  /** Re-attach a stack detached by `detach`, first thing after it resumes. */
  attach(d: Detached): void {
    if (d.region) {
      this.#blocks.set(d.region, CB.OUTER, this.#stackSave());
      this.#stackRestore(d.sp);
      this.enter(d.region);
    } else {
      d.stack!.restore();
    }
    this.#restore(d.tstate);
    this.#api.canSuspend = true;
  }

  #installStackStopView(): void {
    const mod = this.#m as unknown as Record<string, unknown>;
    this.#stackStopStore = (mod["stackStop"] as number | undefined) ?? 0;
    Object.defineProperty(mod, "stackStop", {
      configurable: true,
      get: () => {
        const cb = this.#blocks.running;
        this.leave();
        if (cb === 0) return this.#stackStopStore; // a borrowed stack is being suspended (or parked)
        const c = this.#blocks.contOf(cb);
        const sp = this.#stackSave();
        this.#hostSuspended.set(sp, c);
        this.#stackRestore(this.#blocks.get(c, CB.OUTER));
        return sp;
      },
      set: (v: number) => {
        const c = this.#hostSuspended.get(v);
        if (c) {
          this.#hostSuspended.delete(v);
          this.#blocks.set(c, CB.OUTER, this.#stackSave());
          this.enter(c);
        }
        this.#stackStopStore = v;
      },
    });
  }
}
