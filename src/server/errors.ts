import { GreenwasmError } from "../common/errors.ts";

/** `serve()` / `createAppHandler()` were given options they cannot honour. */
export class ServeOptionsError extends GreenwasmError {
  constructor(message: string) {
    super(message);
    this.name = "ServeOptionsError";
  }
}

/** The app could not be imported or is not an ASGI/WSGI callable. */
export class AppLoadError extends GreenwasmError {
  constructor(app: string, detail: string) {
    super(`cannot load app ${JSON.stringify(app)}: ${detail}`);
    this.name = "AppLoadError";
  }
}

/** The ASGI lifespan startup (or shutdown) failed. */
export class LifespanError extends GreenwasmError {
  readonly phase: "startup" | "shutdown";
  constructor(phase: "startup" | "shutdown", detail: string) {
    super(`application ${phase} failed${detail ? `: ${detail}` : ""}`);
    this.name = "LifespanError";
    this.phase = phase;
  }
}

/** A worker of the pool failed to start; `cause` holds its error. */
export class WorkerStartError extends GreenwasmError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WorkerStartError";
  }
}
