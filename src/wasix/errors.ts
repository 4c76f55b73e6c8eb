/** Errors of the WASIX runner. Each sets `name`; the runner turns some into exit codes. */
import { GreenwasmError } from "../common/errors.ts";
import { EXIT_ENTRYPOINT_RETURNED } from "./defs.ts";

/**
 * Thrown by `proc_exit` to unwind the guest; the runner turns it into
 * `{ exitCode: code }`. Also thrown when a context calls `proc_exit`: it is
 * re-raised in main like any other failure of a context.
 */
export class WasiExit extends GreenwasmError {
  readonly code: number;
  constructor(code: number) {
    super(`the program exited with code ${code}`);
    this.name = "WasiExit";
    this.code = code;
  }
}

/**
 * A context's entrypoint returned, which wasix/context.h forbids. As in Wasmer
 * (`ContextEntrypointReturned`), main is resumed with this error and the program
 * ends with exit code 129; the runner prints the message on stderr.
 */
export class ContextEntrypointReturnedError extends GreenwasmError {
  readonly exitCode = EXIT_ENTRYPOINT_RETURNED;
  readonly contextId: number;
  constructor(contextId: number) {
    super(
      `WASIX context ${contextId}: its entrypoint returned; an entrypoint must switch away instead ` +
        `(wasix/context.h). The program ends with exit code ${EXIT_ENTRYPOINT_RETURNED}.`,
    );
    this.name = "ContextEntrypointReturnedError";
    this.contextId = contextId;
  }
}

/** The guest imports something this host does not provide. */
export class WasixLinkError extends GreenwasmError {
  constructor(message: string) {
    super(message);
    this.name = "WasixLinkError";
  }
}

/** Invalid `runWasix` options or an unusable program. */
export class WasixOptionsError extends GreenwasmError {
  constructor(message: string) {
    super(message);
    this.name = "WasixOptionsError";
  }
}
