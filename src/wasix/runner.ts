/**
 * `runWasix`: run a wasm32 WASI command (a module exporting `_start`) with the
 * WASI preview1 host and the WASIX context API, on Node or in a browser.
 *
 * Steps: rewrite the binary so the C stack pointer, table and memory are
 * exported (binary.ts); link `wasi_snapshot_preview1` and `wasix_32v1`; call
 * `_start` through `WebAssembly.promising` (main context, id 0) and turn the
 * way it ended into an exit code. Browser-safe: `node:` modules are imported
 * dynamically, only for a file-path program or mounts without a custom `fs`.
 */
import { collapseAbsolutePath } from "../common/paths.ts";
import { promising, requireJspi } from "../engine/index.ts";
import { exposeGuest, inspectGuest } from "./binary.ts";
import { WasixContexts } from "./context.ts";
import { Errno, WASI_MODULE, WASIX_MODULE } from "./defs.ts";
import { ContextEntrypointReturnedError, WasiExit, WasixLinkError, WasixOptionsError } from "./errors.ts";
import { WasiHost, type OutputSink, type StdinSource } from "./wasi.ts";
import { FileTable, type FsBackend, type MountSpec } from "./wasi-fs.ts";

/** A host directory visible inside the guest (same shape as the Python runtime's mounts). */
export interface WasixMount {
  /** Host directory (absolute, or relative to the current directory). Default: none (required). */
  host: string;
  /** Absolute guest path where it appears. Default: none (required). */
  guest: string;
  /** Allow the program to create, modify and delete files under it. Default: `false`. */
  writable?: boolean;
}

/** Options of `runWasix`. Every field is optional. */
export interface WasixOptions {
  /** Arguments after the program name (argv[1..]). Default: `[]`. */
  args?: string[];
  /** argv[0]. Default: the program's file name when given a path, else `"main.wasm"`. */
  programName?: string;
  /** The only environment variables the program sees (the host's are never read). Default: `{}`. */
  env?: Record<string, string>;
  /** Host directories to preopen; read-only unless `writable`. Default: `[]` (no files at all). */
  mounts?: WasixMount[];
  /** Host file system behind the mounts. Default: Node's `node:fs` (needed in browsers to use mounts). */
  fs?: FsBackend;
  /** Sink for stdout bytes. Default: `process.stdout` on Node, `console.log` per line elsewhere. */
  stdout?: OutputSink;
  /** Sink for stderr bytes. Default: `process.stderr` on Node, `console.error` per line elsewhere. */
  stderr?: OutputSink;
  /** The program's stdin: bytes, a string, or a function returning the next chunk (null at the end). Default: empty. */
  stdin?: StdinSource;
  /**
   * Bytes of C stack per WASIX context (not main, which keeps the stack wasm-ld gave it).
   * Rounded down to 16; at least 4096. Regions come from memory the host grows, so
   * 10,000 live contexts cost 10,000 × stackSize bytes. Default: `65536` (64 KiB, wasm-ld's
   * default for the main stack).
   */
  stackSize?: number;
}

export interface WasixResult {
  /** `proc_exit` code, 0 when `_start` returned, 129 when a context entrypoint returned. */
  exitCode: number;
  /** Diagnostics: the guest's `__stack_pointer` before `_start` and when the program ended. */
  stackPointer: { initial: number; final: number };
}

export const DEFAULT_STACK_SIZE = 65536;
const MIN_STACK_SIZE = 4096;

function defaultSink(which: "stdout" | "stderr"): OutputSink {
  const proc = (globalThis as { process?: { stdout?: { write(b: Uint8Array): void }; stderr?: { write(b: Uint8Array): void } } }).process;
  const stream = proc?.[which];
  if (stream) return (b) => stream.write(b);
  const dec = new TextDecoder();
  let pending = "";
  return (b) => {
    pending += dec.decode(b, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) (which === "stdout" ? console.log : console.error)(line);
  };
}

function normalizeGuest(what: string, path: string): string {
  if (!path.startsWith("/")) throw new WasixOptionsError(`${what}: guest path ${JSON.stringify(path)} must be absolute`);
  return collapseAbsolutePath(path);
}

