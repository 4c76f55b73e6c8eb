import { SwitchError, continuationById } from "../../engine/index.ts";
import type { GreenletHost } from "./host.ts";
import type { ContData, Cont } from "./types.ts";
import { CB } from "./control.ts";

/**
 * The life of a continuation's Python side: its thread state from `start`
 * (what it inherits from the stack that spawned it) through its entry
 * (`enter`/`startItem`), where control goes when its `run` ends (`leave`),
 * to freeing everything it holds (`destroy`). Called by the host's engine
 * hooks and trampolines; the host owns the maps these update.
 */
export class Lifecycle {
  readonly #h: GreenletHost;

  constructor(host: GreenletHost) {
    this.#h = host;
  }

  start(c: Cont): Promise<number> {
    const m = this.#h.m;
    const ts = m._PyThreadState_New(this.#h.instances.interp);
    if (!ts) throw new SwitchError("greenlet: cannot allocate a thread state");
    const region = c.region!;
    m._PyUnstable_ThreadState_SetStackProtection(ts, region.base, region.top - region.base);
    // A greenlet shares its creator's thread dict and thread-locals, a thread
    // entry those of the stack starting it; a green thread gets its own dict,
    // made now so its greenlets share it. Its context starts empty.
    const shared = c.data.inherited ?? (c.data.isolated ? null : this.inheritable(m._PyThreadState_Get()));
    c.data.inherited = null;
    if (shared) {
      const { dict, localKey, localSentinel } = this.#h.layout;
      [dict, localKey, localSentinel].forEach((off, i) => (m.HEAPU32[(ts + off) >>> 2] = shared[i]!)); // references move in
    } else {
      m.__PyThreadState_GetDict(ts);
    }
    c.data.tstate = ts;
    this.#h.blocks.set(c, CB.TSTATE, ts);
    c.data.tstateId = this.#h.instances.readId(ts);
    if (c.data.pendingContext) {
      this.#h.m.HEAPU32[(ts + this.#h.layout.context) >>> 2] = c.data.pendingContext; // reference moves in
      c.data.pendingContext = 0;
    }
    this.#h.instances.byTstate.set(ts, c);
    return this.#h.tramp.entry(c.id);
  }

  /**
   * The thread dict and thread-local key/sentinel of thread state `from`
   * (new references), for a stack started from there to share at its start.
   */
  inheritable(from: number): number[] {
    const { dict, localKey, localSentinel } = this.#h.layout;
    const H = this.#h.m.HEAPU32;
    return [dict, localKey, localSentinel].map((off) => {
      const v = H[(from + off) >>> 2]!;
      if (v) this.#h.api.incref(v);
      return v;
    });
  }

  /** The start payload is the tuple (run, args, kwargs-or-None), owned until `leave`. */
  enter(id: number): number {
    const c = continuationById<ContData>(id);
    c.data.startPayload = c.switcher.entered(c);
    return this.startItem(id, 0);
  }

  startItem(id: number, i: number): number {
    const p = continuationById<ContData>(id).data.startPayload;
    const item = this.#h.m._PyTuple_GetItem(p, i);
    return item === this.#h.api.none_ptr ? 0 : item;
  }

  /**
   * A continuation's `run` returned (result) or raised (result 0). A thread
   * entry just records the outcome. A greenlet asks Python's
   * `_on_finish(outcome, raised)` where control goes — it returns
   * (target, payload, throwing) and runs with switching disabled (a JS frame
   * is on the stack here).
   */
  leave(id: number, result: number): number {
    const c = continuationById<ContData>(id);
    const api = this.#h.api;
    const m = this.#h.m;
    // The block's OUTER is the authority (route.ts); the engine's exit restores c.outerSp.
    if (c.data.cb) c.outerSp = this.#h.blocks.get(c, CB.OUTER) >>> 0;
    const raised = result === 0;
    const outcome = raised ? m._PyErr_GetRaisedException() : result;
    if (c.data.startPayload) api.decref(c.data.startPayload);
    c.data.startPayload = 0;
    if (c.data.kind === "main") {
      c.data.outcome = raised ? { result: 0, error: outcome } : { result: outcome, error: 0 };
      c.switcher.exited(c);
      this.#h.parking.dropHooks(c.data.thread);
      return 0;
    }
    this.#h.enterTracing();
    const decision = api.callNoSwitch(this.#h.py.onFinish, api.tuple2(outcome, api.bool(raised)));
    this.#h.leaveTracing();
    let target: Cont | null = null;
    let payload = 0;
    let throwing = false;
    if (decision) {
      target = this.#h.resolveTarget(m._PyTuple_GetItem(decision, 0) >>> 0, c);
      payload = api.newRef(m._PyTuple_GetItem(decision, 1));
      throwing = api.isTrue(m._PyTuple_GetItem(decision, 2));
      api.decref(decision);
    } else {
      payload = m._PyErr_GetRaisedException();
      throwing = true;
    }
    if (!target || (target.state !== "new" && target.state !== "suspended")) {
      // Nowhere legitimate to go: wake the thread's last main instance with the error.
      target = c.data.thread.lastMain;
      if (!target || target.state !== "suspended") throw new SwitchError("greenlet finished with no live parent to resume");
    }
    this.#h.unmap(c);
    this.#h.join(c, target);
    target.data.throwing = throwing;
    c.switcher.finishFrom(c, target, payload);
    c.switcher.exited(c);
    return 0;
  }

  settled(c: Cont, error: unknown): void {
    if (error !== undefined) {
      console.error(`greenlet: a stack failed: ${String((error as Error)?.stack ?? error)}`);
      if (c.data.kind === "greenlet") {
        const main = c.data.thread.lastMain;
        if (main?.state === "suspended") main.switcher.recover(main, 0);
      } else if (!c.data.outcome) {
        c.data.outcome = { result: 0, error: 0 };
      }
    }
    this.destroy(c);
    if (c.data.kind === "main") c.data.onExit?.(c.data.outcome ?? { result: 0, error: 0 });
  }

  destroy(c: Cont): void {
    const m = this.#h.m;
    if (c.state !== "finished") c.switcher.discard(c);
    this.#h.blocks.release(c);
    if (c.data.kind === "greenlet") this.#h.unmap(c);
    else c.data.thread.instances.delete(c);
    if (c.data.thread.lastMain === c) c.data.thread.lastMain = null;
    this.#h.running.forget(c);
    if (c.data.tstate && this.#h.instances.byTstate.get(c.data.tstate) === c) {
      this.#h.instances.byTstate.delete(c.data.tstate);
      m._PyThreadState_Clear(c.data.tstate);
      m._PyThreadState_Delete(c.data.tstate);
      c.data.tstate = 0;
    }
    if (c.data.pendingContext) this.#h.api.decref(c.data.pendingContext);
    c.data.pendingContext = 0;
    for (const v of c.data.inherited ?? []) if (v) this.#h.api.decref(v);
    c.data.inherited = null;
    if (c.data.block) {
      m._free(c.data.block);
      c.data.block = 0;
    }
  }
}
