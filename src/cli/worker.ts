/**
 * Worker entry that hosts one Python runtime for the CLI (see protocol.ts).
 * Exactly one `exit` or `error` message is posted; the main thread then ends
 * the process.
 */
import { writeSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { createRuntime, RuntimeOptionsError } from "../python/index.ts";
import type { MainToWorker, WorkerInit, WorkerToMain } from "./protocol.ts";

const port = parentPort;
if (!port) throw new Error("greenwasm worker must run in a worker thread");
const init = workerData as WorkerInit;

function post(msg: WorkerToMain): void {
  port!.postMessage(msg);
}

/**
 * Write all bytes to a host fd, waiting briefly when a non-blocking pipe is
 * full. Other errors (EPIPE, ...) propagate: Pyodide maps a Node error code to
 * the matching OSError in Python (e.g. BrokenPipeError).
 */
function writeAll(fd: number, bytes: Uint8Array): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  let off = 0;
  while (off < bytes.length) {
    try {
      off += writeSync(fd, bytes, off, bytes.length - off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
      Atomics.wait(pause, 0, 0, 2);
    }
  }
}

/** stdin chunks forwarded by the main thread, requested lazily. */
async function* stdinFromMain(): AsyncGenerator<Uint8Array> {
  const queue: (Uint8Array | null)[] = [];
  let wake: (() => void) | undefined;
  port!.on("message", (msg: MainToWorker) => {
    queue.push(msg.type === "stdin" ? msg.data : null);
    wake?.();
  });
  post({ type: "stdin-want" });
  for (;;) {
    const next = queue.shift();
    if (next === null) return;
    if (next !== undefined) {
      yield next;
      continue;
    }
    await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
  }
}

async function main(): Promise<void> {
  let runtime;
  try {
    runtime = await createRuntime({
      paths: init.runtime.paths,
      mounts: init.runtime.mounts,
      env: init.runtime.env,
      allowJs: init.runtime.allowJs,
      allowNet: init.runtime.allowNet,
      cwd: init.runtime.cwd,
      stdout: (b) => writeAll(1, b),
      stderr: (b) => writeAll(2, b),
      stdin: { [Symbol.asyncIterator]: () => stdinFromMain() },
      interruptBuffer: init.control.subarray(0, 1),
    });
  } catch (err) {
    post({ type: "error", message: err instanceof Error ? err.message : String(err), usage: err instanceof RuntimeOptionsError });
    return;
  }
  Atomics.store(init.control, 1, 1);
  const t = init.target;
  const code =
    t.kind === "file"
      ? await runtime.runFile(init.guestScript ?? t.path, init.args)
      : t.kind === "code"
        ? await runtime.runCode(t.code, init.args)
        : await runtime.runModule(t.name, init.args);
  await runtime.close();
  post({ type: "exit", code });
}

// An exception escaping Python code that Pyodide ran outside the main run
// (e.g. a KeyboardInterrupt landing in an event-loop callback) ends the
// program, as it would have propagated to the top in native Python.
process.on("unhandledRejection", (err: unknown) => {
  const text = err instanceof Error ? err.message : String(err);
  writeAll(2, new TextEncoder().encode(text.endsWith("\n") ? text : text + "\n"));
  post({ type: "exit", code: /\bKeyboardInterrupt\b/.test(text) ? 130 : 1 });
});

main().catch((err: unknown) => {
  post({ type: "error", message: err instanceof Error ? (err.stack ?? err.message) : String(err), usage: false });
});
