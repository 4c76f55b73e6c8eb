/**
 * Options of `createRuntime` and their validation. `resolveOptions` is pure
 * apart from `statSync` checks on host paths; it never boots anything.
 */
import { statSync } from "node:fs";
import { resolve } from "node:path";
import type { Readable } from "node:stream";
import { collapseAbsolutePath } from "../common/paths.ts";
import { RuntimeOptionsError } from "./errors.ts";
import { NetPolicy, NetRuleError } from "./netpolicy.ts";

/** A host directory made visible inside the guest filesystem. */
export interface Mount {
  /** Host directory (absolute or relative to `process.cwd()`). Default: none (required). */
  host: string;
  /** Absolute guest path where it appears. Default: none (required). */
  guest: string;
  /** Allow Python to create, modify and delete files under it. Default: `false`. */
  writable?: boolean;
}

/** Where `sys.stdin` reads from: a Node stream or any async iterable of byte chunks. */
export type StdinSource = Readable | AsyncIterable<Uint8Array | string>;

/** Receives raw bytes Python wrote, as soon as Python flushes them. */
export type OutputSink = (bytes: Uint8Array) => void;

/** Options of `createRuntime`. Every field is optional. */
export interface RuntimeOptions {
  /**
   * Host directories of importable packages. Each is mounted read-only at
   * `/opt/greenwasm/path/<index>` and appended to `sys.path` in order.
   * Default: `[]`.
   */
  paths?: string[];
  /** Host directories to mount; read-only unless `writable`. Default: `[]` (nothing of the host is visible). */
  mounts?: Mount[];
  /**
   * The only environment variables Python sees, added on top of the basics
   * `HOME=/home/pyodide`, `PATH=/usr/local/bin:/usr/bin:/bin`, `LANG=C.UTF-8`
   * and Pyodide's `LD_LIBRARY_PATH`. The host's `process.env` is never read.
   * Default: `{}`.
   */
  env?: Record<string, string>;
  /**
   * Give Python the full JavaScript global scope through `import js`, and the
   * Pyodide API through `import pyodide_js`. When false, `js` is an empty object
   * and `pyodide_js` exposes nothing of the host. Default: `false`.
   */
  allowJs?: boolean;
  /** Guest working directory; must exist (e.g. a mount). Default: `"/home/pyodide"`. */
  cwd?: string;
  /**
   * Initial `sys.argv`; each `run*` call replaces it the way `python` does.
   * Default: `[""]`.
   */
  argv?: string[];
  /** Sink for Python's stdout bytes. Default: writes to `process.stdout`. */
  stdout?: OutputSink;
  /** Sink for Python's stderr bytes. Default: writes to `process.stderr`. */
  stderr?: OutputSink;
  /**
   * Source of `sys.stdin`. Reads wait (suspending Python, not spinning) until a
   * chunk arrives; the end of the source is EOF. Default: none (stdin is at EOF).
   */
  stdin?: StdinSource;
  /**
   * Shared buffer Pyodide polls for signals: writing 2 (SIGINT) into element 0
   * raises `KeyboardInterrupt` in Python. Default: none (`Runtime.interrupt()`
   * then only wakes a pending stdin read).
   */
  interruptBuffer?: Int32Array | Uint8Array;
  /**
   * Bytes of linear memory reserved as each greenlet's C stack. Smaller lets
   * more greenlets live at once (wasm32 memory is 4 GiB); too small overflows
   * on deep C recursion. Default: `131072` (128 KiB).
   */
  greenletStackSize?: number;
  /**
   * Hosts and ports Python's sockets may connect to (outbound TCP only):
   * entries `HOST:PORT`, `HOST:*`, `*:PORT` or `*` (everything); IPv6 in
   * brackets (`[::1]:8080`). HOST is matched against the name the program
   * asked for and, for names, against the addresses it resolves to (see
   * netpolicy.ts). Anything else raises `PermissionError`. Default: `[]`
   * (no network).
   */
  allowNet?: string[];
}

/** Options after validation and defaulting. */
export interface ResolvedOptions {
  paths: string[];
  mounts: Required<Mount>[];
  env: Record<string, string>;
  allowJs: boolean;
  cwd: string;
  argv: string[];
  stdout: OutputSink;
  stderr: OutputSink;
  stdin: StdinSource | undefined;
  interruptBuffer: Int32Array | Uint8Array | undefined;
  greenletStackSize: number;
  allowNet: NetPolicy;
}

