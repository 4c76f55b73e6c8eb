/**
 * Detecting a runtime stuck in Python code (e.g. `while True: pass`).
 *
 * Python runs on the JS thread of its runtime, so a stuck handler also stops
 * that thread's timers: the timeout sweep cannot run. Another thread watches
 * a heartbeat in shared memory instead and, when it is stale for longer than
 * the request timeout while requests are in flight, writes SIGINT into the
 * runtime's interrupt buffer; Pyodide then raises KeyboardInterrupt in the
 * running code, and the adapter answers that request with 504.
 *
 * Shared layout (Int32Array on a SharedArrayBuffer):
 *   [0] interrupt buffer of the runtime (Pyodide polls it; 2 = SIGINT)
 *   [1] heartbeat: `Date.now()` modulo 2^31, written by the runtime's thread
 *   [2] busy: 1 while requests are in flight
 *   [3] stop: the watchdog thread exits when it becomes non-zero
 */
import { Worker } from "node:worker_threads";

const INTERRUPT = 0;
const BEAT = 1;
const BUSY = 2;
const STOP = 3;
const MASK = 0x7fffffff;
export const SIGINT = 2;

function clock(): number {
  return Date.now() & MASK;
}

export class Vitals {
  readonly shared: Int32Array;

  constructor(shared?: Int32Array) {
    this.shared = shared ?? new Int32Array(new SharedArrayBuffer(4 * Int32Array.BYTES_PER_ELEMENT));
    this.beat();
  }

  /** Element 0 only, as Pyodide's interrupt buffer. */
  get interruptBuffer(): Int32Array {
    return this.shared.subarray(INTERRUPT, INTERRUPT + 1);
  }

  beat(): void {
    Atomics.store(this.shared, BEAT, clock());
  }

  setBusy(busy: boolean): void {
    if (busy) this.beat();
    Atomics.store(this.shared, BUSY, busy ? 1 : 0);
  }

  /** Milliseconds since the last heartbeat. */
  staleFor(): number {
    return (clock() - Atomics.load(this.shared, BEAT)) & MASK;
  }

  get busy(): boolean {
    return Atomics.load(this.shared, BUSY) !== 0;
  }

  interrupt(): void {
    Atomics.store(this.shared, INTERRUPT, SIGINT);
    Atomics.notify(this.shared, INTERRUPT);
  }
}

/**
 * Decide, from another thread, whether to interrupt: returns true when the
 * runtime's thread has been silent for more than `timeoutMs` with requests
 * in flight. `state.fired` prevents interrupting the same stall twice.
 */
export function stuck(v: Vitals, timeoutMs: number, state: { fired: boolean; beat: number }): boolean {
  const beat = Atomics.load(v.shared, BEAT);
  if (beat !== state.beat) {
    state.beat = beat;
    state.fired = false;
  }
  if (state.fired || !v.busy || v.staleFor() <= timeoutMs) return false;
  state.fired = true;
  return true;
}

/** Source of the watchdog thread (plain JS, run with `eval: true`). */
const THREAD_SOURCE = `
const { workerData } = require("node:worker_threads");
const { shared, timeoutMs, periodMs } = workerData;
let beat = Atomics.load(shared, ${BEAT}), fired = false;
for (;;) {
  Atomics.wait(shared, ${STOP}, 0, periodMs);
  if (Atomics.load(shared, ${STOP}) !== 0) break;
  const b = Atomics.load(shared, ${BEAT});
  if (b !== beat) { beat = b; fired = false; continue; }
  const stale = ((Date.now() & ${MASK}) - b) & ${MASK};
  if (!fired && Atomics.load(shared, ${BUSY}) !== 0 && stale > timeoutMs) {
    fired = true;
    Atomics.store(shared, ${INTERRUPT}, ${SIGINT});
    Atomics.notify(shared, ${INTERRUPT});
  }
}
`;

/** A watchdog thread for a runtime running on this thread; `stop()` ends it. */
export function startWatchdog(v: Vitals, timeoutMs: number): { stop(): void } {
  if (timeoutMs <= 0) return { stop() {} };
  const periodMs = Math.max(10, Math.min(500, Math.floor(timeoutMs / 4)));
  const worker = new Worker(THREAD_SOURCE, { eval: true, workerData: { shared: v.shared, timeoutMs, periodMs }, stdout: false, stderr: false });
  worker.unref();
  return {
    stop() {
      Atomics.store(v.shared, STOP, 1);
      Atomics.notify(v.shared, STOP);
    },
  };
}
