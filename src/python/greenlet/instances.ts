import type { GreenletHost } from "./host.ts";
import type { Cont } from "./types.ts";

/**
 * Main instances: host stacks that run Python outside any greenlet (a
 * runtime entry, or a Pyodide task such as an asyncio step), adopted as
 * continuations of their greenlet thread when greenlet code first needs them.
 *
 * Invariants:
 * - `byTstate` maps the thread state of every started greenlet, thread entry
 *   and adopted main instance to its continuation.
 * - A main instance whose Pyodide task ended is dropped, at the latest when
 *   the task's promise settles: its thread state is then unlinked from the
 *   interpreter (freed), or reused by another task (its id changed).
 */
export class Instances {
  readonly byTstate = new Map<number, Cont>();
  readonly interp: number;
  readonly #host: GreenletHost;
  /** Host stacks adopted by `current()` (not thread entries, which end through `leave`). */
  readonly #adopted = new Set<Cont>();

  /** `PyThreadState_Get`, read once off the (slow to search) Module. */
  readonly #tstateGet: () => number;

  constructor(host: GreenletHost) {
    this.#host = host;
    this.#tstateGet = host.m._PyThreadState_Get;
    this.interp = host.m._PyInterpreterState_Get();
    this.#installTaskEndSweep();
  }

  readId(ts: number): bigint {
    const H = this.#host.m.HEAPU32;
    const at = (ts + this.#host.layout.contextVer + 8) >>> 2;
    return (BigInt(H[at + 1]!) << 32n) | BigInt(H[at]!);
  }

  /** A main instance's task is still alive: its tstate was not freed or reused. */
  alive(c: Cont): boolean {
    const ts = c.data.tstate;
    return this.#host.m.HEAPU32[(ts + 8) >>> 2] === this.interp && this.readId(ts) === c.data.tstateId;
  }

  /**
   * The continuation of the running stack if already known. running.current
   * is a cache of the stack running now; a Pyodide task that returns (rather
   * than suspends) leaves it stale, so it counts only while its thread state
   * is the current one. A main instance counts only while its task lives.
   */
  #known(ts: number): Cont | null {
    const last = this.#host.running.current;
    if (last && last.data.tstate === ts) return last;
    const known = this.byTstate.get(ts);
    return known && (known.data.kind === "greenlet" || this.alive(known)) ? known : null;
  }

  /** The continuation running on the current stack, adopting the stack as a main instance if new. */
  current(): Cont {
    const ts = this.#tstateGet();
    const known = this.#known(ts);
    if (known) return known;
    const stale = this.byTstate.get(ts);
    if (stale) this.dropInstance(stale);
    const thread = this.#host.threads.get(this.tokenOfContext()) ?? this.#host.threads.get(0)!;
    const c = thread.switcher.adopt(this.#host.data("main", thread, ts));
    c.data.tstateId = this.readId(ts);
    this.byTstate.set(ts, c);
    thread.instances.add(c);
    this.#adopted.add(c);
    if (this.#adopted.size > 32 && (this.#adopted.size & (this.#adopted.size - 1)) === 0) this.#sweep();
    return c;
  }

  /** The greenlet thread of the running stack, without adopting the stack (`thread()` builtin, `get_ident`). */
  threadToken(): number {
    const known = this.#known(this.#tstateGet());
    if (known) return known.data.thread.token;
    const token = this.tokenOfContext();
    return this.#host.threads.has(token) ? token : 0;
  }

  tokenOfContext(): number {
    const var_ = this.#host.py.threadVar;
    if (!var_) return 0;
    const out = this.#host.m._malloc(4);
    try {
      if (this.#host.m._PyContextVar_Get(var_, 0, out) !== 0) {
        this.#host.m._PyErr_Clear();
        return 0;
      }
      const v = this.#host.m.HEAPU32[out >>> 2]!;
      if (!v) return 0;
      const token = this.#host.api.asLong(v);
      this.#host.api.decref(v);
      return token;
    } finally {
      this.#host.m._free(out);
    }
  }

  /**
   * Forget the main instances of Pyodide tasks as soon as the task ends, not
   * at the next sweep: wraps Module.promisingApply, through which Pyodide
   * starts every promising task (asyncio steps, awaited calls).
   */
  #installTaskEndSweep(): void {
    const m = this.#host.m;
    const apply = m.promisingApply;
    const sweepAll = (): void => {
      if (this.#adopted.size > 0) this.#sweep();
    };
    m.promisingApply = (...args: unknown[]) => {
      const p = apply(...args);
      if (!(p instanceof Promise)) return p;
      return p.then(
        (v) => {
          sweepAll();
          return v;
        },
        (e: unknown) => {
          sweepAll();
          throw e;
        },
      );
    };
  }

  /**
   * Forget adopted main instances whose host task has ended. A task's thread
   * state is freed when the task ends, and freed memory may still hold the
   * interpreter pointer and id that `alive` compares (nothing reused it yet);
   * the interpreter's thread-state list is the authority here: deleting a
   * thread state unlinks it.
   */
  #sweep(): void {
    const linked = this.#linkedThreadStates();
    for (const c of [...this.#adopted]) {
      if (c.state === "finished") this.#adopted.delete(c);
      else if (c.state === "running" && !(linked.has(c.data.tstate >>> 0) && this.alive(c))) this.dropInstance(c);
    }
  }

  #linkedThreadStates(): Set<number> {
    const m = this.#host.m;
    const linked = new Set<number>();
    for (let ts = m._PyInterpreterState_ThreadHead(this.interp) >>> 0; ts !== 0; ts = m._PyThreadState_Next(ts) >>> 0) linked.add(ts);
    return linked;
  }

  dropInstance(c: Cont): void {
    this.#adopted.delete(c);
    if (this.byTstate.get(c.data.tstate) === c) this.byTstate.delete(c.data.tstate);
    c.data.thread.instances.delete(c);
    if (c.data.thread.lastMain === c) c.data.thread.lastMain = null;
    this.#host.running.forget(c);
    if (c.state !== "finished") c.switcher.abandon(c);
  }
}
