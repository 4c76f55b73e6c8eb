/**
 * Command-line parsing, shared by every command that boots Python.
 *
 * Runtime flags (any command that boots Python):
 *   --path DIR                  importable package dir, read-only, on sys.path (repeatable)
 *   --mount HOST[:GUEST][:rw]   mount a host dir; GUEST defaults to HOST's absolute path;
 *                               read-only unless ":rw" (repeatable)
 *   --env KEY=VALUE             environment variable for Python (repeatable)
 *   --allow-js                  give Python the JS global scope (`import js`)
 *   --allow-net HOST:PORT       let Python's sockets connect there; also HOST:*, *:PORT, *
 *                               and [IPv6]:PORT (repeatable; default: no network)
 *   --cwd DIR                   guest working directory
 * Each flag also accepts `--flag=value`. Parsing is pure: no filesystem access.
 */
import { resolve } from "node:path";
import { NetRuleError, parseNetRule } from "../python/index.ts";

/** Bad command line; the CLI prints the message and exits with status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Runtime flags as parsed; host paths are absolute. */
export interface RuntimeArgs {
  paths: string[];
  mounts: { host: string; guest: string; writable: boolean }[];
  env: Record<string, string>;
  allowJs: boolean;
  /** `--allow-net` entries in order, validated (become `allowNet`). */
  allowNet: string[];
  cwd: string | undefined;
}

/** What `greenwasm run` should execute. */
export type RunTarget =
  | { kind: "file"; path: string }
  | { kind: "code"; code: string }
  | { kind: "module"; name: string };

/** A parsed `greenwasm run` command line. */
export interface RunArgs {
  runtime: RuntimeArgs;
  target: RunTarget;
  /** Arguments after the script / `-c CODE` / `-m MODULE` (become sys.argv[1:]). */
  args: string[];
}

/** Fresh runtime flags with defaults. */
export function defaultRuntimeArgs(): RuntimeArgs {
  return { paths: [], mounts: [], env: {}, allowJs: false, allowNet: [], cwd: undefined };
}

/** Parse a `--mount` value `HOST[:GUEST][:rw|:ro]`. */
export function parseMount(value: string, cwd: string = process.cwd()): RuntimeArgs["mounts"][number] {
  const parts = value.split(":");
  let writable = false;
  const last = parts[parts.length - 1];
  if (parts.length > 1 && (last === "rw" || last === "ro")) {
    writable = last === "rw";
    parts.pop();
  }
  if (parts.length > 2 || parts[0] === undefined || parts[0] === "") {
    throw new UsageError(`--mount: expected HOST[:GUEST][:rw], got ${JSON.stringify(value)}`);
  }
  const host = resolve(cwd, parts[0]);
  const guest = parts[1] ?? host;
  if (!guest.startsWith("/")) throw new UsageError(`--mount: guest path must be absolute, got ${JSON.stringify(guest)}`);
  return { host, guest, writable };
}

/** Parse a `--env` value `KEY=VALUE`. */
export function parseEnv(value: string): [string, string] {
  const eq = value.indexOf("=");
  if (eq <= 0) throw new UsageError(`--env: expected KEY=VALUE, got ${JSON.stringify(value)}`);
  return [value.slice(0, eq), value.slice(eq + 1)];
}

/** Check an `--allow-net` value (see src/python/netpolicy.ts for the forms). */
export function parseAllowNet(value: string): string {
  try {
    parseNetRule(value);
  } catch (err) {
    if (err instanceof NetRuleError) throw new UsageError(`--allow-net: ${err.message}`);
    throw err;
  }
  return value;
}

const VALUE_FLAGS = new Set(["--path", "--mount", "--env", "--cwd", "--allow-net"]);

/**
 * If `argv[i]` is a runtime flag, apply it to `into` and return how many
 * elements it consumed (1 or 2); otherwise return 0.
 */
export function takeRuntimeFlag(argv: readonly string[], i: number, into: RuntimeArgs, cwd: string = process.cwd()): number {
  const arg = argv[i] ?? "";
  if (arg === "--allow-js") {
    into.allowJs = true;
    return 1;
  }
  const eq = arg.indexOf("=");
  const name = eq > 0 ? arg.slice(0, eq) : arg;
  if (!VALUE_FLAGS.has(name)) return 0;
  let value: string | undefined;
  let used: number;
  if (eq > 0) {
    value = arg.slice(eq + 1);
    used = 1;
  } else {
    value = argv[i + 1];
    used = 2;
    if (value === undefined) throw new UsageError(`${name} requires a value`);
  }
  switch (name) {
    case "--path":
      if (value === "") throw new UsageError("--path requires a directory");
      into.paths.push(resolve(cwd, value));
      break;
    case "--mount":
      into.mounts.push(parseMount(value, cwd));
      break;
    case "--env": {
      const [k, v] = parseEnv(value);
      into.env[k] = v;
      break;
    }
    case "--allow-net":
      into.allowNet.push(parseAllowNet(value));
      break;
    case "--cwd":
      if (!value.startsWith("/")) throw new UsageError(`--cwd: guest directory must be absolute, got ${JSON.stringify(value)}`);
      into.cwd = value;
      break;
  }
  return used;
}

/**
 * Parse the arguments after `run`, python style: runtime flags and `-c`/`-m`
 * come first; the first non-flag is the script and everything after the
 * script, `-c CODE` or `-m MODULE` goes to the program untouched.
 */
