import type { GreenletHost, Detached, StartedThread } from "../greenlet/index.ts";
import { installBuiltins } from "../greenlet/builtins.ts";
import type { PyApi } from "../greenlet/pyapi.ts";
import type { PyodideInternals } from "../pyodide.ts";
import type { Interrupts } from "../interrupts.ts";
import { buildStubs, SUSPEND } from "./stubs.ts";
import { Waits } from "./waits.ts";

export const IO_MODULE_NAME = "_greenwasm_io";

/** A suspension in flight: set up by a `prep`, consumed by `finish` on the same stack. */
interface Suspension {
  detached: Detached;
  kind: "wait" | "js";
  value: unknown;
  failed: boolean;
}

/**
 * The host side of `_greenwasm_io`: the blocking primitives every greenwasm
 * wait is built on (see src/python/py/greenwasm/_green_thread.py for the
 * Python contract) and green thread starts.
 *
 * Invariant: between a `prep` that returns SUSPEND and the matching `finish`,
 * the stack is detached (`GreenletHost.detach`): no thread state of it is
 * current and the shared C stack pointer belongs to whoever runs next.
 */
export class IoHost {
  readonly waits: Waits;
  readonly #m: PyodideInternals;
  readonly #api: PyApi;
  readonly #greenlets: GreenletHost;
  readonly #suspensions = new Map<number, Suspension>();
  #pending: Promise<number> | null = null;
  #nextToken = 1;
  #runtimeError: number;
  #notImplemented: number;
  /** Green threads started and not yet finished. */
  liveThreads = 0;
  #idle: (() => void)[] = [];

  /** The runtime closed: blocked green threads stay blocked for good (see `Waits.close`). */
  close(): void {
    this.waits.close();
  }

  /** Resolves once no green thread is running or blocked. */
  whenIdle(): Promise<void> {
    if (this.liveThreads === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #threadEnded(): void {
    if (--this.liveThreads > 0) return;
    const idle = this.#idle;
    this.#idle = [];
    for (const f of idle) f();
  }

  constructor(m: PyodideInternals, greenlets: GreenletHost, interrupts: Interrupts) {
    this.#m = m;
    this.#api = greenlets.api;
    this.#greenlets = greenlets;
    this.waits = new Waits(interrupts);
    this.#runtimeError = m.HEAPU32[m._PyExc_RuntimeError >>> 2]!;
    this.#notImplemented = m.__Py_NotImplementedStruct;
    const api = this.#api;
    const stubs = buildStubs({
      wait: () => this.#takePending(),
      finish: (token) => this.#finish(token),
      blocking: {
        wait: {
          prep: (_s, a, n) => {
            if (n !== 3) return api.raise(api.typeError, "wait(id, timeout, interruptible) takes 3 arguments");
            const id = api.asLong(api.arg(a, 0));
            const timeout = m._PyFloat_AsDouble(api.arg(a, 1));
            if (m._PyErr_Occurred()) return 0;
            if (!api.canSuspend) {
              this.waits.drop(id);
              return this.#cannotBlock();
            }
            const promise = this.waits.wait(id, timeout, api.isTrue(api.arg(a, 2)));
            if (!promise) return api.raise(this.#runtimeError, `greenwasm: no pending waiter ${id}`);
            const r = this.#suspend("wait", promise);
            if (r === 0) this.waits.drop(id);
            return r;
          },
        },
        await_js: {
          prep: (_s, a, n) => {
            if (n !== 1) return api.raise(api.typeError, "await_js(proxy) takes 1 argument");
            const p = api.arg(a, 0);
            if (!m._JsProxy_Check(p)) return api.newRef(this.#notImplemented);
            let promise: Promise<unknown>;
            try {
              promise = Promise.resolve(m._JsProxy_Val(p));
            } catch (e) {
              m.handle_js_error(e);
              return 0;
            }
            return this.#suspend("js", promise);
          },
        },
      },
      plain: {
        waiter: () => api.long(this.waits.create()),
        wake: (_s, a) => api.bool(this.waits.wake(api.asLong(api.arg(a, 0)), api.asLong(api.arg(a, 1)))),
        drop: (_s, a) => {
          this.waits.drop(api.asLong(api.arg(a, 0)));
          return api.none();
        },
        can_block: () => api.bool(api.canSuspend),
        start_thread: (_s, a, n) => {
          if (n !== 2) return api.raise(api.typeError, "start_thread(fn, stack_size) takes 2 arguments");
          return this.#startThread(api.arg(a, 0), api.asLong(api.arg(a, 1)));
        },
        stats: () => api.tuple([api.long(this.liveThreads), api.long(this.waits.size)]),
      },
    });
    installBuiltins(m, IO_MODULE_NAME, stubs);
  }

  /** Raise the RuntimeError of a wait where the stack cannot suspend (a JS frame is on it). */
  #cannotBlock(): number {
    return this.#api.raise(this.#runtimeError,
      "greenwasm: cannot block here: this Python code was called synchronously from JavaScript, " +
      "so its stack cannot suspend (and no other thread could run to release what it waits for)");
  }

  #suspend(kind: Suspension["kind"], promise: Promise<unknown>): number {
    const detached = this.#greenlets.running.detach();
    if (!detached) {
      void promise.catch(() => {});
      return this.#cannotBlock();
    }
    const token = this.#nextToken++;
    const s: Suspension = { detached, kind, value: undefined, failed: false };
    this.#suspensions.set(token, s);
    this.#pending = promise.then(
      (v) => {
        s.value = v;
        return token;
      },
      (e: unknown) => {
        s.value = e;
        s.failed = true;
        return token;
      },
    );
    return SUSPEND;
  }

  #takePending(): Promise<number> {
    const p = this.#pending!;
    this.#pending = null;
    return p;
  }

  #finish(token: number): number {
    const s = this.#suspensions.get(token)!;
    this.#suspensions.delete(token);
    this.#greenlets.running.attach(s.detached);
    const m = this.#m;
    if (s.kind === "wait") return this.#api.long(s.value as number);
    if (s.failed) {
      m.handle_js_error(s.value);
      return 0;
    }
    return m._js2python(s.value);
  }

  #startThread(fn: number, stackSize: number): number {
    const api = this.#api;
    const m = this.#m;
    const args = m._PyTuple_New(0);
    let started: StartedThread;
    try {
      started = this.#greenlets.startThread(fn, args, 0, { isolated: true, stackSize });
    } catch (e) {
      return api.raise(api.memoryError, `greenwasm: cannot start a thread: ${(e as Error).message}`);
    } finally {
      m._Py_DecRef(args);
    }
    const { token, done } = started;
    this.liveThreads++;
    void done.then(
      (out) => {
        this.#threadEnded();
        if (out.result) api.decrefNoSwitch(out.result);
        if (out.error) {
          m._PyErr_SetRaisedException(out.error);
          m._PyErr_Print();
        }
      },
      (e: unknown) => {
        this.#threadEnded();
        console.error("greenwasm: a green thread's stack failed:", e);
      },
    );
    return api.long(token);
  }
}
