import { SwitchError } from "../../engine/index.ts";
import { CB, ROUTE_JS } from "./control.ts";
import type { GreenletHost } from "./host.ts";
import type { Cont, GreenThread } from "./types.ts";

/**
 * The engine's park/unpark hooks: what the JS route saves when a stack parks
 * and restores when it runs again (the wasm route, route.ts, does the same
 * for the switches it covers, in wasm).
 *
 * - The host owns one reference to the greenlet object of each running
 *   continuation: dropped at park (switching disabled, so a finalizer it runs
 *   cannot switch from under JS), taken again at unpark.
 * - A kept park (the stack's trampoline keeps the stack pointer and thread
 *   state) marks its control block PARKED, so either route may resume it; a
 *   borrowed stack saves Pyodide's StackState and hands its thread state back.
 * - A greenlet sees the running asyncio loop of the stack that switched into
 *   it: the switch records that loop on the target (`ContData.loop`, see
 *   `GreenletHost.join`), the target's unpark installs it.
 * - Profile/trace functions move from the parking stack to the next resumed
 *   stack of the thread (hooks.ts).
 */
export class Parking {
  readonly #h: GreenletHost;

  constructor(host: GreenletHost) {
    this.#h = host;
  }

  park(c: Cont): void {
    const h = this.#h;
    const m = h.m;
    // A main instance's object is owned by its thread for the thread's life.
    if (c.data.kind === "greenlet" && c.data.obj) h.api.release(c.data.obj);
    // Read after the release, which may run a finalizer (and grow memory).
    const ts = c.data.tstate;
    const H = h.api.i32;
    const t = c.data.thread;
    if (t.hooks !== null || h.hooks.has(ts, H)) this.#parkHooks(t, ts);
    if (c.data.kind === "main") t.lastMain = c;
    if (!c.keptSp) {
      if (!c.region) c.data.stackState = new m.StackState();
      const ts = m._captureThreadState();
      if (!ts) throw new SwitchError("greenlet: no Pyodide task to hand control back to");
      c.data.tstate = ts;
      h.blocks.set(c, CB.TSTATE, ts);
    } else if (c.data.cb) {
      const at = c.data.cb >>> 2;
      H[at + CB.PARKED / 4] = 1;
      H[at + CB.ROUTE / 4] = ROUTE_JS;
    }
    h.running.leave();
  }

  unpark(c: Cont): void {
    const h = this.#h;
    if (!c.keptSp) {
      if (c.data.stackState) {
        c.data.stackState.restore();
        c.data.stackState = null;
      }
      h.m._restoreThreadState(c.data.tstate);
    }
    h.api.canSuspend = true;
    if (c.data.cb) {
      const H = h.api.i32;
      const at = c.data.cb >>> 2;
      H[at + CB.PARKED / 4] = 0;
      H[at + CB.OUTER / 4] = c.outerSp;
    }
    h.running.enter(c);
    if (c.data.thread.hooks !== null || h.hooks.has(c.data.tstate)) this.#unparkHooks(c);
    if (c.data.kind === "greenlet") {
      const H = h.api.i32;
      if (c.data.obj) h.api.retain(c.data.obj, H);
      this.#shareRunningLoop(c, H);
    }
  }

  /** The running asyncio loop of thread state `ts` (borrowed), to hand to the stack it switches to. */
  loopOf(ts: number): number {
    return this.#h.api.i32[(ts + this.#h.layout.runningLoop) >>> 2]! >>> 0;
  }

  /** A thread ended: nothing resumes to take the functions its last stack had. */
  dropHooks(t: GreenThread): void {
    const old = t.hooks;
    t.hooks = null;
    if (old) this.#h.api.withoutSwitching(() => this.#h.hooks.release(old));
  }

  /**
   * The parking stack's profile/trace functions move (taken off its thread
   * state, still the current one) to the thread's next resumed stack (hooks.ts).
   */
  #parkHooks(t: GreenThread, ts: number): void {
    const old = t.hooks;
    const hooks = this.#h.hooks;
    this.#h.api.withoutSwitching(() => {
      t.hooks = hooks.has(ts) ? hooks.take(ts) : null;
      if (old) hooks.release(old);
    });
  }

  #unparkHooks(c: Cont): void {
    const t = c.data.thread;
    const s = t.hooks;
    t.hooks = null;
    this.#h.api.withoutSwitching(() => this.#h.hooks.apply(c.data.tstate, s));
  }

  #shareRunningLoop(c: Cont, H: Int32Array): void {
    const slot = (c.data.tstate + this.#h.layout.runningLoop) >>> 2;
    const have = H[slot]! >>> 0;
    const want = c.data.loop;
    c.data.loop = 0;
    if (want === have) return;
    if (want) this.#h.api.incref(want);
    H[slot] = want;
    if (have) this.#h.api.decref(have);
  }
}
