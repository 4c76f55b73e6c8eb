import type { GreenletHost } from "../greenlet/index.ts";
import type { Interrupts } from "../interrupts.ts";
import type { PyodideInternals } from "../pyodide.ts";
import { IoHost } from "./host.ts";

export { IoHost, IO_MODULE_NAME } from "./host.ts";
export { TIMED_OUT, INTERRUPTED_WAIT } from "./waits.ts";

/**
 * Register `_greenwasm_io` (blocking waits, run_sync of JS promises, green
 * thread starts). The greenlet host must be installed first: waits detach and
 * re-attach stacks through it.
 */
export function installIoHost(m: PyodideInternals, greenlets: GreenletHost, interrupts: Interrupts): IoHost {
  return new IoHost(m, greenlets, interrupts);
}