export function parseRunArgs(argv: readonly string[], cwd: string = process.cwd()): RunArgs {
  const runtime = defaultRuntimeArgs();
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i] ?? "";
    if (arg === "-c" || arg === "-m") {
      const value = argv[i + 1];
      if (value === undefined) throw new UsageError(`${arg} requires an argument`);
      const target: RunTarget = arg === "-c" ? { kind: "code", code: value } : { kind: "module", name: value };
      if (target.kind === "module" && value === "") throw new UsageError("-m requires a module name");
      return { runtime, target, args: argv.slice(i + 2) };
    }
    if (arg.startsWith("-c") && arg.length > 2) return { runtime, target: { kind: "code", code: arg.slice(2) }, args: argv.slice(i + 1) };
    if (arg.startsWith("-m") && arg.length > 2) return { runtime, target: { kind: "module", name: arg.slice(2) }, args: argv.slice(i + 1) };
    if (arg === "--") {
      const script = argv[i + 1];
      if (script === undefined) throw new UsageError("missing script after --");
      return { runtime, target: { kind: "file", path: script }, args: argv.slice(i + 2) };
    }
    const used = takeRuntimeFlag(argv, i, runtime, cwd);
    if (used > 0) {
      i += used;
      continue;
    }
    if (arg.startsWith("-") && arg !== "-") throw new UsageError(`unknown option ${arg}`);
    if (arg === "-") throw new UsageError("reading the program from stdin (-) is not supported; use -c or a file");
    return { runtime, target: { kind: "file", path: arg }, args: argv.slice(i + 1) };
  }
  throw new UsageError("missing script, -c CODE or -m MODULE");
}

/** A parsed `greenwasm serve` command line (options as `serve()` takes them). */
export interface ServeArgs {
  runtime: RuntimeArgs;
  /** `module:attribute`. */
  app: string;
  appDir: string;
  interface: "auto" | "asgi" | "wsgi";
  host: string;
  port: number;
  workers: number;
  rootPath: string;
  logLevel: "critical" | "error" | "warning" | "info" | "debug" | "trace";
  accessLog: boolean;
  timeoutKeepAlive: number;
  requestTimeout: number;
  maxBodySize: number;
  lifespan: "auto" | "on" | "off";
}

const SERVE_VALUE_FLAGS = [
  "--app-dir", "--interface", "--host", "--port", "--workers", "--root-path", "--log-level",
  "--timeout-keep-alive", "--timeout-request", "--limit-max-body", "--lifespan",
] as const;

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${flag}: expected one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
  return value as T;
}

function count(flag: string, value: string, min: number, max: number, integer = true): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new UsageError(`${flag}: expected ${integer ? "an integer" : "a number"} from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * Parse the arguments after `serve`: `module:attribute` plus server and runtime
 * flags in any order (uvicorn style). `--workers` defaults to 1: the CLI always
 * runs Python on worker threads so the main thread can supervise them.
 */
export function parseServeArgs(argv: readonly string[], cwd: string = process.cwd()): ServeArgs {
  const runtime = defaultRuntimeArgs();
  const out: Omit<ServeArgs, "runtime" | "app"> = {
    appDir: cwd, interface: "auto", host: "127.0.0.1", port: 8000, workers: 1, rootPath: "", logLevel: "info",
    accessLog: true, timeoutKeepAlive: 5, requestTimeout: 60, maxBodySize: 10 * 1024 * 1024, lifespan: "auto",
  };
  let app: string | undefined;
  for (let i = 0; i < argv.length; ) {
    const arg = argv[i]!;
    const used = takeRuntimeFlag(argv, i, runtime, cwd);
    if (used > 0) {
      i += used;
      continue;
    }
    if (arg === "--access-log" || arg === "--no-access-log") {
      out.accessLog = arg === "--access-log";
      i++;
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if ((SERVE_VALUE_FLAGS as readonly string[]).includes(name)) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[i + 1];
      if (value === undefined) throw new UsageError(`${name} requires a value`);
      i += eq > 0 ? 1 : 2;
      switch (name as (typeof SERVE_VALUE_FLAGS)[number]) {
        case "--app-dir":
          if (value === "") throw new UsageError("--app-dir requires a directory");
          out.appDir = resolve(cwd, value);
          break;
        case "--interface":
          out.interface = oneOf(name, value, ["auto", "asgi", "wsgi"] as const);
          break;
        case "--host":
          if (value === "") throw new UsageError("--host requires an address");
          out.host = value;
          break;
        case "--port":
          out.port = count(name, value, 0, 65535);
          break;
        case "--workers":
          out.workers = count(name, value, 1, 256);
          break;
        case "--root-path":
          if (value !== "" && (!value.startsWith("/") || value.endsWith("/"))) throw new UsageError(`--root-path: expected "" or /prefix without a trailing slash, got ${JSON.stringify(value)}`);
          out.rootPath = value;
          break;
        case "--log-level":
          out.logLevel = oneOf(name, value, ["critical", "error", "warning", "info", "debug", "trace"] as const);
          break;
        case "--timeout-keep-alive":
          out.timeoutKeepAlive = count(name, value, 0, 86400, false);
          break;
        case "--timeout-request":
          out.requestTimeout = count(name, value, 0, 86400, false);
          break;
        case "--limit-max-body":
          out.maxBodySize = count(name, value, 0, Number.MAX_SAFE_INTEGER);
          break;
        case "--lifespan":
          out.lifespan = oneOf(name, value, ["auto", "on", "off"] as const);
          break;
      }
      continue;
    }
    if (arg.startsWith("-")) throw new UsageError(`unknown option ${arg}`);
    if (app !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(arg)} (the app is ${JSON.stringify(app)})`);
    if (!/^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$/.test(arg)) throw new UsageError(`the app must look like module:attribute, got ${JSON.stringify(arg)}`);
    app = arg;
    i++;
  }
  if (app === undefined) throw new UsageError("missing the app (module:attribute)");
  return { runtime, app, ...out };
}
