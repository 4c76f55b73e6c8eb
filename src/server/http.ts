/**
 * `serve()`: a node:http server in front of one runtime on this thread
 * (`workers: 0`) or of a pool of worker threads (see pool.ts).
 *
 * Node's HTTP parser answers malformed requests with 400 and request heads
 * over `maxHeaderSize` with 431 before the app sees them. Upgrade requests
 * (WebSocket) are refused with 404: only the http and lifespan ASGI scopes
 * are supported.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { createAppHandler, type AppHandler } from "./app.ts";
import { Logger } from "./log.ts";
import { resolveServeOptions, type ResolvedServeOptions, type ServeOptions } from "./options.ts";
import { startPool } from "./pool.ts";
import { startWatchdog } from "./watchdog.ts";

/** A running server. */
export interface ServerHandle {
  /** `http://host:port` it listens on (the real port when `port` was 0). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /**
   * Stop accepting connections, let in-flight requests finish (for up to
   * `shutdownTimeout` seconds, then close their connections), run the
   * lifespan shutdown and release the runtimes. Idempotent.
   */
  close(): Promise<void>;
  /** Resolves when the server has closed (by `close()` or a fatal error). */
  readonly closed: Promise<void>;
}

/** Refuse upgrade requests (WebSocket is not supported yet). */
export function refuseUpgrade(_req: IncomingMessage, socket: Duplex): void {
  socket.end("HTTP/1.1 404 Not Found\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 9\r\nconnection: close\r\n\r\nNot Found");
}

/** A node:http server configured from the options (limits, keep-alive). */
export function httpServer(opts: ResolvedServeOptions, listener: AppHandler["handle"]): Server {
  const server = createServer({ maxHeaderSize: opts.maxHeaderSize, keepAliveTimeout: opts.timeoutKeepAlive * 1000 }, listener);
  server.keepAliveTimeout = opts.timeoutKeepAlive * 1000;
  server.on("upgrade", refuseUpgrade);
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (socket.writable && !(socket as unknown as { _httpMessage?: unknown })._httpMessage) {
      const status = err.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "408 Request Timeout" : "400 Bad Request";
      socket.end(`HTTP/1.1 ${status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
    } else {
      socket.destroy();
    }
  });
  return server;
}

/** Listen; resolves to the bound port. */
export function listen(server: Server, host: string, port: number, reusePort = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once("error", onError);
    server.listen({ host, port, reusePort }, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stop accepting, close idle keep-alive connections, and resolve when all are closed. */
export function stopListening(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

function urlOf(host: string, port: number): string {
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/**
 * Serve an ASGI or WSGI app over HTTP. Resolves once the app's lifespan
 * startup completed and the port listens; rejects if the app cannot be
 * loaded or its startup fails.
 */
export async function serve(options: ServeOptions): Promise<ServerHandle> {
  const opts = resolveServeOptions(options);
  const log = new Logger(opts.logLevel, opts.stderr, undefined);
  const progress = opts.onProgress ?? ((m: string) => log.info(m));
  if (opts.workers > 0) {
    const pool = await startPool(opts, progress);
    return { url: urlOf(opts.host, pool.port), host: opts.host, port: pool.port, close: () => pool.close(), closed: pool.closed };
  }
  progress(`booting Python and importing ${opts.app}`);
  const app = await createAppHandler(opts, { host: opts.host, port: opts.port, workers: 1 });
  const watchdog = startWatchdog(app.vitals, opts.requestTimeout * 1000);
  const server = httpServer(opts, app.handle);
  let port: number;
  try {
    port = await listen(server, opts.host, opts.port);
  } catch (err) {
    watchdog.stop();
    await app.close(0);
    throw err;
  }
  progress(`${app.interface.toUpperCase()} app ${opts.app} ready`);
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const stopped = stopListening(server);
      await app.close(opts.shutdownTimeout);
      server.closeAllConnections();
      await stopped;
      watchdog.stop();
      resolveClosed();
    })();
    return closing;
  };
  return { url: urlOf(opts.host, port), host: opts.host, port, close, closed };
}
