/**
 * N runtimes on worker threads behind one port (`serve({ workers: N })`).
 *
 * Each worker listens on the same port with SO_REUSEPORT, so the kernel
 * spreads connections over them and the primary thread never touches a
 * request. The primary supervises:
 * - a worker whose heartbeat is stale past the request timeout while it has
 *   requests in flight gets SIGINT in its interrupt buffer (Python raises
 *   KeyboardInterrupt, the request gets 504); if it is still silent
 *   `KILL_GRACE_MS` later it is terminated (its connections are reset);
 * - a worker that reports an interrupt is replaced, then drained and closed;
 * - a worker that exits unexpectedly (crash, out of memory) is logged and
 *   replaced; the others keep serving.
 */
import { createServer } from "node:net";
import { Worker } from "node:worker_threads";
import { WorkerStartError } from "./errors.ts";
import { Logger } from "./log.ts";
import type { ResolvedServeOptions } from "./options.ts";
import { stuck, Vitals } from "./watchdog.ts";
import type { PoolWorkerInit, PrimaryMessage, WorkerMessage } from "./worker.ts";

/** After an interrupt, how long a silent worker has before it is terminated. */
export const KILL_GRACE_MS = 3000;
/** Delay before replacing a worker that died, doubled per consecutive failure (max 30 s). */
const RESPAWN_DELAY_MS = 500;

interface Slot {
  index: number;
  worker: Worker;
  vitals: Vitals;
  ready: boolean;
  retiring: boolean;
  watch: { fired: boolean; beat: number; firedAt: number };
}

export interface Pool {
  port: number;
  close(): Promise<void>;
  closed: Promise<void>;
}

function workerUrl(): URL {
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  return new URL(`./worker${ext}`, import.meta.url);
}

/** A free TCP port on `host` (bound and released; the workers then bind it with SO_REUSEPORT). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen({ host, port: 0 }, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export async function startPool(opts: ResolvedServeOptions, progress: (m: string) => void): Promise<Pool> {
  const log = new Logger(opts.logLevel, opts.stderr, undefined);
  const port = opts.port === 0 ? await freePort(opts.host) : opts.port;
  const slots = new Map<number, Slot>();
  const { stdout, stderr, accessLogSink, onProgress: _p, ...serializable } = opts;
  const sinks = { 1: stdout, 2: stderr, 3: accessLogSink };
  let closing = false;
  let failures = 0;
  let nextIndex = 1;
  const timeoutMs = opts.requestTimeout * 1000;

  const spawn = (index: number): Promise<Slot> =>
    new Promise((resolve, reject) => {
      const vitals = new Vitals();
      const init: PoolWorkerInit = { options: serializable, index, port, vitals: vitals.shared };
      const worker = new Worker(workerUrl(), { workerData: init, stdout: false, stderr: false });
      const slot: Slot = { index, worker, vitals, ready: false, retiring: false, watch: { fired: false, beat: 0, firedAt: 0 } };
      slots.set(index, slot);
      worker.on("message", (m: WorkerMessage) => {
        switch (m.type) {
          case "out":
            sinks[m.fd](m.data);
            break;
          case "ready":
            slot.ready = true;
            failures = 0;
            resolve(slot);
            break;
          case "error": {
            const err = new WorkerStartError(m.message);
            err.name = m.name;
            slots.delete(index);
            void worker.terminate();
            reject(err);
            break;
          }
          case "interrupted":
            if (!slot.retiring && !closing) replace(slot, "a request was stuck past the request timeout");
            break;
          case "closed":
            void worker.terminate();
            break;
        }
      });
      worker.on("error", (err) => {
        log.error(`worker ${index} crashed: ${err.stack ?? err.message}`);
      });
      worker.on("exit", (code) => {
        const was = slots.get(index) === slot;
        slots.delete(index);
        if (!slot.ready) {
          reject(new WorkerStartError(`worker ${index} exited with status ${code} while booting`));
          return;
        }
        if (was && !slot.retiring && !closing) {
          log.error(`worker ${index} stopped unexpectedly (status ${code}); starting a replacement`);
          respawn();
        }
      });
    });

  const respawn = (): void => {
    const delay = Math.min(30_000, RESPAWN_DELAY_MS * 2 ** failures);
    failures++;
    setTimeout(() => {
      if (closing) return;
      const index = nextIndex++;
      spawn(index).then(
        () => log.info(`worker ${index} ready`),
        (err: Error) => {
          log.error(`worker ${index} failed to start: ${err.message}`);
          respawn();
        },
      );
    }, delay);
  };

  /** Start a replacement, then drain and close the old worker. */
  const replace = (slot: Slot, why: string): void => {
    slot.retiring = true;
    log.warning(`recycling worker ${slot.index}: ${why}`);
    const index = nextIndex++;
    spawn(index).then(
      () => log.info(`worker ${index} ready (replaces worker ${slot.index})`),
      (err: Error) => {
        log.error(`worker ${index} failed to start: ${err.message}`);
        respawn();
      },
    );
    const msg: PrimaryMessage = { type: "close", timeout: opts.shutdownTimeout };
    slot.worker.postMessage(msg);
  };

  const monitor =
    timeoutMs > 0
      ? setInterval(() => {
          for (const slot of slots.values()) {
            if (!slot.ready) continue;
            if (stuck(slot.vitals, timeoutMs, slot.watch)) {
              log.warning(`worker ${slot.index} is stuck in Python code; interrupting it`);
              slot.watch.firedAt = Date.now();
              slot.vitals.interrupt();
            } else if (slot.watch.fired && slot.vitals.staleFor() > timeoutMs && Date.now() - slot.watch.firedAt > KILL_GRACE_MS) {
              log.error(`worker ${slot.index} did not respond to the interrupt; terminating it`);
              slot.watch.fired = false;
              void slot.worker.terminate();
            }
          }
        }, Math.max(10, Math.min(500, timeoutMs / 4)))
      : undefined;
  monitor?.unref();

  progress(`booting ${opts.workers} worker${opts.workers > 1 ? "s (Python runtimes)" : " (Python runtime)"} for ${opts.app}`);
  const starting: Promise<Slot>[] = [];
  for (let i = 0; i < opts.workers; i++) starting.push(spawn(nextIndex++));
  try {
    await Promise.all(starting);
  } catch (err) {
    closing = true;
    if (monitor) clearInterval(monitor);
    await Promise.allSettled([...slots.values()].map((s) => s.worker.terminate()));
    throw err;
  }
  progress(`${opts.workers} worker${opts.workers > 1 ? "s" : ""} ready`);

  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  let closingPromise: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closingPromise ??= (async () => {
      closing = true;
      if (monitor) clearInterval(monitor);
      const msg: PrimaryMessage = { type: "close", timeout: opts.shutdownTimeout };
      const exits = [...slots.values()].map((s) => new Promise<void>((r) => {
        s.worker.once("exit", () => r());
        s.worker.postMessage(msg);
      }));
      const hard = setTimeout(() => {
        for (const s of slots.values()) void s.worker.terminate();
      }, (opts.shutdownTimeout + 10) * 1000);
      await Promise.all(exits);
      clearTimeout(hard);
      resolveClosed();
    })();
    return closingPromise;
  };
  return { port, close, closed };
}
