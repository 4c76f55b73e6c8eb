/**
 * JS side of the ServerLoop contract (src/python/py/greenwasm/_loop.py):
 * schedules pumps (one promising call into Python per batch) and collects
 * the ASGI requests that go into the next pump.
 *
 * Invariants: at most one immediate and one timer are pending; new requests
 * always arrive with a pump scheduled (`add` wakes), and a pump takes every
 * request collected so far.
 */
import type { PyProxy } from "../python/index.ts";

export class PumpScheduler {
  readonly #fail: (err: unknown) => void;
  #pump: PyProxy | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #timer: NodeJS.Timeout | undefined;
  #heads: string[] = [];
  #bodies: string[] = [];

  /** `fail` receives a rejected pump's error. */
  constructor(fail: (err: unknown) => void) {
    this.#fail = fail;
  }

  /** The Python `pump(heads, bodies)` callable (owned by the caller). */
  set pump(fn: PyProxy | undefined) {
    this.#pump = fn;
  }

  /** Queue a request record and its first body bytes for the next pump. */
  add(record: string, body: string | undefined): void {
    this.#heads.push(record);
    if (body) this.#bodies.push(body);
    this.wake();
  }

  /** Forget queued requests (the runtime is gone). */
  clear(): void {
    this.#heads = [];
    this.#bodies = [];
  }

  /** `hooks.wake()`: a pump soon. */
  wake(): void {
    this.#immediate ??= setImmediate(this.#fromImmediate);
  }

  /** `hooks.unwake()`: the requested pump is not needed. */
  unwake(): void {
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#immediate = undefined;
  }

  /** `hooks.timer(ms)`: a pump in `ms` ms, replacing the previous timer; negative cancels. */
  timer(ms: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = ms < 0 ? undefined : setTimeout(this.#fromTimer, ms);
  }

  /** Cancel everything scheduled. */
  stop(): void {
    this.unwake();
    this.timer(-1);
    this.clear();
  }

  readonly #fromImmediate = (): void => {
    this.#immediate = undefined;
    this.#run();
  };

  readonly #fromTimer = (): void => {
    this.#timer = undefined;
    this.#run();
  };

  #run(): void {
    const pump = this.#pump;
    if (!pump) return;
    let heads: string | undefined;
    let bodies: string | undefined;
    if (this.#heads.length > 0) {
      heads = this.#heads.join("\0");
      bodies = this.#bodies.length > 0 ? this.#bodies.join("") : undefined;
      this.#heads = [];
      this.#bodies = [];
    }
    (pump.callPromising(heads, bodies) as Promise<unknown>).catch(this.#fail);
  }
}
