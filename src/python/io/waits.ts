/**
 * Wait records behind `_greenwasm_io.waiter/wake/wait`: the only way a
 * Python stack blocks in greenwasm (locks, events, sleep, joins, run_sync of
 * asyncio futures). A record is created by `waiter()`, settled exactly once
 * by `wake(id, value)`, a timeout or an interrupt, and forgotten when the
 * stack that waited on it resumes (or at once by `wake` if nobody waits).
 *
 * Invariants:
 * - ids are positive and never reused while a record exists;
 * - a record's promise resolves to the wake value (an integer >= 0),
 *   {@link TIMED_OUT} or {@link INTERRUPTED_WAIT};
 * - `wake` returns false for a record already settled, so a lock can hand
 *   itself to the next waiter when one timed out at the same moment.
 */
import { INTERRUPTED, type Interrupts } from "../interrupts.ts";

/** What a wait resolves to when its timeout fires first. */
export const TIMED_OUT = -1;
/** What an interruptible wait resolves to on Ctrl-C / `Runtime.interrupt()`. */
export const INTERRUPTED_WAIT = -INTERRUPTED;

interface WaitRecord {
  promise: Promise<number>;
  resolve: (v: number) => void;
  settled: boolean;
  waiting: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** setImmediate where the host has it (Node), else a zero timeout. */
const yieldTask: (fn: () => void) => unknown =
  typeof setImmediate === "function" ? setImmediate : (fn) => setTimeout(fn, 0);

export class Waits {
  readonly #records = new Map<number, WaitRecord>();
  readonly #interrupts: Interrupts;
  #next = 1;
  #closed = false;

  constructor(interrupts: Interrupts) {
    this.#interrupts = interrupts;
  }

  /** Records alive now (created and not yet consumed); for leak checks. */
  get size(): number {
    return this.#records.size;
  }

  create(): number {
    const id = this.#next++;
    if (this.#next > 0x3fffffff) this.#next = 1;
    let resolve!: (v: number) => void;
    const promise = new Promise<number>((r) => (resolve = r));
    this.#records.set(id, { promise, resolve, settled: false, waiting: false, timer: undefined });
    return id;
  }

  /** Settle `id` with `value`; false if it was already settled or is unknown. */
  wake(id: number, value: number): boolean {
    const r = this.#records.get(id);
    if (!r || r.settled) return false;
    this.#settle(r, value); // kept until its wait consumes it, if nobody waits yet
    return true;
  }

  /** Forget a record nobody will wait on (e.g. a waiter abandoned by an exception). */
  drop(id: number): void {
    const r = this.#records.get(id);
    if (!r) return;
    this.#settle(r, TIMED_OUT);
    this.#records.delete(id);
  }

  /**
   * The runtime closed: from now on no wait settles (timers are cleared, wakes
   * ignored), so threads still running in it (daemon threads polling with
   * timeouts) stop, and nothing keeps the host's event loop alive. Their
   * suspended stacks are collected with the runtime.
   */
  close(): void {
    this.#closed = true;
    for (const r of this.#records.values()) {
      if (r.timer !== undefined) clearTimeout(r.timer);
      r.timer = undefined;
    }
  }

  /**
   * The promise a stack suspends on for `id`. `timeout` in seconds (< 0: none;
   * 0: yield to the event loop once). The record is deleted when it settles.
   */
  wait(id: number, timeout: number, interruptible: boolean): Promise<number> | undefined {
    const r = this.#records.get(id);
    if (!r || r.waiting) return undefined;
    r.waiting = true;
    if (!r.settled && !this.#closed) {
      if (timeout === 0) yieldTask(() => this.#settle(r, TIMED_OUT));
      else if (timeout > 0) r.timer = setTimeout(() => this.#settle(r, TIMED_OUT), Math.min(timeout * 1000, 2 ** 31 - 1));
      if (interruptible) {
        const raced = this.#interrupts.race(r.promise);
        void raced.then((v) => {
          if (v === INTERRUPTED && !r.settled) this.#settle(r, INTERRUPTED_WAIT);
        });
      }
    }
    return r.promise.then((v) => {
      this.#records.delete(id);
      return v;
    });
  }

  #settle(r: WaitRecord, value: number): void {
    if (r.settled || this.#closed) return;
    r.settled = true;
    if (r.timer !== undefined) clearTimeout(r.timer);
    r.timer = undefined;
    r.resolve(value);
  }
}
