/** Public surface of the python layer. */
export { createRuntime, Runtime } from "./runtime.ts";
export type { Mount, OutputSink, RuntimeOptions, StdinSource } from "./options.ts";
export { GUEST_HOME, GUEST_PATHS_ROOT } from "./options.ts";
export { PyodideVersionError, RuntimeBootError, RuntimeBusyError, RuntimeClosedError, RuntimeOptionsError } from "./errors.ts";
export { PYODIDE_VERSION, PYTHON_VERSION } from "./pyodide.ts";
export { BASIC_ENV, codeGenerationFromStringsAllowed } from "./sandbox.ts";
export { NetRuleError, parseNetRule } from "./netpolicy.ts";
export { callThread, GuestCallError, importGuest } from "./calls.ts";
export type { PyProxy } from "./calls.ts";