/** Default guest home directory and working directory. */
export const GUEST_HOME = "/home/pyodide";
/** Guest directory under which `paths` entries are mounted. */
export const GUEST_PATHS_ROOT = "/opt/greenwasm/path";

/** Guest paths that must not be shadowed by a mount (Pyodide's stdlib and devices). */
const RESERVED_GUEST = ["/", "/lib", "/dev", "/proc", "/usr", "/usr/lib", "/opt/greenwasm", "/opt/greenwasm/path"];

function defaultSink(stream: NodeJS.WriteStream): OutputSink {
  return (bytes) => {
    stream.write(bytes);
  };
}

function checkHostDir(what: string, dir: string): string {
  const abs = resolve(dir);
  let isDir = false;
  try {
    isDir = statSync(abs).isDirectory();
  } catch {
    throw new RuntimeOptionsError(`${what}: host directory ${JSON.stringify(dir)} does not exist`);
  }
  if (!isDir) throw new RuntimeOptionsError(`${what}: ${JSON.stringify(dir)} is not a directory`);
  return abs;
}

/** Normalize an absolute guest path: collapse `//`, `.` and `..`, drop a trailing `/`. */
export function normalizeGuestPath(what: string, path: string): string {
  if (!path.startsWith("/")) throw new RuntimeOptionsError(`${what}: guest path ${JSON.stringify(path)} must be absolute`);
  if (path.includes("\0")) throw new RuntimeOptionsError(`${what}: guest path contains a NUL byte`);
  return collapseAbsolutePath(path);
}

/** Validate and default `createRuntime` options. Throws `RuntimeOptionsError`. */
export function resolveOptions(options: RuntimeOptions = {}): ResolvedOptions {
  const paths = (options.paths ?? []).map((p, i) => checkHostDir(`paths[${i}]`, p));
  const mounts: Required<Mount>[] = [];
  for (const [i, m] of (options.mounts ?? []).entries()) {
    const guest = normalizeGuestPath(`mounts[${i}]`, m.guest);
    if (RESERVED_GUEST.includes(guest) || guest.startsWith("/lib/") || guest.startsWith("/dev/") || guest.startsWith("/proc/")) {
      throw new RuntimeOptionsError(`mounts[${i}]: guest path ${guest} is reserved`);
    }
    if (mounts.some((other) => other.guest === guest)) {
      throw new RuntimeOptionsError(`mounts[${i}]: guest path ${guest} is mounted twice`);
    }
    mounts.push({ host: checkHostDir(`mounts[${i}]`, m.host), guest, writable: m.writable === true });
  }
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (key === "" || key.includes("=") || key.includes("\0")) throw new RuntimeOptionsError(`env: invalid variable name ${JSON.stringify(key)}`);
    if (typeof value !== "string" || value.includes("\0")) throw new RuntimeOptionsError(`env.${key}: value must be a string without NUL`);
    env[key] = value;
  }
  const cwd = options.cwd === undefined ? GUEST_HOME : normalizeGuestPath("cwd", options.cwd);
  const argv = options.argv ?? [""];
  if (!Array.isArray(argv) || argv.some((a) => typeof a !== "string")) throw new RuntimeOptionsError("argv must be an array of strings");
  const ib = options.interruptBuffer;
  if (ib !== undefined && !(ib instanceof Int32Array || ib instanceof Uint8Array)) {
    throw new RuntimeOptionsError("interruptBuffer must be an Int32Array or Uint8Array");
  }
  return {
    paths,
    mounts,
    env,
    allowJs: options.allowJs === true,
    cwd,
    argv: [...argv],
    stdout: options.stdout ?? defaultSink(process.stdout),
    stderr: options.stderr ?? defaultSink(process.stderr),
    stdin: options.stdin,
    interruptBuffer: ib,
    greenletStackSize: greenletStackSizeOf(options.greenletStackSize),
    allowNet: allowNetOf(options.allowNet),
  };
}

function allowNetOf(v: string[] | undefined): NetPolicy {
  try {
    return NetPolicy.parse(v ?? []);
  } catch (err) {
    if (err instanceof NetRuleError) throw new RuntimeOptionsError(`allowNet${err.message.startsWith("[") ? "" : " "}${err.message}`);
    throw err;
  }
}

function greenletStackSizeOf(v: number | undefined): number {
  if (v === undefined) return 131072;
  if (!Number.isInteger(v) || v < 16384 || v > 64 * 1024 * 1024) {
    throw new RuntimeOptionsError(`greenletStackSize must be an integer between 16384 and 67108864, got ${v}`);
  }
  return v;
}
