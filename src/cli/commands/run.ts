/**
 * `greenwasm run script.py [args]`, `run -c CODE [args]`, `run -m MODULE [args]`.
 *
 * Python runs in a worker thread so that Ctrl-C can interrupt CPU-bound code:
 * SIGINT stores 2 into a shared interrupt buffer that Pyodide polls. Ctrl-C
 * before Python has booted, a second Ctrl-C while the first is still
 * unconsumed, or a third one in any case ends the worker (exit 130).
 *
 * The script's host directory is mounted read-only at {@link SCRIPT_GUEST_DIR}
 * (python puts the script's directory on sys.path), unless the script already
 * lies inside a `--mount`, in which case its guest path is used.
 *
 * Unless `--allow-js`, the worker is created after disabling JS code
 * generation from strings for new contexts (see src/python/sandbox.ts).
 */
import { statSync, writeSync } from "node:fs";
import { basename, dirname, relative, resolve, sep } from "node:path";
import { setFlagsFromString } from "node:v8";
import { Worker } from "node:worker_threads";
import { parseRunArgs, UsageError, type RunArgs } from "../args.ts";
import type { MainToWorker, WorkerInit, WorkerToMain } from "../protocol.ts";

/** Guest directory where the script's host directory is mounted. */
export const SCRIPT_GUEST_DIR = "/app";
/** Exit status after an uncaught KeyboardInterrupt (128 + SIGINT), as python. */
export const EXIT_SIGINT = 130;

function say(message: string): void {
  writeSync(2, `greenwasm: ${message}\n`);
}

/** Guest path for a host script, adding a read-only mount of its directory if needed. */
export function placeScript(parsed: RunArgs, cwd: string = process.cwd()): string {
  if (parsed.target.kind !== "file") throw new Error("placeScript needs a file target");
  const host = resolve(cwd, parsed.target.path);
  let isFile = false;
  try {
    isFile = statSync(host).isFile();
  } catch {
    throw new UsageError(`can't open file ${JSON.stringify(parsed.target.path)}: [Errno 2] No such file or directory`);
  }
  if (!isFile) throw new UsageError(`can't open file ${JSON.stringify(parsed.target.path)}: not a regular file`);
  for (const m of parsed.runtime.mounts) {
    const rel = relative(m.host, host);
    if (rel !== "" && !rel.startsWith("..") && !rel.startsWith(sep)) {
      return `${m.guest.replace(/\/$/, "")}/${rel.split(sep).join("/")}`;
    }
  }
  parsed.runtime.mounts.push({ host: dirname(host), guest: SCRIPT_GUEST_DIR, writable: false });
  return `${SCRIPT_GUEST_DIR}/${basename(host)}`;
}

function workerUrl(): URL {
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  return new URL(`../worker${ext}`, import.meta.url);
}

/** Run the command; resolves to the process exit status. */
export async function runCommand(argv: readonly string[]): Promise<number> {
  let parsed: RunArgs;
  let guestScript: string | undefined;
  try {
    parsed = parseRunArgs(argv);
    if (parsed.target.kind === "file") guestScript = placeScript(parsed);
  } catch (err) {
    if (err instanceof UsageError) {
      say(err.message);
      say("usage: greenwasm run [options] (script.py | -c CODE | -m MODULE) [args...]  (see greenwasm --help)");
      return 2;
    }
    throw err;
  }

  if (!parsed.runtime.allowJs) setFlagsFromString("--disallow-code-generation-from-strings");
  const control = new Int32Array(new SharedArrayBuffer(8));
  const init: WorkerInit = { runtime: parsed.runtime, target: parsed.target, guestScript, args: parsed.args, control };
  const worker = new Worker(workerUrl(), { workerData: init, stdin: false, stdout: false, stderr: false });

  return await new Promise<number>((resolveExit) => {
    let done = false;
    let stdinStarted = false;
    let sigints = 0;
    const finish = (code: number): void => {
      if (done) return;
      done = true;
      process.off("SIGINT", onSigint);
      if (stdinStarted) process.stdin.pause();
      void worker.terminate();
      resolveExit(code);
    };
    const onSigint = (): void => {
      sigints++;
      // Before boot completes, or when earlier Ctrl-Cs were not acted on, give up on the worker.
      if (Atomics.load(control, 1) === 0 || Atomics.load(control, 0) !== 0 || sigints >= 3) {
        finish(EXIT_SIGINT);
        return;
      }
      Atomics.store(control, 0, 2);
      Atomics.notify(control, 0);
    };
    process.on("SIGINT", onSigint);

    const startStdin = (): void => {
      if (stdinStarted) return;
      stdinStarted = true;
      const send = (msg: MainToWorker): void => worker.postMessage(msg);
      process.stdin.on("data", (chunk: Buffer) => send({ type: "stdin", data: new Uint8Array(chunk) }));
      process.stdin.on("end", () => send({ type: "stdin-end" }));
      process.stdin.on("error", () => send({ type: "stdin-end" }));
    };

    worker.on("message", (msg: WorkerToMain) => {
      if (msg.type === "stdin-want") startStdin();
      else if (msg.type === "exit") finish(((msg.code % 256) + 256) % 256);
      else {
        say(msg.message);
        finish(msg.usage ? 2 : 1);
      }
    });
    worker.on("error", (err) => {
      say(`internal error: ${err.stack ?? err.message}`);
      finish(1);
    });
    worker.on("exit", (code) => {
      if (!done) say(`the Python worker stopped unexpectedly (status ${code})`);
      finish(1);
    });
  });
}
