/**
 * Messages between the CLI main thread and the worker that hosts Python.
 *
 * Main → worker: stdin chunks, only after the worker asked with `stdin-want`
 * (so stdin is never consumed by a program that does not read it).
 * Worker → main: `stdin-want` once, then exactly one `exit` or `error`.
 * Python's stdout/stderr do not travel as messages: the worker writes them to
 * fds 1 and 2 synchronously, so output streams even while the worker is busy.
 * `control` is an Int32Array(2) on a SharedArrayBuffer: element 0 is the
 * interrupt buffer (the main thread stores 2 on SIGINT and calls
 * Atomics.notify); the worker sets element 1 to 1 once Python has booted,
 * before running the program. Shared memory, not a message, so the main
 * thread's SIGINT handler can never see "not booted" after program output.
 */
import type { RuntimeArgs, RunTarget } from "./args.ts";

/** `workerData` of the Python worker. */
export interface WorkerInit {
  runtime: RuntimeArgs;
  target: RunTarget;
  /** Guest path of the script when `target.kind === "file"`. */
  guestScript: string | undefined;
  args: string[];
  control: Int32Array;
}

export type MainToWorker = { type: "stdin"; data: Uint8Array } | { type: "stdin-end" };

export type WorkerToMain =
  | { type: "stdin-want" }
  | { type: "exit"; code: number }
  | { type: "error"; message: string; usage: boolean };
