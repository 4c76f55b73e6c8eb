import { GreenwasmError } from "../common/errors.ts";

/** The installed `pyodide` npm package is not the version greenwasm is pinned to. */
export class PyodideVersionError extends GreenwasmError {
  /** Version reported by the loaded Pyodide. */
  readonly found: string;
  /** Version greenwasm requires. */
  readonly expected: string;
  constructor(found: string, expected: string) {
    super(`greenwasm requires Pyodide ${expected}, but the installed pyodide package is ${found}`);
    this.name = "PyodideVersionError";
    this.found = found;
    this.expected = expected;
  }
}

/** A method was called on a runtime after `close()`. */
export class RuntimeClosedError extends GreenwasmError {
  constructor(what = "runtime") {
    super(`the Python ${what} is closed`);
    this.name = "RuntimeClosedError";
  }
}

/** `createRuntime` was given options it cannot honour (bad path, bad guest path, ...). */
export class RuntimeOptionsError extends GreenwasmError {
  constructor(message: string) {
    super(message);
    this.name = "RuntimeOptionsError";
  }
}

/** Booting the interpreter failed; `cause` holds the underlying error. */
export class RuntimeBootError extends GreenwasmError {
  constructor(stage: string, cause: unknown) {
    super(`Python runtime failed to boot at stage "${stage}": ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "RuntimeBootError";
  }
}

/** A second `run*` call was made while one is still in flight on the same runtime. */
export class RuntimeBusyError extends GreenwasmError {
  constructor() {
    super("the Python runtime is already running code; await the previous run first");
    this.name = "RuntimeBusyError";
  }
}
