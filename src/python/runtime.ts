/**
 * A booted CPython (Pyodide) interpreter that runs scripts like `python`.
 *
 * Invariants:
 * - Python code only ever runs inside a JSPI promising entry (`callPromising`),
 *   so it may suspend the wasm stack (blocking stdin, `run_sync`, greenlets).
 * - At most one `run*` call is in flight per runtime (`RuntimeBusyError`).
 * - Runs share one interpreter: imported modules persist between runs, while
 *   `sys.argv`, `sys.path[0]` and `__main__` are per run.
 * - The C stack pointer after every completed run equals its value right
 *   after boot (checked by `checkInvariants` in tests).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { RuntimeBootError, RuntimeBusyError, RuntimeClosedError, RuntimeOptionsError, PyodideVersionError } from "./errors.ts";
import { mountAll, type MountSpec } from "./mounts.ts";
import { GUEST_PATHS_ROOT, resolveOptions, type RuntimeOptions } from "./options.ts";
import { installGreenletHost } from "./greenlet/index.ts";
import { installNet, type NetHost } from "./net.ts";
import type { GreenletHost } from "./greenlet/index.ts";
import { bootPyodide, installInterruptPoll, internals, PYTHON_VERSION, type PyProxy, type Pyodide, type PyodideInternals } from "./pyodide.ts";
import { assertNoHostMounts, codeGenerationFromStringsAllowed, guestEnv, jsGlobalsFor, unregisterPyodideJs } from "./sandbox.ts";
import { interruptPoll, Interrupts } from "./interrupts.ts";
import { installIoHost, type IoHost } from "./io/index.ts";
import { rawWriter, StdinQueue } from "./stdio.ts";

/** Host directory holding the guest Python sources (`src/python/py`), from src/ or dist/. */
const PY_SOURCES = fileURLToPath(new URL("../../src/python/py/", import.meta.url));
const [PY_MAJOR, PY_MINOR] = PYTHON_VERSION.split(".");
/** Guest site-packages, where greenwasm's own Python packages are installed. */
export const GUEST_SITE_PACKAGES = `/lib/python${PY_MAJOR}.${PY_MINOR}/site-packages`;

type RunKind = "file" | "code" | "module";

/** Internal state shared with `testing.ts` and the layers above; not public API. */
export interface RuntimeState {
  readonly pyodide: Pyodide;
  readonly module: PyodideInternals;
  /** `stackSave()` right after boot. */
  readonly baselineStackPointer: number;
  /** Number of promising entries currently in flight through this runtime. */
  activeRuns: number;
  /** The greenlet host: every run is one of its threads. */
  readonly greenlets: GreenletHost;
  /** Blocking waits and green threads. */
  readonly io: IoHost;
  /** Python's sockets (outbound TCP behind the allowlist). */
  readonly net: NetHost;
}

const states = new WeakMap<Runtime, RuntimeState>();

/** Internal state of a runtime (for tests and sibling layers; not part of the public surface). */
export function runtimeState(runtime: Runtime): RuntimeState {
  const state = states.get(runtime);
  if (!state) throw new RuntimeClosedError();
  return state;
}

/** A Python interpreter; create with {@link createRuntime}. */
export class Runtime {
  #state: RuntimeState | undefined;
  #runner: PyProxy | undefined;
  #stdin: StdinQueue;
  #interrupts: Interrupts;
  /** `sys.version` of the interpreter. */
  readonly pythonVersion: string;
  /** Whether JS code generation from strings is disabled in the hosting context (see sandbox.ts). */
  readonly codeGenerationBlocked: boolean;

  /** @internal Use {@link createRuntime}. */
  constructor(state: RuntimeState, runner: PyProxy, stdin: StdinQueue, interrupts: Interrupts, pythonVersion: string) {
    this.#state = state;
    this.#runner = runner;
    this.#stdin = stdin;
    this.#interrupts = interrupts;
    this.pythonVersion = pythonVersion;
    this.codeGenerationBlocked = !codeGenerationFromStringsAllowed();
    states.set(this, state);
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#state === undefined;
  }

