import type { StackRegion } from "./region.ts";

/**
 * Continuations on JSPI: each one is a wasm call stack (a `promising` call),
 * optionally its own C-stack region, and host data. Exactly one continuation
 * per Switcher is `running`; the others are `new`, `suspended` or `finished`.
 *
 * Protocol with the wasm trampolines (cross-language contract):
 *
 *   running A calls the Suspending import  ──► switcher.switchTo(B, payload)
 *        park(A); returns a promise that resolves to A.id when A is resumed
 *   B's promise resolves (next microtask) ──► trampoline calls `after(B.id)`
 *        → Switcher.resumed(B): unpark(B), returns B's delivered payload
 *   a new B is started by host.start(B)    ──► its entry trampoline calls
 *        `enter(B.id)` → Switcher.entered(B) first, `leave(B.id)` → exited(B) last
 *
 * A trampoline may keep the stack pointer itself (`switchFrom(A, B, p, sp)`):
 * the engine then records `sp` (A's stack pointer at the suspension) but reads
 * and writes no stack pointer for A's park or its next resume. The trampoline
 * saves the pointer in a wasm local, sets it to A.outerSp before suspending,
 * and after the resume reads the outer pointer, restores its own and calls
 * `resumed(A, outer)`. Either way the pointer is balanced at every suspension.
 * A trampoline that also keeps all host state can switch between two such
 * continuations with `handOff(A, B, sp)`: the engine then calls neither
 * `park(A)` nor `unpark(B)` and B's trampoline does not call `after`.
 *
 * Between park and unpark no guest code of this switcher runs, and the shared
 * machine state (stack pointer, host "current" state) is what it was before
 * the parked continuation was resumed: other JS, including other switchers,
 * may run in that gap.
 */

export type ContinuationState = "new" | "running" | "suspended" | "finishing" | "finished";

/** Host side of a switcher: how to read and write the C stack pointer, and host state hooks. */
export interface SwitchHost<T> {
  getSp(): number;
  setSp(sp: number): void;
  /** Save host state of `c`, on c's stack, right before it suspends or exits (`c.keptSp`: its trampoline keeps the stack pointer). */
  park(c: Continuation<T>): void;
  /** Restore host state of `c`, on c's stack, right after it resumes or enters (`c.keptSp` as at its park). */
  unpark(c: Continuation<T>): void;
  /** Begin running a `new` continuation: call its promising entry (which calls enter/leave). */
  start(c: Continuation<T>): Promise<unknown>;
  /** A started continuation's promising call settled (after `leave`), or failed. */
  settled?(c: Continuation<T>, error: unknown): void;
}

export class SwitchError extends Error {
  override name = "SwitchError";
}

export class Continuation<T> {
  state: ContinuationState;
  /** Saved C stack pointer while not running. */
  sp = 0;
  /** Stack pointer of whoever ran before this continuation was (re)entered; own-region only. */
  outerSp = 0;
  /** Parked by a trampoline that keeps the stack pointer (see the protocol above). */
  keptSp = false;
  /** Payload delivered by the switch that resumes this continuation. */
  delivered: number = 0;
  resolve: ((id: number) => void) | null = null;
  readonly id: number;
  readonly switcher: Switcher<T>;
  readonly region: StackRegion | null;
  data: T;

  constructor(switcher: Switcher<T>, id: number, data: T, region: StackRegion | null, state: ContinuationState) {
    this.switcher = switcher;
    this.id = id;
    this.data = data;
    this.region = region;
    this.state = state;
    if (region) this.sp = region.top;
  }
}

/** Ids are unique across all switchers so trampolines can find the continuation from an id. */
const registry = new Map<number, Continuation<unknown>>();
let nextId = 1;

export function continuationById<T>(id: number): Continuation<T> {
  const c = registry.get(id);
  if (!c) throw new SwitchError(`no continuation with id ${id}`);
  return c as Continuation<T>;
}

/** Number of continuations (of every switcher) that are not finished: for leak checks. */
export function liveContinuations(): number {
  return registry.size;
}

