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
 * The getter greenwasm installs as Pyodide's `Module.Py_EmscriptenSignalBuffer`
 * (see `installInterruptPoll` in pyodide.ts), in place of the buffer itself.
 *
 * Cross-language contract (Pyodide 314.0.7): while bytecode runs, CPython calls
 * the JS helper `_Py_CheckEmscriptenSignals_Helper` about every 0.4 µs. It reads
 * the property three times: `if (!B) return 0`, then `r = B[0]`, then `B[0] = 0`
 * inside a try whose catch returns 0. Pyodide's `checkInterrupt` reads it once
 * and then `[0]`.
 *
 * Two costs and one race shaped this:
 * - Handing Pyodide the shared Int32Array itself costs about 10% of interpreter
 *   speed, but its read and its write of 0 are two steps: a signal another
 *   thread stores in between is lost (a Ctrl-C that does nothing, seen about
 *   once in tens of tries under load).
 * - An accessor on element 0 makes the consumption one `Atomics.exchange`, but
 *   element accessors put the object in V8's slow dictionary mode: every helper
 *   call paid ~20 ns, which made CPU-bound Python 1.7-2× slower.
 *
 * So the getter answers `undefined` while no signal is pending (the helper
 * returns at its first test, one plain load), and only while one is pending
 * the slow `view`, whose element 0 is consumed by `Atomics.exchange` and
 * ignores writes of 0. Invariant: after `view` consumed a signal, the next
 * read of the property returns `view` again (`phase`), so the helper's
 * `B[0] = 0` cannot throw into its catch and drop the signal it just read.
 */
export function interruptPoll(buffer: Int32Array | Uint8Array): () => unknown {
  let phase = 0;
  const view = Object.create(null) as Record<number, number>;
  Object.defineProperty(view, 0, {
    get: () => {
      const signal = Atomics.exchange(buffer, 0, 0);
      if (phase < 1) phase = 1;
      return signal;
    },
    set: (value: number) => {
      if (value !== 0) Atomics.store(buffer, 0, value);
    },
  });
  Object.defineProperty(view, "length", { value: 1 });
  return () => {
    if (phase > 0) {
      phase--;
      return view;
    }
    if (Atomics.load(buffer, 0) === 0) return undefined;
    phase = 2;
    return view;
  };
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
