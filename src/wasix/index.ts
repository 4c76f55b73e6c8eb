/** Public surface of the WASIX layer: run wasm32 WASI programs with the WASIX context API. */
export { runWasix, DEFAULT_STACK_SIZE } from "./runner.ts";
export type { WasixOptions, WasixResult, WasixMount } from "./runner.ts";
export type { OutputSink, StdinSource } from "./wasi.ts";
export type { FsBackend, HostStat, OpenFlags } from "./wasi-fs.ts";
export { WasiExit, ContextEntrypointReturnedError, WasixLinkError, WasixOptionsError } from "./errors.ts";
export { StackOverflowError } from "./stacks.ts";
export { WasmBinaryError } from "./binary.ts";
export { Errno, EXIT_ENTRYPOINT_RETURNED } from "./defs.ts";
export { createMemoryFs } from "./memory-fs.ts";
export type { MemoryFs } from "./memory-fs.ts";
