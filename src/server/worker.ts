/**
 * Entry of one pool worker thread: one runtime and one node:http server
 * listening with SO_REUSEPORT on the pool's port (the kernel spreads
 * connections over the workers). Protocol with pool.ts:
 *
 * worker → primary: `ready` once (or `error` and the thread ends), `out`
 *   for output bytes, `interrupted` when a watchdog interrupt landed (the
 *   primary starts a replacement and then sends `close`), `closed` last.
 * primary → worker: `close` (stop listening, drain for `timeout` seconds,
 *   lifespan shutdown, exit).
 */
import { parentPort, workerData } from "node:worker_threads";
import { createAppHandler, type AppHandler } from "./app.ts";
import { httpServer, listen, stopListening } from "./http.ts";
import type { ResolvedServeOptions } from "./options.ts";

/** `workerData` of a pool worker. */
export interface PoolWorkerInit {
  /** Serializable options (sinks are replaced by `out` messages). */
  options: Omit<ResolvedServeOptions, "stdout" | "stderr" | "accessLogSink" | "onProgress">;
  index: number;
  port: number;
  vitals: Int32Array;
}

export type WorkerMessage =
  | { type: "ready"; interface: string }
  | { type: "error"; name: string; message: string }
  /** Output bytes: 1 Python's stdout, 2 stderr and server messages, 3 access log. */
  | { type: "out"; fd: 1 | 2 | 3; data: Uint8Array }
  | { type: "interrupted" }
  | { type: "closed" };

export type PrimaryMessage = { type: "close"; timeout: number };

/** Pause between a `close` message and closing the listening socket. */
const SETTLE_MS = 100;

const port = parentPort!;
const init = workerData as PoolWorkerInit;
const post = (m: WorkerMessage): void => port.postMessage(m);
const out = (fd: 1 | 2 | 3) => (bytes: Uint8Array): void => post({ type: "out", fd, data: bytes.slice() });

async function main(): Promise<void> {
  const opts = init.options;
  let app: AppHandler;
  try {
    app = await createAppHandler(
      { ...opts, stdout: out(1), stderr: out(2), accessLogSink: out(3) },
      { host: opts.host, port: init.port, workers: opts.workers, vitals: init.vitals, logPrefix: opts.workers > 1 ? `[worker ${init.index}] ` : "" },
    );
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    post({ type: "error", name: e.name, message: e.message });
    return;
  }
  const server = httpServer({ ...opts, stdout: out(1), stderr: out(2), accessLogSink: out(3), onProgress: undefined }, app.handle);
  try {
    await listen(server, opts.host, init.port, true);
  } catch (err) {
    post({ type: "error", name: "Error", message: `cannot listen on ${opts.host}:${init.port}: ${(err as Error).message}` });
    await app.close(0);
    return;
  }
  app.onInterrupted = () => post({ type: "interrupted" });
  // A dead interpreter cannot be reused: leave, the primary starts a replacement.
  app.onFatal = () => {
    server.close();
    setTimeout(() => process.exit(70), 100);
  };
  post({ type: "ready", interface: app.interface });
  port.on("message", (m: PrimaryMessage) => {
    if (m.type !== "close") return;
    void (async () => {
      // Connections accepted while this thread was busy (e.g. stuck in Python)
      // may still hold an unparsed request; closing now would reset them as
      // idle. Let the event loop read them first.
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      const stopped = stopListening(server);
      await app.close(m.timeout);
      server.closeAllConnections();
      await stopped;
      post({ type: "closed" });
      port.close();
    })();
  });
}

void main();
