import type { PyodideInternals, StackStateInstance } from "../pyodide.ts";
import type { Cont } from "./types.ts";

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
 * - `regionActive` is true only while `current` runs on its own C-stack
 *   region, i.e. the shared `__stack_pointer` points into that region.
 * - Pyodide reads Module.stackStop only when it suspends a stack itself
 *   (time.sleep through its run_sync, socket syscalls, input()). On a region
 *   stack the view hands the stack pointer back to the stack below and
 *   yields an empty argument-stack slice; Pyodide's restore then writes that
 *   slice's address to Module.stackStop, which reactivates the region.
 *   Region stacks are never copied.
 */
export class RunningStack {
  current: Cont | null = null;
  regionActive = false;
  readonly #m: PyodideInternals;
  #stackStopStore = 0;
  readonly #hostSuspended = new Map<number, Cont>();

  constructor(m: PyodideInternals) {
    this.#m = m;
    this.#installStackStopView();
  }

  /** `c` starts or resumes running on this thread of control. */
  enter(c: Cont): void {
    this.regionActive = c.region !== null;
    this.current = c;
  }

  /** The running stack parked; nothing known runs now. */
  leave(): void {
    this.regionActive = false;
    this.current = null;
  }

  forget(c: Cont): void {
    if (this.current === c) this.current = null;
  }

  /**
   * Detach the running stack before it suspends on a JS promise (a greenwasm
   * wait): hands the thread state and the shared C stack pointer back to the
   * event loop. Call from a plain import right before the Suspending one;
   * `attach` (after resume, on the same stack) undoes it. Null: this stack
   * cannot suspend (a JS frame is on it, or no Pyodide task owns it).
   */
  detach(): Detached | null {
    const m = this.#m;
    if (!m.validSuspender.value) return null;
    const c = this.current;
    let stack: StackStateInstance | null = null;
    let region: Cont | null = null;
    const sp = m.stackSave();
    if (this.regionActive && c && c.region) {
      region = c;
      m.stackRestore(c.outerSp);
    } else {
      stack = new m.StackState();
    }
    const tstate = m._captureThreadState();
    if (!tstate) {
      m._PyErr_Clear();
      if (region) m.stackRestore(sp);
      else stack?.restore();
      return null;
    }
    this.leave();
    return { tstate, stack, region, sp };
  }

  /** Re-attach a stack detached by `detach`, first thing after it resumes. */
  attach(d: Detached): void {
    const m = this.#m;
    if (d.region) {
      d.region.outerSp = m.stackSave();
      m.stackRestore(d.sp);
      this.enter(d.region);
    } else {
      d.stack!.restore();
    }
    m._restoreThreadState(d.tstate);
    m.validSuspender.value = true;
  }

  #installStackStopView(): void {
    const mod = this.#m as unknown as Record<string, unknown>;
    this.#stackStopStore = (mod["stackStop"] as number | undefined) ?? 0;
    Object.defineProperty(mod, "stackStop", {
      configurable: true,
      get: () => {
        const c = this.current;
        if (!this.regionActive || !c || !c.region) {
          this.current = null; // a borrowed stack is being suspended (or parked)
          return this.#stackStopStore;
        }
        const sp = this.#m.stackSave();
        this.#hostSuspended.set(sp, c);
        this.leave();
        this.#m.stackRestore(c.outerSp);
        return sp;
      },
      set: (v: number) => {
        const c = this.#hostSuspended.get(v);
        if (c) {
          this.#hostSuspended.delete(v);
          c.outerSp = this.#m.stackSave();
          this.enter(c);
        }
        this.#stackStopStore = v;
      },
    });
  }
}
