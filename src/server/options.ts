/**
 * Options of `serve()` and `createAppHandler()`, with their defaults and
 * validation. `resolveAppOptions`/`resolveServeOptions` are pure apart from
 * `statSync` on the app directory; they boot nothing.
 */
import { statSync } from "node:fs";
import { resolve } from "node:path";
import type { Mount, OutputSink } from "../python/index.ts";
import { ServeOptionsError } from "./errors.ts";

/** Log levels, as uvicorn's `--log-level`. */
export type LogLevel = "critical" | "error" | "warning" | "info" | "debug" | "trace";
export const LOG_LEVELS: readonly LogLevel[] = ["critical", "error", "warning", "info", "debug", "trace"];

/** How the app is called. */
export type Interface = "auto" | "asgi" | "wsgi";

/** Options of {@link createAppHandler}: one Python runtime serving one app. */
export interface AppOptions {
  /** The app, as `"module:attribute"` (attribute may be dotted). Default: none (required). */
  app: string;
  /**
   * Host directory the module is imported from: mounted read-only at `/app`
   * (unless it lies inside one of `mounts`) and put first on `sys.path`.
   * Default: `process.cwd()`.
   */
  appDir?: string;
  /**
   * `"asgi"` (ASGI 3: http and lifespan; websocket scopes are not supported
   * yet and get a 404), `"wsgi"` (PEP 3333), or `"auto"`: ASGI when the app or
   * its `__call__` is a coroutine function, else WSGI. Default: `"auto"`.
   */
  interface?: Interface;
  /** ASGI `root_path` / WSGI `SCRIPT_NAME` (an app mounted below a path prefix). Default: `""`. */
  rootPath?: string;
  /** ASGI lifespan: `"auto"` (run it if the app supports it), `"on"`, `"off"`. Default: `"auto"`. */
  lifespan?: "auto" | "on" | "off";
  /** Least severe server message to print. Default: `"info"`. */
  logLevel?: LogLevel;
  /** Print one line per request (uvicorn's format) to stdout. Default: `true`. */
  accessLog?: boolean;
  /** Largest accepted request body in bytes; larger gets 413. Default: `10485760` (10 MiB). */
  maxBodySize?: number;
  /**
   * Seconds the app may take to produce a response, from the request's
   * arrival until its last body byte is handed over (a slow client may take
   * longer to read it); then the request gets 504 (or its connection is
   * closed if the response started),
   * an ASGI task is cancelled, and code stuck in a loop is interrupted
   * (KeyboardInterrupt). `0` disables it. Default: `60`.
   */
  requestTimeout?: number;
  /**
   * Most WSGI requests handled at once (each on its own Python stack, about
   * 1 MiB of wasm memory); more wait in a queue. Default: `64`.
   */
  wsgiConcurrency?: number;
  /** Host directories of importable packages, read-only on `sys.path` (see RuntimeOptions). Default: `[]`. */
  paths?: string[];
  /** Host directories to mount (see RuntimeOptions). Default: `[]`. */
  mounts?: Mount[];
  /** Environment variables Python sees (see RuntimeOptions). Default: `{}`. */
  env?: Record<string, string>;
  /** Guest working directory. Default: the guest path of `appDir` (`"/app"`). */
  cwd?: string;
  /** Give Python `import js` (see RuntimeOptions). Default: `false`. */
  allowJs?: boolean;
  /** Hosts and ports Python's sockets may reach, e.g. a database (see RuntimeOptions). Default: `[]`. */
  allowNet?: string[];
  /** Sink for Python's stdout bytes. Default: the process's stdout. */
  stdout?: OutputSink;
  /** Sink for Python's stderr bytes and server messages. Default: the process's stderr. */
  stderr?: OutputSink;
  /** Sink for access-log lines. Default: the process's stdout. */
  accessLogSink?: OutputSink;
}

/** Options of {@link serve}: {@link AppOptions} plus the listening socket and workers. */
export interface ServeOptions extends AppOptions {
  /** Interface to listen on. Default: `"127.0.0.1"`. */
  host?: string;
  /** TCP port; `0` picks a free one (see the handle's `url`). Default: `8000`. */
  port?: number;
  /**
   * Python runtimes, each on its own worker thread behind one listening port
   * (`SO_REUSEPORT`); a crashed or stuck worker is replaced. `0` runs one
   * runtime on the calling thread. Default: `0`.
   */
  workers?: number;
  /** Seconds an idle keep-alive connection stays open. Default: `5`. */
  timeoutKeepAlive?: number;
  /** Largest request head (request line + headers) in bytes; larger gets 431. Default: `16384`. */
  maxHeaderSize?: number;
  /** Seconds `close()` waits for in-flight requests before closing their connections. Default: `30`. */
  shutdownTimeout?: number;
  /** Called with progress messages while booting (`"booting Python"`, ...). Default: log at info level. */
  onProgress?: (message: string) => void;
}

