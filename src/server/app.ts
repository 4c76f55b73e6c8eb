/**
 * `createAppHandler()`: boot a runtime for one ASGI/WSGI app and get a
 * node:http request listener for it (see bridge.ts for how requests flow).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRuntime, type Mount, type Runtime } from "../python/index.ts";
import { Bridge } from "./bridge.ts";
import { Logger } from "./log.ts";
import { resolveAppOptions, type AppOptions, type ResolvedAppOptions } from "./options.ts";
import { Vitals } from "./watchdog.ts";

/** Guest directory where `appDir` is mounted when no mount covers it. */
export const APP_GUEST_DIR = "/app";

/** A booted app: a node:http request listener plus its lifecycle. */
export interface AppHandler {
  /** node:http `request` listener: `http.createServer(app.handle)`. */
  readonly handle: (req: IncomingMessage, res: ServerResponse) => void;
  /** The interface the app is served with. */
  readonly interface: "asgi" | "wsgi";
  /** The Python runtime serving the app (closed by `close()`). */
  readonly runtime: Runtime;
  /** Requests whose response has not finished. */
  readonly inFlight: number;
  /** Heartbeat and load shared with a watchdog thread. */
  readonly vitals: Vitals;
  /** True once a watchdog interrupt landed: the runtime should be replaced. */
  readonly interrupted: boolean;
  /** Called once when `interrupted` becomes true. Default: nothing. */
  onInterrupted: (() => void) | undefined;
  /**
   * Set once the interpreter failed fatally (e.g. `os.abort()`, wasm out of
   * memory): requests in flight were answered 500, new ones get 503.
   */
  readonly fatal: Error | undefined;
  /** Called once when `fatal` is set. Default: nothing. */
  onFatal: ((err: Error) => void) | undefined;
  /**
   * Stop taking requests (new ones get 503), wait up to `timeout` seconds for
   * those in flight (then close their connections), run the ASGI lifespan
   * shutdown and release the runtime. Idempotent.
   */
  close(timeout?: number): Promise<void>;
}

/** How the app is hosted (internal: set by `serve()` and the worker pool). */
export interface HostingInfo {
  /** Listening address reported to the app (ASGI `server`, WSGI `SERVER_NAME`/`SERVER_PORT`). */
  host?: string;
  port?: number;
  /** Number of runtimes serving the app (WSGI `wsgi.multiprocess`). */
  workers?: number;
  /** Shared vitals (see watchdog.ts) when another thread watches this runtime. */
  vitals?: Int32Array;
  /** Prefix of every log message (e.g. `[worker 2] `). */
  logPrefix?: string;
}

function guestAppDir(opts: ResolvedAppOptions): { guest: string; mounts: Mount[] } {
  for (const m of opts.mounts) {
    const host = m.host.replace(/\/+$/, "");
    if (opts.appDir === host || opts.appDir.startsWith(host + "/")) {
      return { guest: m.guest.replace(/\/+$/, "") + opts.appDir.slice(host.length), mounts: opts.mounts };
    }
  }
  return { guest: APP_GUEST_DIR, mounts: [...opts.mounts, { host: opts.appDir, guest: APP_GUEST_DIR, writable: false }] };
}

/**
 * Boot a runtime, import the app and run its lifespan startup; the result's
 * `handle` is a plain node:http request listener. Stuck Python code is only
 * interrupted if some other thread watches `vitals` (`serve()` does).
 */
export async function createAppHandler(options: AppOptions, hosting: HostingInfo = {}): Promise<AppHandler> {
  const opts = resolveAppOptions(options);
  const log = new Logger(opts.logLevel, opts.stderr, opts.accessLog ? opts.accessLogSink : undefined);
  log.prefix = hosting.logPrefix ?? "";
  const vitals = new Vitals(hosting.vitals);
  const { guest, mounts } = guestAppDir(opts);
  const runtime = await createRuntime({
    paths: opts.paths,
    mounts,
    env: opts.env,
    cwd: opts.cwd ?? guest,
    allowJs: opts.allowJs,
    allowNet: opts.allowNet,
    stdout: opts.stdout,
    stderr: opts.stderr,
    interruptBuffer: vitals.interruptBuffer,
  });
  const bridge = new Bridge(runtime, opts, log, vitals);
  try {
    bridge.load(guest, hosting);
    await bridge.lifespan("startup");
    bridge.settle();
  } catch (err) {
    await bridge.release();
    throw err;
  }
  return bridge;
}

