/**
 * Invariant checks for tests that run wasm. Call `checkInvariants(runtime)`
 * after every test body; it throws an AssertionError naming the broken one.
 */
import assert from "node:assert/strict";
import type { Runtime } from "./runtime.ts";
import { runtimeState } from "./runtime.ts";

/**
 * Assert that no promising call is still in flight through `runtime` and that
 * the C shadow-stack pointer is back at its value recorded right after boot.
 */
export function checkInvariants(runtime: Runtime): void {
  assert.equal(runtime.closed, false, "checkInvariants needs an open runtime");
  const state = runtimeState(runtime);
  assert.equal(state.activeRuns, 0, "a promising call is still in flight");
  assert.equal(
    state.module.stackSave(),
    state.baselineStackPointer,
    `C stack pointer ${state.module.stackSave()} differs from its post-boot value ${state.baselineStackPointer}`,
  );
}
