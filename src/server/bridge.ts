/**
 * One Python runtime serving one ASGI or WSGI app to node:http requests.
 *
 * Crossings per request (the FFI costs microseconds per call): ASGI makes one
 * sync call into Python (`submit`) and, for a response sent as one body
 * message, one call back (`respond`); the asyncio work of all requests that
 * arrive together runs in one promising `pump` (see greenwasm/_loop.py).
 * WSGI starts one greenlet thread per request (`callThread`) and calls back
 * the same way. Responses are written by output.ts, bodies read by input.ts.
 *
 * Invariants:
 * - `live` holds every request whose response is not over, in arrival order
 *   (the timeout sweep stops at the first one that is not overdue).
 * - Hooks look ids up in `live` and ignore unknown or `done` ones, so output
 *   from Python for a request that timed out or lost its client is dropped.
 * - Python is told (`close(id, cancel)`) about every ASGI request that ends
 *   before its app returned, so a task waiting in `receive()` wakes up.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { callThread, importGuest, type PyProxy, type Runtime } from "../python/index.ts";
import type { AppHandler, HostingInfo } from "./app.ts";
import { AppLoadError, LifespanError } from "./errors.ts";
import { encodeHead, Exchange, record } from "./exchange.ts";
import { Input } from "./input.ts";
import { Logger } from "./log.ts";
import type { ResolvedAppOptions } from "./options.ts";
import { Output } from "./output.ts";
import { PumpScheduler } from "./pump.ts";
import type { Vitals } from "./watchdog.ts";

type Phase = "startup" | "shutdown";
/** A handle on a Python callable (Pyodide PyProxy): callable synchronously or via `callPromising`. */
type PyFn = PyProxy & ((...args: unknown[]) => unknown);

/** An attribute of a Python object as an owned handle (attribute proxies are borrowed from their parent). */
function own(obj: PyProxy, name: string): PyFn {
  const attr = obj[name] as PyProxy;
  const copy = attr.copy() as PyFn;
  attr.destroy();
  return copy;
}

/** The AppHandler behind `createAppHandler` (see app.ts). */
export class Bridge implements AppHandler {
  interface: "asgi" | "wsgi" = "asgi";
  onInterrupted: (() => void) | undefined = undefined;
  onFatal: ((err: Error) => void) | undefined = undefined;
  interrupted = false;
  fatal: Error | undefined = undefined;
  closing = false;
  readonly vitals: Vitals;
  readonly live = new Map<number, Exchange>();
  readonly log: Logger;
  readonly #rt: Runtime;
  readonly #opts: ResolvedAppOptions;
  readonly #output: Output;
  readonly #input: Input;
  #nextId = 0;
  #closed: Promise<void> | undefined;
  #idle: (() => void) | undefined;
  readonly #timeoutMs: number;
  #tick: NodeJS.Timeout | undefined;
  // Python handles (owned).
  #host: PyProxy | undefined;
  #py: { feed?: PyFn; drained?: PyFn; close?: PyFn; pump?: PyFn; handle?: PyFn; lifespan?: PyProxy; settle?: PyFn } = {};
  readonly #pumps = new PumpScheduler((err) => this.#guestFailed("event loop pump", err));
  // WSGI concurrency.
  #threads = 0;
  readonly #queue: Exchange[] = [];
  #phase: { phase: Phase; resolve: () => void; reject: (e: Error) => void } | undefined;

