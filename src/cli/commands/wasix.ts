/**
 * `greenwasm wasix run [options] prog.wasm [args...]`: run a wasm32 WASI command with the
 * WASIX context API (src/wasix). Options come before the program; everything after it is
 * passed to the program as argv[1..].
 *
 * Exit status: the program's own (`proc_exit` / return of main); 129 when a context's
 * entrypoint returned; 1 when the program trapped or overflowed a context stack (the error
 * is printed); 2 for usage errors.
 */
import { statSync, writeSync } from "node:fs";
import { basename } from "node:path";
import { parseEnv, parseMount, UsageError } from "../args.ts";
import { DEFAULT_STACK_SIZE, runWasix, type WasixMount } from "../../wasix/index.ts";

const WASIX_USAGE = "usage: greenwasm wasix run [options] prog.wasm [args...]";

export const WASIX_HELP = `${WASIX_USAGE}

Run a wasm32-wasi command (a module exporting _start) with a WASI preview1 host and the
WASIX context API (wasix_32v1 context_create/context_switch/context_destroy).

options (before prog.wasm):
  --mount HOST[:GUEST][:rw]   preopen a host directory (GUEST defaults to HOST's absolute
                              path; read-only unless :rw)
  --env KEY=VALUE             environment variable for the program (the host's are not passed)
  --stack-size BYTES          C stack per context; suffix k or m allowed (default ${DEFAULT_STACK_SIZE / 1024}k)
`;

/** Parsed command line of `wasix run`. */
export interface WasixArgs {
  program: string;
  args: string[];
  mounts: WasixMount[];
  env: Record<string, string>;
  stackSize: number | undefined;
}

/** Parse a size like `65536`, `64k` or `1m`. */
export function parseSize(value: string): number {
  const m = /^(\d+)([kKmM]?)$/.exec(value);
  if (!m) throw new UsageError(`--stack-size: expected a number of bytes (e.g. 65536, 64k, 1m), got ${JSON.stringify(value)}`);
  const unit = m[2]!.toLowerCase();
  return Number(m[1]) * (unit === "k" ? 1024 : unit === "m" ? 1024 * 1024 : 1);
}

/** Parse the arguments after `greenwasm wasix run`. Pure (no file system access). */
export function parseWasixRunArgs(argv: readonly string[], cwd: string = process.cwd()): WasixArgs {
  const out: Omit<WasixArgs, "program"> = { args: [], mounts: [], env: {}, stackSize: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      const program = argv[i + 1];
      if (program === undefined) break;
      return { ...out, program, args: argv.slice(i + 2) };
    }
    if (!arg.startsWith("--")) return { ...out, program: arg, args: argv.slice(i + 1) };
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    let value: string | undefined = eq > 0 ? arg.slice(eq + 1) : argv[i + 1];
    if (!["--mount", "--env", "--stack-size"].includes(name)) throw new UsageError(`wasix run: unknown option ${name}`);
    if (value === undefined) throw new UsageError(`${name} requires a value`);
    if (eq < 0) i++;
    if (name === "--mount") out.mounts.push(parseMount(value, cwd));
    else if (name === "--env") {
      const [k, v] = parseEnv(value);
      out.env[k] = v;
    } else out.stackSize = parseSize((value = value.trim()));
  }
  throw new UsageError("wasix run: missing the program (prog.wasm)");
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; ) {
    try {
      at += writeSync(fd, bytes, at);
    } catch (e) {
      if ((e as { code?: string }).code !== "EAGAIN") throw e;
    }
  }
}

/** `greenwasm wasix ...`: `argv` is everything after `wasix`. Resolves to the exit status. */
export async function wasixCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") {
    writeAll(sub === undefined ? 2 : 1, new TextEncoder().encode(WASIX_HELP));
    return sub === undefined ? 2 : 0;
  }
  let parsed: WasixArgs;
  try {
    if (sub !== "run") throw new UsageError(`unknown wasix command ${JSON.stringify(sub)} (expected: wasix run prog.wasm)`);
    parsed = parseWasixRunArgs(rest);
    if (!isFile(parsed.program)) throw new UsageError(`can't open ${JSON.stringify(parsed.program)}: no such file`);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    writeAll(2, new TextEncoder().encode(`greenwasm: ${e.message}\ngreenwasm: ${WASIX_USAGE}  (see greenwasm wasix --help)\n`));
    return 2;
  }
  // stdin is read only if the program reads it.
  let stdinIter: AsyncIterator<Buffer> | undefined;
  const stdin = async (): Promise<Uint8Array | null> => {
    stdinIter ??= process.stdin[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const r = await stdinIter.next();
    return r.done ? null : new Uint8Array(r.value);
  };
  try {
    const result = await runWasix(parsed.program, {
      args: parsed.args,
      programName: basename(parsed.program),
      env: parsed.env,
      mounts: parsed.mounts,
      stdin,
      stdout: (b) => writeAll(1, b),
      stderr: (b) => writeAll(2, b),
      ...(parsed.stackSize !== undefined ? { stackSize: parsed.stackSize } : {}),
    });
    return result.exitCode;
  } catch (e) {
    const err = e as Error;
    writeAll(2, new TextEncoder().encode(`greenwasm: ${err.name}: ${err.message}\n`));
    return 1;
  } finally {
    if (stdinIter) process.stdin.destroy();
  }
}