export type ResolvedAppOptions = Required<Omit<AppOptions, "cwd">> & { cwd: string | undefined };

export type ResolvedServeOptions = ResolvedAppOptions &
  Required<Pick<ServeOptions, "host" | "port" | "workers" | "timeoutKeepAlive" | "maxHeaderSize" | "shutdownTimeout">> & {
    onProgress: ((message: string) => void) | undefined;
  };

const APP_SPEC = /^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$/;

function sink(stream: NodeJS.WriteStream): OutputSink {
  return (bytes) => {
    stream.write(bytes);
  };
}

function number(name: string, v: number | undefined, dflt: number, min: number, max: number, integer = true): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw new ServeOptionsError(`${name} must be ${integer ? "an integer" : "a number"} between ${min} and ${max}, got ${String(v)}`);
  }
  return v;
}

/** Validate and default {@link AppOptions}. Throws {@link ServeOptionsError}. */
export function resolveAppOptions(o: AppOptions): ResolvedAppOptions {
  if (typeof o?.app !== "string" || !APP_SPEC.test(o.app)) {
    throw new ServeOptionsError(`app must look like "module:attribute", got ${JSON.stringify(o?.app)}`);
  }
  const appDir = resolve(o.appDir ?? process.cwd());
  let isDir = false;
  try {
    isDir = statSync(appDir).isDirectory();
  } catch {
    /* reported below */
  }
  if (!isDir) throw new ServeOptionsError(`appDir: ${JSON.stringify(o.appDir ?? appDir)} is not a directory`);
  const iface = o.interface ?? "auto";
  if (!["auto", "asgi", "wsgi"].includes(iface)) throw new ServeOptionsError(`interface must be "auto", "asgi" or "wsgi", got ${JSON.stringify(iface)}`);
  const lifespan = o.lifespan ?? "auto";
  if (!["auto", "on", "off"].includes(lifespan)) throw new ServeOptionsError(`lifespan must be "auto", "on" or "off", got ${JSON.stringify(lifespan)}`);
  const logLevel = o.logLevel ?? "info";
  if (!LOG_LEVELS.includes(logLevel)) throw new ServeOptionsError(`logLevel must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(logLevel)}`);
  const rootPath = o.rootPath ?? "";
  if (rootPath !== "" && (!rootPath.startsWith("/") || rootPath.endsWith("/"))) {
    throw new ServeOptionsError(`rootPath must be "" or start with "/" and not end with "/", got ${JSON.stringify(rootPath)}`);
  }
  return {
    app: o.app,
    appDir,
    interface: iface,
    rootPath,
    lifespan,
    logLevel,
    accessLog: o.accessLog ?? true,
    maxBodySize: number("maxBodySize", o.maxBodySize, 10 * 1024 * 1024, 0, Number.MAX_SAFE_INTEGER),
    requestTimeout: number("requestTimeout", o.requestTimeout, 60, 0, 2 ** 31 / 1000, false),
    wsgiConcurrency: number("wsgiConcurrency", o.wsgiConcurrency, 64, 1, 65536),
    paths: o.paths ?? [],
    mounts: o.mounts ?? [],
    env: o.env ?? {},
    cwd: o.cwd,
    allowJs: o.allowJs ?? false,
    allowNet: o.allowNet ?? [],
    stdout: o.stdout ?? sink(process.stdout),
    stderr: o.stderr ?? sink(process.stderr),
    accessLogSink: o.accessLogSink ?? sink(process.stdout),
  };
}

/** Validate and default {@link ServeOptions}. Throws {@link ServeOptionsError}. */
export function resolveServeOptions(o: ServeOptions): ResolvedServeOptions {
  const app = resolveAppOptions(o);
  const host = o.host ?? "127.0.0.1";
  if (typeof host !== "string" || host === "") throw new ServeOptionsError(`host must be a non-empty string, got ${JSON.stringify(host)}`);
  return {
    ...app,
    host,
    port: number("port", o.port, 8000, 0, 65535),
    workers: number("workers", o.workers, 0, 0, 256),
    timeoutKeepAlive: number("timeoutKeepAlive", o.timeoutKeepAlive, 5, 0, 2 ** 31 / 1000, false),
    maxHeaderSize: number("maxHeaderSize", o.maxHeaderSize, 16384, 1024, 1024 * 1024),
    shutdownTimeout: number("shutdownTimeout", o.shutdownTimeout, 30, 0, 2 ** 31 / 1000, false),
    onProgress: o.onProgress,
  };
}
