/**
 * Invariant checks for tests that run wasm. Call `checkInvariants(runtime)`
 * after every test body; it throws an AssertionError naming the broken one.
 */
import assert from "node:assert/strict";
import { liveContinuations } from "../engine/index.ts";
import type { Runtime } from "./runtime.ts";
import { runtimeState } from "./runtime.ts";

/** Leak counters of a runtime at rest (no run in flight). */
export interface InvariantBaseline {
  /** `greenlets.stats()`: started greenlets, greenlet threads, main instances, control blocks in use. */
  greenlets: { greenlets: number; threads: number; mainInstances: number; controlBlocks: number };
  /** `liveContinuations()`: unfinished continuations of every switcher in this process. */
  continuations: number;
}

export interface InvariantOptions {
  /** Compare `greenlets.stats()` with the baseline. Default: true. */
  greenlets?: boolean;
  /**
   * Compare the process-wide `liveContinuations()` with the baseline. Only
   * meaningful while no other runtime of this process is running. Default: true.
   */
  continuations?: boolean;
}

const baselines = new WeakMap<Runtime, InvariantBaseline>();

/**
 * Wait until every green thread of `runtime` has ended (daemon threads may
 * outlive the run that started them), or fail after `timeoutMs`.
 */
export async function settleThreads(runtime: Runtime, timeoutMs = 5000): Promise<void> {
  const io = runtimeState(runtime).io;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new assert.AssertionError({ message: `${io.liveThreads} green thread(s) still running after ${timeoutMs} ms` })), timeoutMs);
  });
  try {
    await Promise.race([io.whenIdle(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function snapshot(runtime: Runtime): InvariantBaseline {
  return { greenlets: runtimeState(runtime).greenlets.stats(), continuations: liveContinuations() };
}

/**
 * Record the leak counters `checkInvariants` compares against (call right
 * after `createRuntime`, or whenever a test deliberately keeps greenlets).
 * Without it, the first `checkInvariants` call records them.
 */
export function recordBaseline(runtime: Runtime): InvariantBaseline {
  const state = runtimeState(runtime);
  assert.equal(state.activeRuns, 0, "record the baseline while no run is in flight");
  const b = snapshot(runtime);
  baselines.set(runtime, b);
  return b;
}

/**
 * Assert that no promising call is still in flight through `runtime`, that
 * the C shadow-stack pointer is back at its value recorded right after boot,
 * and that no greenlet, greenlet thread, main instance or continuation
 * leaked relative to the baseline (see {@link recordBaseline}).
 */
export function checkInvariants(runtime: Runtime, options: InvariantOptions = {}): void {
  assert.equal(runtime.closed, false, "checkInvariants needs an open runtime");
  const state = runtimeState(runtime);
  assert.equal(state.activeRuns, 0, "a promising call is still in flight");
  assert.equal(
    state.module.stackSave(),
    state.baselineStackPointer,
    `C stack pointer ${state.module.stackSave()} differs from its post-boot value ${state.baselineStackPointer}`,
  );
  const base = baselines.get(runtime);
  if (!base) {
    recordBaseline(runtime);
    return;
  }
  const now = snapshot(runtime);
  if (options.greenlets !== false) {
    assert.deepEqual(now.greenlets, base.greenlets, "greenlets, greenlet threads, main instances or control blocks leaked (greenlets.stats() vs baseline)");
  }
  if (options.continuations !== false) {
    assert.equal(now.continuations, base.continuations, "continuations leaked (liveContinuations() vs baseline)");
  }
}
