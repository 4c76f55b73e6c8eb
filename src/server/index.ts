/** Public surface of the server layer: ASGI/WSGI apps over node:http. */
export { createAppHandler, APP_GUEST_DIR } from "./app.ts";
export type { AppHandler } from "./app.ts";
export { serve } from "./http.ts";
export type { ServerHandle } from "./http.ts";
export { LOG_LEVELS } from "./options.ts";
export type { AppOptions, Interface, LogLevel, ServeOptions } from "./options.ts";
export { AppLoadError, LifespanError, ServeOptionsError, WorkerStartError } from "./errors.ts";