  /** Run a guest script file as `python PATH ARGS...` does; resolves to the exit code. */
  runFile(path: string, args: readonly string[] = []): Promise<number> {
    return this.#run("file", path, [path, ...args], undefined);
  }

  /** Run source code as `python -c CODE ARGS...` does; resolves to the exit code. */
  runCode(code: string, args: readonly string[] = []): Promise<number> {
    return this.#run("code", code, ["-c", ...args], "");
  }

  /** Run a module as `python -m NAME ARGS...` does; resolves to the exit code. */
  runModule(name: string, args: readonly string[] = []): Promise<number> {
    return this.#run("module", name, ["-m", ...args], undefined);
  }

  /**
   * Request a KeyboardInterrupt in the running code: wakes a pending stdin
   * read or `time.sleep` (which raise it), otherwise writes SIGINT into the
   * interrupt buffer, if one was configured, for Pyodide's next poll.
   */
  interrupt(): void {
    this.#live();
    this.#interrupts.request();
  }

  /**
   * Release the interpreter. Idempotent. Stops reading stdin (a pending read
   * sees EOF); a run still in flight keeps going until it returns. Then green
   * threads still alive (daemon threads) stop where they wait, and their
   * timers no longer keep the process alive.
   */
  async close(): Promise<void> {
    const state = this.#state;
    if (!state) return;
    this.#state = undefined;
    this.#stdin.close();
    const runner = this.#runner;
    this.#runner = undefined;
    state.net.close();
    if (state.activeRuns === 0) release(state, runner);
    states.delete(this);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #live(): RuntimeState {
    if (!this.#state) throw new RuntimeClosedError();
    return this.#state;
  }

  async #run(kind: RunKind, target: string, argv: string[], path0: string | undefined): Promise<number> {
    const state = this.#live();
    const runner = this.#runner;
    if (typeof target !== "string") throw new TypeError(`${kind} target must be a string`);
    if (!runner) throw new RuntimeClosedError();
    if (state.activeRuns > 0) throw new RuntimeBusyError();
    state.activeRuns++;
    try {
      return await runOnThread(state, runner, [kind, target, argv, path0]);
    } finally {
      state.activeRuns--;
      if (!this.#state) release(state, runner);
    }
  }
}

/**
 * Call `fn(*args)` as a new greenlet thread: its own JSPI stack, C-stack
 * region and thread state, so greenlets switch without copying stacks.
 */
/**
 * The last step of closing, once no run is in flight: free the runner, and stop
 * every green-thread wait (daemon threads stop where they wait; their timers no
 * longer keep the process alive).
 */
function release(state: RuntimeState, runner: PyProxy | undefined): void {
  runner?.destroy();
  state.io.close();
}

async function runOnThread(state: RuntimeState, fn: PyProxy, args: unknown[]): Promise<number> {
  const { module: mod, pyodide: py, greenlets } = state;
  const list = py.toPy(args) as PyProxy;
  const tuple = mod._PyList_AsTuple(mod.PyProxy_getPtr(list));
  list.destroy();
  if (!tuple) throw new Error("greenwasm: cannot build the argument tuple");
  try {
    const out = await greenlets.runThread(mod.PyProxy_getPtr(fn), tuple, 0);
    if (out.error) {
      mod._PyErr_SetRaisedException(out.error);
      mod._PyErr_Print();
      return 1;
    }
    const code = mod._PyLong_AsLong(out.result);
    mod._Py_DecRef(out.result);
    return code;
  } finally {
    mod._Py_DecRef(tuple);
  }
}

function installGuestSources(mod: PyodideInternals): void {
  const walk = (hostDir: string, guestDir: string): void => {
    mod.FS.mkdirTree(guestDir);
    for (const entry of readdirSync(hostDir, { withFileTypes: true })) {
      if (entry.name === "__pycache__" || entry.name.startsWith(".")) continue;
      const host = join(hostDir, entry.name);
      const guest = `${guestDir}/${entry.name}`;
      if (entry.isDirectory()) walk(host, guest);
      else if (entry.isFile()) mod.FS.writeFile(guest, readFileSync(host));
    }
  };
  walk(PY_SOURCES, GUEST_SITE_PACKAGES);
}

/** Boot a Python runtime. Rejects with `RuntimeOptionsError` for bad options. */
export async function createRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  // Stage 1: validate options (no wasm yet).
  const opts = resolveOptions(options);
  const stage = async <T>(name: string, fn: () => T | Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof RuntimeOptionsError || err instanceof PyodideVersionError) throw err;
      throw new RuntimeBootError(name, err);
    }
  };

  // Stage 2: load Pyodide from the npm package with a sandboxed `js` and env.
  const py = await stage("load pyodide", () =>
    bootPyodide({
      jsglobals: jsGlobalsFor(opts.allowJs),
      env: guestEnv(opts.env),
      bootOutput: (text) => opts.stderr(new TextEncoder().encode(text + "\n")),
    }),
  );
  const mod = internals(py);

  // Stage 3: filesystem: prove nothing of the host is mounted, then mount what was asked.
  await stage("filesystem", () => {
    assertNoHostMounts(mod);
    const specs: MountSpec[] = [
      ...opts.paths.map((host, i) => ({ host, guest: `${GUEST_PATHS_ROOT}/${i}`, writable: false })),
      ...opts.mounts,
    ];
    mountAll(mod, specs);
    installGuestSources(mod);
    const cwd = mod.FS.analyzePath(opts.cwd);
    if (!cwd.exists || !cwd.object || !mod.FS.isDir(cwd.object.mode)) {
      throw new RuntimeOptionsError(`cwd: guest directory ${opts.cwd} does not exist (mount it first)`);
    }
    mod.FS.chdir(opts.cwd);
  });

  // Stage 4: standard streams and interrupts.
  const interrupts = new Interrupts(opts.interruptBuffer);
  const stdin = new StdinQueue(opts.stdin, interrupts);
  await stage("streams", () => {
    py.setStdout(rawWriter(opts.stdout));
    py.setStderr(rawWriter(opts.stderr));
    const eagain = mod.ERRNO_CODES["EAGAIN"] ?? 6;
    py.setStdin({ isatty: false, read: (buf: Uint8Array) => stdin.readSync(buf, () => new mod.FS.ErrnoError(eagain)) });
    if (!opts.allowJs) unregisterPyodideJs(py);
  });

  // Stage 4b: sockets (before any Python code can create one).
  const net = await stage("network", () => installNet(mod, opts.allowNet));

  // Stage 5: greenlet host (the `_greenwasm_greenlet` builtins `import greenlet` needs).
  const greenlets = await stage("greenlet", () => installGreenletHost(mod, { stackSize: opts.greenletStackSize }));
  // Stage 5b: blocking waits and green threads (`_greenwasm_io`), built on the greenlet host.
  const io = await stage("io", () => installIoHost(mod, greenlets, interrupts));

  // Stage 6: guest setup inside a first promising entry (sets Module.stackStop).
  const { runner, version } = await stage("guest setup", async () => {
    const boot = py.pyimport("greenwasm._boot") as PyProxy & { setup: PyProxy };
    const setup = boot.setup;
    try {
      const config = JSON.stringify({
        pythonVersion: PYTHON_VERSION,
        env: opts.env,
        paths: opts.paths.map((_, i) => `${GUEST_PATHS_ROOT}/${i}`),
        argv: opts.argv,
        allowJs: opts.allowJs,
      });
      const version: unknown = await setup.callPromising(config, () => stdin.pull());
      if (typeof mod.stackStop !== "number") throw new Error("Module.stackStop was not set by the promising entry");
      const runnerModule = py.pyimport("greenwasm._runner") as PyProxy & { run: PyProxy };
      const runner = runnerModule.run.copy();
      runnerModule.destroy();
      return { runner, version: String(version) };
    } finally {
      setup.destroy();
      boot.destroy();
    }
  });

  // Stage 7: enable interrupts (not earlier: a stale SIGINT must not break boot)
  // and record the baseline the invariants are checked against.
  if (opts.interruptBuffer) installInterruptPoll(py, interruptPoll(opts.interruptBuffer));
  const state: RuntimeState = {
    pyodide: py, module: mod, baselineStackPointer: mod.stackSave(), activeRuns: 0, greenlets, io, net,
  };
  return new Runtime(state, runner, stdin, interrupts, version);
}