async function loadProgram(program: Uint8Array | ArrayBuffer | string | URL): Promise<Uint8Array> {
  if (program instanceof Uint8Array) return program;
  if (program instanceof ArrayBuffer) return new Uint8Array(program);
  const isNode = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === "string";
  if (isNode && !(program instanceof URL && program.protocol !== "file:")) {
    const { readFile } = await import("node:fs/promises");
    return new Uint8Array(await readFile(program));
  }
  const res = await fetch(program);
  if (!res.ok) throw new WasixOptionsError(`cannot load ${String(program)}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * Run a WASI command to completion. Resolves with its exit code; rejects when the
 * program traps (in main or in a context: the trap is re-raised in main) or a context
 * overflows its stack (`StackOverflowError`).
 */
export async function runWasix(program: Uint8Array | ArrayBuffer | string | URL, options: WasixOptions = {}): Promise<WasixResult> {
  requireJspi();
  const stackSize = Math.floor((options.stackSize ?? DEFAULT_STACK_SIZE) / 16) * 16;
  if (!Number.isFinite(stackSize) || stackSize < MIN_STACK_SIZE) throw new WasixOptionsError(`stackSize must be at least ${MIN_STACK_SIZE} bytes`);
  const mounts: MountSpec[] = (options.mounts ?? []).map((m, i) => ({ host: m.host, guest: normalizeGuest(`mounts[${i}]`, m.guest), writable: m.writable === true }));
  const name = options.programName ?? (typeof program === "string" || program instanceof URL ? String(program).split("/").pop()! : "main.wasm");
  const stdout = options.stdout ?? defaultSink("stdout");
  const stderr = options.stderr ?? defaultSink("stderr");

  const bytes = await loadProgram(program);
  const info = inspectGuest(bytes);
  const exposed = exposeGuest(bytes, info);
  const module = await WebAssembly.compile(exposed.bytes as Uint8Array<ArrayBuffer>);

  const wasi = new WasiHost({ args: [name, ...(options.args ?? [])], env: { ...options.env }, stdout, stderr, stdin: options.stdin ?? new Uint8Array(0) });
  if (mounts.length > 0) {
    const fsb = options.fs ?? (await import("./node-fs.ts")).nodeFs;
    try {
      wasi.files = new FileTable(fsb, mounts, wasi.mem);
    } catch (e) {
      throw new WasixOptionsError(`mounts: ${(e as Error).message}`);
    }
  }
  const contexts = new WasixContexts(stackSize);

  // Link: every import must be provided; unknown WASI/WASIX functions get ENOSYS stubs.
  const imports: Record<string, Record<string, unknown>> = {};
  const wanted = WebAssembly.Module.imports(module);
  const wasiFns = wanted.filter((i) => i.module === WASI_MODULE && i.kind === "function").map((i) => i.name);
  imports[WASI_MODULE] = wasi.imports(wasiFns);
  const ctx = contexts.imports();
  let memory: WebAssembly.Memory | undefined;
  let table: WebAssembly.Table | undefined;
  const missing: string[] = [];
  for (const [k, imp] of wanted.entries()) {
    const mod = (imports[imp.module] ??= {});
    if (imp.module === WASI_MODULE && imp.kind === "function") continue;
    if (imp.module === WASIX_MODULE && imp.kind === "function") mod[imp.name] = ctx[imp.name] ?? (() => Errno.NOSYS);
    else if (imp.kind === "memory") {
      const lim = info.imports.filter((e) => e.kind === 2)[0]!.limits!;
      mod[imp.name] = memory = new WebAssembly.Memory({ initial: lim.min, ...(lim.max !== undefined ? { maximum: lim.max } : {}) });
    } else if (imp.kind === "table") {
      const lim = info.imports.filter((e) => e.kind === 1)[0]!.limits!;
      mod[imp.name] = table = new WebAssembly.Table({ element: "anyfunc", initial: lim.min });
    } else missing.push(`${imp.module}.${imp.name} (${imp.kind}, import #${k})`);
  }
  if (missing.length) throw new WasixLinkError(`the program imports what greenwasm does not provide: ${missing.join(", ")}`);

  const instance = await WebAssembly.instantiate(module, imports as WebAssembly.Imports);
  const ex = instance.exports;
  memory = exposed.memory ? (ex[exposed.memory] as WebAssembly.Memory) : memory;
  table = exposed.table ? (ex[exposed.table] as WebAssembly.Table) : table;
  if (!memory) throw new WasixOptionsError("the program has no memory");
  // A program without a stack pointer never uses a C stack: contexts switch a stand-in.
  const sp = exposed.sp ? (ex[exposed.sp] as WebAssembly.Global) : new WebAssembly.Global({ value: "i32", mutable: true }, 0);
  wasi.mem.memory = memory;
  contexts.attach({ memory, stackPointer: sp, table });
  const start = ex["_start"];
  if (typeof start !== "function") throw new WasixOptionsError("not a WASI command: the program exports no _start function");

  const initial = sp.value as number;
  let exitCode = 0;
  try {
    await promising<[], unknown>(start)();
  } catch (e) {
    if (e instanceof WasiExit) exitCode = e.code;
    else if (e instanceof ContextEntrypointReturnedError) {
      stderr(new TextEncoder().encode(`greenwasm: ${e.message}\n`));
      exitCode = e.exitCode;
    } else throw e;
  } finally {
    contexts.close();
    wasi.files?.closeAll();
  }
  return { exitCode, stackPointer: { initial, final: sp.value as number } };
}
