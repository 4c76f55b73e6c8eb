/**
 * Interrupt delivery to Python code that is suspended in a JS wait.
 *
 * Pyodide polls the interrupt buffer only while Python bytecode runs. When
 * Python is suspended (JSPI) in a greenwasm wait — a stdin read or
 * `time.sleep` — the wait itself must notice the interrupt: it resolves to
 * {@link INTERRUPTED}, the buffer is reset to 0 (so Pyodide does not raise a
 * second time), and the Python side raises KeyboardInterrupt.
 *
 * Interrupts are noticed through `Atomics.waitAsync` on an Int32Array backed
 * by a SharedArrayBuffer (another thread stores 2 and calls `Atomics.notify`),
 * or through `wake()` on the same thread. No polling; at most one
 * `waitAsync` is outstanding, and only while someone waits.
 */

/** Signal number a wait resolves to when interrupted (SIGINT). */
export const INTERRUPTED = 2;

/**
 * The object to hand to `pyodide.setInterruptBuffer` instead of `buffer`.
 *
 * CPython's Emscripten signal poll reads element 0 and then writes 0, two
 * separate accesses: a signal another thread stores in between is lost (seen
 * as a Ctrl-C that does nothing, about once in tens of tries under load). This
 * view turns the read into `Atomics.exchange(buffer, 0, 0)` and ignores the
 * poll's write of 0, so consuming a signal is a single atomic step.
 */
export function atomicPollView(buffer: Int32Array | Uint8Array): Int32Array | Uint8Array {
  const view = Object.create(null) as Record<number, number>;
  Object.defineProperty(view, 0, {
    get: () => Atomics.exchange(buffer, 0, 0),
    set: (value: number) => {
      if (value !== 0) Atomics.store(buffer, 0, value);
    },
  });
  Object.defineProperty(view, "length", { value: 1 });
  return view as unknown as Int32Array | Uint8Array;
}

export class Interrupts {
  #buffer: Int32Array | Uint8Array | undefined;
  #waiters = new Set<() => void>();
  #watching = false;

  constructor(buffer: Int32Array | Uint8Array | undefined) {
    this.#buffer = buffer;
  }

  /**
   * Race `promise` against an interrupt. On interrupt resolves to
   * {@link INTERRUPTED} (buffer reset to 0); `promise` keeps running.
   */
  race<T>(promise: Promise<T>): Promise<T | typeof INTERRUPTED> {
    return new Promise<T | typeof INTERRUPTED>((resolve, reject) => {
      const onInterrupt = (): void => resolve(INTERRUPTED);
      this.#waiters.add(onInterrupt);
      promise.then(
        (value) => {
          this.#waiters.delete(onInterrupt);
          resolve(value);
        },
        (err: unknown) => {
          this.#waiters.delete(onInterrupt);
          reject(err);
        },
      );
      this.#watch();
    });
  }

  /** Interrupt every current waiter. Returns whether there was one. */
  wake(): boolean {
    if (this.#waiters.size === 0) return false;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    if (this.#buffer) Atomics.store(this.#buffer, 0, 0);
    for (const w of waiters) w();
    return true;
  }

  /** Request an interrupt: wake a waiter, else write SIGINT for Pyodide's poll. */
  request(): void {
    if (this.wake()) return;
    const buf = this.#buffer;
    if (!buf) return;
    Atomics.store(buf, 0, INTERRUPTED);
    if (buf instanceof Int32Array && buf.buffer instanceof SharedArrayBuffer) Atomics.notify(buf, 0);
  }

  #watch(): void {
    const buf = this.#buffer;
    if (this.#watching || this.#waiters.size === 0) return;
    if (!(buf instanceof Int32Array) || !(buf.buffer instanceof SharedArrayBuffer)) return;
    const seen = Atomics.load(buf, 0);
    if (seen === INTERRUPTED) {
      queueMicrotask(() => this.wake());
      return;
    }
    const waiter = Atomics.waitAsync(buf, 0, seen);
    if (!waiter.async) {
      queueMicrotask(() => this.#watch());
      return;
    }
    this.#watching = true;
    void waiter.value.then(() => {
      this.#watching = false;
      this.#watch();
    });
  }
}
