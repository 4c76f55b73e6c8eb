/**
 * JSPI feature detection, done once. Everything that suspends goes through
 * `suspending()`/`promising()` so the engine has a single place that knows the
 * API shape (the standardised `WebAssembly.Suspending` / `WebAssembly.promising`).
 */

interface JspiWebAssembly {
  Suspending?: new (fn: (...args: never[]) => unknown) => object;
  promising?: (fn: Function) => (...args: unknown[]) => Promise<unknown>;
}

const wa = WebAssembly as unknown as JspiWebAssembly;

/** True when this engine has JavaScript Promise Integration (Node 25+, Chromium 137+). */
export const jspiSupported: boolean =
  typeof wa.Suspending === "function" && typeof wa.promising === "function";

/** Raised when JSPI is needed and the host lacks it. */
export class JspiUnsupportedError extends Error {
  override name = "JspiUnsupportedError";
  constructor(host = describeHost()) {
    super(
      `${host} lacks JavaScript Promise Integration (JSPI). ` +
        "Use Node.js 25 or newer (or Node.js 24 with --experimental-wasm-jspi), or Chromium 137 or newer.",
    );
  }
}

function describeHost(): string {
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return proc?.versions?.node ? `This Node.js (v${proc.versions.node})` : "This JavaScript engine";
}

export function requireJspi(): void {
  if (!jspiSupported) throw new JspiUnsupportedError();
}

/** Wrap a JS function so a wasm caller suspends while the returned promise is pending. */
export function suspending(fn: (...args: never[]) => unknown): object {
  requireJspi();
  return new wa.Suspending!(fn);
}

/** Wrap a wasm export so calling it runs on a fresh JSPI stack and returns a promise. */
export function promising<A extends unknown[], R>(fn: Function): (...args: A) => Promise<R> {
  requireJspi();
  return wa.promising!(fn) as (...args: A) => Promise<R>;
}