/**
 * One thread of continuations. `main` is the stack that created the switcher:
 * it borrows whatever C stack it runs on (no region) and is never finished by
 * the switcher.
 */
export class Switcher<T> {
  readonly host: SwitchHost<T>;
  readonly main: Continuation<T>;
  current: Continuation<T>;

  constructor(host: SwitchHost<T>, mainData: T) {
    this.host = host;
    this.main = this.register(mainData, null, "running");
    this.current = this.main;
  }

  private register(data: T, region: StackRegion | null, state: ContinuationState): Continuation<T> {
    const c = new Continuation(this, nextId++, data, region, state);
    registry.set(c.id, c as Continuation<unknown>);
    return c;
  }

  /** A continuation that will run on `region` once something switches to it. */
  create(data: T, region: StackRegion): Continuation<T> {
    return this.register(data, region, "new");
  }

  /**
   * Called inside the Suspending import on the current stack. Parks the current
   * continuation and schedules `target`; the import returns the promise.
   */
  switchTo(target: Continuation<T>, payload: number): Promise<number> {
    return this.switchFrom(this.current, target, payload);
  }

  /**
   * `switchTo` with an explicit running continuation, for hosts where several
   * stacks of one switcher can be running at once (adopted host stacks, each
   * possibly suspended by the host itself).
   */
  switchFrom(from: Continuation<T>, target: Continuation<T>, payload: number, trampolineSp: number | null = null): Promise<number> {
    this.check(target, from);
    if (trampolineSp === null) this.park(from);
    else {
      this.keep(from, trampolineSp);
      this.host.park(from);
    }
    const parked = this.suspend(from);
    this.deliver(target, payload);
    return parked;
  }

  /**
   * A switch whose trampoline saves `from`'s host state and restores
   * `target`'s itself (stack pointer and every host hook): the engine only
   * records it. `from` parks kept, as `switchFrom` with a trampoline pointer
   * but without `host.park`; `target`, parked kept, runs again without
   * `resumed` or `host.unpark`. Returns `from`'s parked promise; `target`'s
   * resolves to its id. The payload travels outside the engine.
   */
  handOff(from: Continuation<T>, target: Continuation<T>, trampolineSp: number): Promise<number> {
    if (from.switcher !== this || from.state !== "running") throw new SwitchError(`cannot hand off from a ${from.state} continuation`);
    if (target.switcher !== this || target.state !== "suspended" || !target.keptSp || target === from) {
      throw new SwitchError(`cannot hand off to a ${target.state} continuation${target.keptSp ? "" : " not parked kept"}`);
    }
    this.keep(from, trampolineSp);
    const parked = this.suspend(from);
    target.keptSp = false;
    this.deliver(target, 0);
    return parked;
  }

  /** `c` parks with its trampoline keeping the stack pointer, which was `sp`. */
  private keep(c: Continuation<T>, sp: number): void {
    c.sp = sp;
    c.keptSp = true;
  }

  /** `c` is suspended: the promise resolves (to its id) when something resumes it. */
  private suspend(c: Continuation<T>): Promise<number> {
    c.state = "suspended";
    return new Promise<number>((resolve) => {
      c.resolve = resolve;
    });
  }

  /**
   * The current continuation is about to return from its entry: hand control to
   * `target` without suspending. The caller must return to the entry trampoline,
   * whose `leave` calls `exited()`.
   */
  finishTo(target: Continuation<T>, payload: number): void {
    this.finishFrom(this.current, target, payload);
  }

  finishFrom(from: Continuation<T>, target: Continuation<T>, payload: number): void {
    if (from === this.main) throw new SwitchError("the main continuation cannot finish");
    this.check(target, from);
    from.state = "finishing";
    this.deliver(target, payload);
  }

  /**
   * Register a stack the host is already running (no region, not started by
   * the switcher) as a continuation of this switcher, in state `running`.
   */
  adopt(data: T): Continuation<T> {
    return this.register(data, null, "running");
  }

