import type { PyodideInternals } from "../pyodide.ts";
import { GreenletHost } from "./host.ts";
import type { GreenletHostOptions } from "./host.ts";
import { probeTstateLayout } from "./tstate-layout.ts";

export { GreenletHost, DEFAULT_GREENLET_STACK_SIZE } from "./host.ts";
export type { GreenletHostOptions, RunThreadOptions, StartedThread, ThreadOutcome } from "./host.ts";
export type { Detached } from "./running.ts";
export { LayoutProbeError } from "./tstate-layout.ts";

/**
 * Install the greenlet host into a booted Pyodide: probes the thread-state
 * layout, builds the trampolines and registers `_greenwasm_greenlet`. The
 * Python package `greenlet` (src/python/py/greenlet) must be importable.
 */
export function installGreenletHost(m: PyodideInternals, opts: GreenletHostOptions = {}): GreenletHost {
  return new GreenletHost(m, probeTstateLayout(m), opts);
}
