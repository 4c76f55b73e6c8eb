/** The package's curated public surface (`import { ... } from "greenwasm"`). */
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
export { GreenwasmError } from "./common/errors.ts";