  /** Start a `new` continuation from outside any of this switcher's stacks (e.g. from JS). */
  launch(target: Continuation<T>, payload: number): void {
    if (target.switcher !== this || target.state !== "new") throw new SwitchError(`cannot launch a ${target.state} continuation`);
    this.deliver(target, payload);
  }

  /** Forget an adopted continuation whose host stack has ended while running. */
  abandon(c: Continuation<T>): void {
    if (c === this.main) throw new SwitchError("cannot abandon the main continuation");
    this.release(c);
  }

  private check(target: Continuation<T>, from: Continuation<T>): void {
    if (target.switcher !== this) throw new SwitchError("cannot switch to a continuation of another switcher");
    if (target === from) throw new SwitchError("cannot switch to the running continuation");
    if (target.state !== "new" && target.state !== "suspended") {
      throw new SwitchError(`cannot switch to a ${target.state} continuation`);
    }
  }

  private deliver(target: Continuation<T>, payload: number): void {
    target.delivered = payload;
    this.current = target;
    if (target.state === "new") {
      target.state = "running";
      queueMicrotask(() => this.begin(target));
      return;
    }
    target.state = "running";
    const resolve = target.resolve!;
    target.resolve = null;
    resolve(target.id);
  }

  private begin(c: Continuation<T>): void {
    let settledPromise: Promise<unknown>;
    try {
      settledPromise = this.host.start(c);
    } catch (e) {
      this.fail(c, e);
      return;
    }
    settledPromise.then(
      () => this.host.settled?.(c, undefined),
      (e: unknown) => this.fail(c, e),
    );
  }

  private fail(c: Continuation<T>, e: unknown): void {
    if (c.state !== "finished") this.release(c);
    if (this.host.settled) this.host.settled(c, e);
    else queueMicrotask(() => { throw e; });
  }

  /**
   * Trampoline `after`: the resumed continuation runs again. Returns its
   * payload. `outerSp`: for a continuation parked with a kept stack pointer,
   * the pointer its trampoline found on resuming.
   */
  resumed(c: Continuation<T>, outerSp = 0): number {
    if (c.keptSp) {
      if (c.region) c.outerSp = outerSp;
      this.host.unpark(c);
      c.keptSp = false;
    } else this.unpark(c);
    return c.delivered;
  }

  /** Trampoline `enter`: first thing a new continuation's stack does. */
  entered(c: Continuation<T>): number {
    this.unpark(c);
    return c.delivered;
  }

  /** Trampoline `leave`: last thing a finishing continuation's stack does. */
  exited(c: Continuation<T>): void {
    this.park(c);
    this.release(c);
  }

  /**
   * The current continuation's stack failed (its promising call rejected, so
   * `fail` released it) without switching away: give control to `target`
   * (typically main, to re-raise the failure there). Nothing is parked; the C
   * stack pointer is restored by the target's unpark. Call from `host.settled`.
   */
  recover(target: Continuation<T>, payload: number): void {
    const from = this.current;
    if (from.state !== "finished") throw new SwitchError(`cannot recover from a ${from.state} continuation`);
    this.check(target, from);
    this.deliver(target, payload);
  }

  private park(c: Continuation<T>): void {
    c.sp = this.host.getSp();
    this.host.park(c);
    if (c.region) this.host.setSp(c.outerSp);
  }

  private unpark(c: Continuation<T>): void {
    if (c.region) c.outerSp = this.host.getSp();
    this.host.unpark(c);
    this.host.setSp(c.sp);
  }

  private release(c: Continuation<T>): void {
    c.state = "finished";
    registry.delete(c.id);
  }

  /** Forget a continuation that will never run again (its stack is abandoned). */
  discard(c: Continuation<T>): void {
    if (c.state === "running" || c.state === "finishing") throw new SwitchError(`cannot discard a ${c.state} continuation`);
    c.resolve = null;
    this.release(c);
  }

  /** End of this thread: forget main. */
  close(): void {
    registry.delete(this.main.id);
    this.main.state = "finished";
  }
}
