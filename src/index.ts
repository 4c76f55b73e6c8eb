/** The package's curated public surface (`import { ... } from "greenwasm"`). */

// Python runtime (src/python).
export {
  BASIC_ENV,
  codeGenerationFromStringsAllowed,
  createRuntime,
  GUEST_HOME,
  GUEST_PATHS_ROOT,
  PYODIDE_VERSION,
  PYTHON_VERSION,
  PyodideVersionError,
  Runtime,
  RuntimeBootError,
  RuntimeBusyError,
  RuntimeClosedError,
  RuntimeOptionsError,
} from "./python/index.ts";
export type { Mount, OutputSink, RuntimeOptions, StdinSource } from "./python/index.ts";

// WASIX programs (src/wasix). `OutputSink` is the same type in both layers.
export {
  ContextEntrypointReturnedError,
  createMemoryFs,
  DEFAULT_STACK_SIZE,
  Errno,
  EXIT_ENTRYPOINT_RETURNED,
  runWasix,
  StackOverflowError,
  WasiExit,
  WasixLinkError,
  WasixOptionsError,
  WasmBinaryError,
} from "./wasix/index.ts";
export type {
  FsBackend,
  HostStat,
  MemoryFs,
  OpenFlags,
  WasixMount,
  WasixOptions,
  WasixResult,
  StdinSource as WasixStdinSource,
} from "./wasix/index.ts";

// Serving ASGI/WSGI apps over node:http (src/server; also `greenwasm/server`).
export { AppLoadError, createAppHandler, LifespanError, serve, ServeOptionsError, WorkerStartError } from "./server/index.ts";
export type { AppHandler, AppOptions, Interface, LogLevel, ServeOptions, ServerHandle } from "./server/index.ts";

// Engine: JSPI detection (greenwasm refuses to start without JSPI).
export { jspiSupported, JspiUnsupportedError } from "./engine/index.ts";

export { GreenwasmError } from "./common/errors.ts";