  constructor(rt: Runtime, opts: ResolvedAppOptions, log: Logger, vitals: Vitals) {
    this.#rt = rt;
    this.#opts = opts;
    this.log = log;
    this.vitals = vitals;
    this.#timeoutMs = opts.requestTimeout * 1000;
    this.#output = new Output(this);
    this.#input = new Input({
      maxBodySize: opts.maxBodySize,
      submit: (ex, body, more) => this.#submit(ex, body, more),
      feed: (ex, data, more) => this.#feed(ex, data, more),
      tooLarge: (ex) => {
        const submitted = ex.submitted;
        this.#output.failNow(ex, 413);
        if (submitted) this.#tellClosed(ex.id, true);
      },
    });
  }

  get inFlight(): number {
    return this.live.size;
  }

  get runtime(): Runtime {
    return this.#rt;
  }

  load(guestDir: string, extra: HostingInfo): void {
    const config = JSON.stringify({
      app: this.#opts.app,
      appDir: guestDir,
      interface: this.#opts.interface,
      rootPath: this.#opts.rootPath,
      lifespan: this.#opts.lifespan,
      host: extra.host ?? "127.0.0.1",
      port: extra.port ?? 0,
      workers: extra.workers ?? 1,
    });
    const mod = importGuest(this.#rt, "greenwasm._server");
    try {
      this.#host = mod.create(config, this.#hooks()) as PyProxy;
    } catch (err) {
      const text = (err instanceof Error ? err.message : String(err)).trimEnd();
      this.log.error(`Error loading ASGI/WSGI app ${this.#opts.app}:\n${text}`);
      throw new AppLoadError(this.#opts.app, text.split("\n").pop() ?? text);
    } finally {
      mod.destroy();
    }
    const host = this.#host!;
    this.interface = host.interface as "asgi" | "wsgi";
    const handlers = host.handlers as PyProxy;
    const server = handlers.get(0) as PyProxy;
    if (this.interface === "asgi") {
      this.#py = {
        feed: own(server, "feed"), drained: own(server, "drained"), close: own(server, "close"),
        pump: own(host, "pump"), lifespan: handlers.get(1) as PyProxy,
      };
      this.#pumps.pump = this.#py.pump;
    } else {
      this.#py = { handle: own(server, "handle") };
    }
    this.#py.settle = own(host, "settle");
    server.destroy();
    handlers.destroy();
    if (this.#timeoutMs > 0) {
      this.#tick = setInterval(() => this.#sweep(), Math.max(20, Math.min(1000, this.#timeoutMs / 4)));
      this.#tick.unref();
    }
    this.vitals.beat();
  }

  /** After startup: move the app's long-lived objects out of the GC's way (see _server.py). */
  settle(): void {
    this.#py.settle?.();
  }

  // ---- hooks called by Python (see greenwasm/_asgi.py, _wsgi.py, _loop.py) ----

  #hooks(): Record<string, unknown> {
    const out = this.#output;
    return {
      respond: (id: number, status: number, headers: string, body: string) => out.respond(id, status, headers, body),
      start: (id: number, status: number, headers: string) => out.start(id, status, headers),
      write: (id: number, body: string, more: boolean) => out.write(id, body, more),
      fail: (id: number, status: number) => out.fail(id, status),
      abort: (id: number) => out.abort(id),
      want: (id: number) => this.#want(id),
      read: (id: number) => this.#read(id),
      drain: (id: number) => this.#drain(id),
      log: (level: number, message: string) => this.log.log(level, message),
      wake: () => this.#pumps.wake(),
      unwake: () => this.#pumps.unwake(),
      timer: (ms: number) => this.#pumps.timer(ms),
      lifespan: (phase: Phase, ok: boolean, message: string) => this.#lifespanDone(phase, ok, message),
      interrupted: () => this.#markInterrupted(),
    };
  }

  /** A call into Python failed outside the app's own error handling. */
  #guestFailed(what: string, err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    if ((e as { pyodide_fatal_error?: boolean }).pyodide_fatal_error || this.fatal) {
      this.#setFatal(e);
      return;
    }
    this.log.error(`${what} failed: ${e.message}`);
  }

  #setFatal(err: Error): void {
    if (this.fatal) return;
    this.fatal = err;
    this.closing = true;
    this.log.log(50, `the Python runtime failed fatally and cannot serve any more requests: ${err.message.split("\n")[0]}`);
    for (const ex of [...this.live.values()]) this.#output.failNow(ex, 500);
    this.#pumps.clear();
    this.#queue.length = 0;
    queueMicrotask(() => this.onFatal?.(err));
  }

  #markInterrupted(): void {
    if (this.interrupted) return;
    this.interrupted = true;
    queueMicrotask(() => {
      if (this.onInterrupted) this.onInterrupted();
      else this.log.warning("Python code stuck past the request timeout was interrupted (KeyboardInterrupt); the runtime keeps serving");
    });
  }

  /** OutputHost: the response of `ex` is over. */
  finish(ex: Exchange, status: number): void {
    if (ex.finished) return;
    ex.finished = true;
    ex.done = true;
    ex.status = status;
    this.live.delete(ex.id);
    this.log.access(ex.client, ex.req.method ?? "", ex.req.url ?? "", ex.req.httpVersion, status);
    if (this.live.size === 0) {
      this.vitals.setBusy(false);
      this.#idle?.();
    }
  }

  /** OutputHost: Python may write again. */
  onDrained(ex: Exchange): void {
    if (this.interface === "asgi") {
      try {
        this.#py.drained?.(ex.id);
      } catch (err) {
        this.#guestFailed("drained()", err);
      }
    } else {
      const d = ex.drainer;
      ex.drainer = undefined;
      d?.();
    }
  }

  #drain(id: number): Promise<void> {
    const ex = this.live.get(id);
    if (!ex || !ex.pythonWaits) return Promise.resolve();
    return new Promise((resolve) => (ex.drainer = resolve));
  }

  // ---- request bodies (see input.ts) ----

  #want(id: number): void {
    const ex = this.live.get(id);
    if (ex) queueMicrotask(() => this.#input.want(ex));
  }

  #read(id: number): Promise<string | undefined> {
    const ex = this.live.get(id);
    if (!ex) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      ex.reader = resolve;
      queueMicrotask(() => this.#input.want(ex));
    });
  }

  #feed(ex: Exchange, data: string, more: boolean): void {
    if (this.interface === "asgi") {
      try {
        this.#py.feed?.(ex.id, data, more);
      } catch (err) {
        this.#guestFailed("feed()", err);
      }
    } else {
      const r = ex.reader;
      ex.reader = undefined;
      r?.(data === "" && !more ? undefined : data);
    }
  }

  // ---- requests ----

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const id = ++this.#nextId;
    const ex = new Exchange(id, req, res, performance.now());
    const sock = req.socket;
    const ip = sock.remoteAddress ?? "";
    const port = String(sock.remotePort ?? "");
    ex.client = `${ip}:${port}`;
    if (this.live.size === 0) this.vitals.setBusy(true);
    this.live.set(id, ex);
    if (this.closing || !this.#host) {
      this.#output.failNow(ex, 503);
      return;
    }
    const info = encodeHead(req, ip, port);
    ex.head = info.head;
    res.on("close", () => this.#onClose(ex));
    if (info.contentLength === -2 || info.nul) {
      this.#output.failNow(ex, 400);
    } else if (info.contentLength > this.#opts.maxBodySize) {
      this.#output.failNow(ex, 413);
    } else if (info.contentLength <= 0 && !info.chunked) {
      ex.ended = true;
      this.#submit(ex, undefined, false);
    } else {
      this.#input.begin(ex);
    }
  };

  #submit(ex: Exchange, body: string | undefined, more: boolean): void {
    ex.submitted = true;
    if (this.interface === "asgi") {
      this.#pumps.add(record(ex, body?.length ?? 0, more), body);
      return;
    }
    ex.pendingBody = body;
    ex.pendingMore = more;
    if (this.#threads >= this.#opts.wsgiConcurrency) this.#queue.push(ex);
    else this.#startThread(ex);
  }

  #startThread(ex: Exchange): void {
    this.#threads++;
    const args = [record(ex, ex.pendingBody?.length ?? 0, ex.pendingMore), ex.pendingBody];
    ex.pendingBody = undefined;
    callThread(this.#rt, this.#py.handle!, args)
      .catch((err: unknown) => {
        this.#output.fail(ex.id, 500);
        this.#guestFailed("a WSGI thread", err);
      })
      .finally(() => {
        this.#threads--;
        let next = this.#queue.shift();
        while (next && next.done) next = this.#queue.shift();
        if (next) this.#startThread(next);
      });
  }

  #onClose(ex: Exchange): void {
    if (ex.finished) return;
    // The connection closed before the response was over.
    const wasDone = ex.done;
    this.finish(ex, 499);
    ex.req.resume();
    this.onDrained(ex);
    const r = ex.reader;
    ex.reader = undefined;
    r?.(undefined);
    if (ex.submitted && !wasDone) this.#tellClosed(ex.id, false);
  }

  #tellClosed(id: number, cancel: boolean): void {
    if (this.interface !== "asgi") return;
    try {
      this.#py.close?.(id, cancel);
    } catch (err) {
      this.#guestFailed("close()", err);
    }
  }

  #sweep(): void {
    this.vitals.beat();
    const now = performance.now();
    for (const ex of this.live.values()) {
      if (now - ex.start < this.#timeoutMs) break;
      // The timeout bounds the app, not the client: a response the app has
      // finished producing may take as long as the client needs to read it.
      if (ex.done) continue;
      const notify = ex.submitted;
      this.#output.failNow(ex, 504);
      if (notify) this.#tellClosed(ex.id, true);
    }
  }

  // ---- lifespan and shutdown ----

  lifespan(phase: Phase): Promise<void> {
    const ls = this.#py.lifespan;
    if (!ls) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#phase = { phase, resolve, reject };
      try {
        (phase === "startup" ? ls.startup : ls.shutdown)();
      } catch (err) {
        this.#phase = undefined;
        reject(new LifespanError(phase, (err as Error).message));
      }
    });
  }

  #lifespanDone(phase: Phase, ok: boolean, message: string): void {
    const p = this.#phase;
    if (!p || p.phase !== phase) return;
    this.#phase = undefined;
    if (ok) p.resolve();
    else p.reject(new LifespanError(phase, message));
  }

  close(timeout = 30): Promise<void> {
    this.#closed ??= this.#shutdown(timeout);
    return this.#closed;
  }

  async #shutdown(timeout: number): Promise<void> {
    this.closing = true;
    for (const ex of this.#queue.splice(0)) this.#output.failNow(ex, 503);
    if (this.live.size > 0) {
      const idle = new Promise<void>((resolve) => (this.#idle = resolve));
      const timer = setTimeout(() => {
        for (const ex of [...this.live.values()]) {
          const notify = ex.submitted && !ex.done;
          this.#output.abortNow(ex);
          if (notify) this.#tellClosed(ex.id, true);
        }
      }, timeout * 1000);
      await idle;
      clearTimeout(timer);
    }
    try {
      if (!this.interrupted) await this.lifespan("shutdown");
    } catch (err) {
      this.log.error((err as Error).message);
    }
    await this.release();
  }

  async release(): Promise<void> {
    if (this.#tick) clearInterval(this.#tick);
    this.#pumps.stop();
    this.log.flush();
    this.#pumps.pump = undefined;
    for (const p of Object.values(this.#py)) p?.destroy();
    this.#py = {};
    this.#host?.destroy();
    this.#host = undefined;
    await this.#rt.close();
  }
}
