/**
 * Responses: what Python asks for (respond / start / write / fail / abort)
 * is queued and carried out on the main JS stack.
 *
 * Why queue: Python calls these hooks from a JSPI stack (a pump or a WSGI
 * thread). Node's stream and socket calls made from a secondary stack cost
 * about five times as much as from the main stack (measured: 60-75 µs vs
 * 10-14 µs for writeHead + end), so the hooks only record the operation and
 * a microtask, which runs once Python returns or suspends, performs the
 * whole batch in order.
 *
 * Backpressure: `write()` answers synchronously from the bytes already
 * buffered by the response plus those queued here; when it answers false,
 * Python waits and `onDrained(ex)` is called once the socket has room.
 */
import { bodyless, decodeHeaders, type Exchange } from "./exchange.ts";
import type { Logger } from "./log.ts";

export interface OutputHost {
  readonly live: Map<number, Exchange>;
  readonly log: Logger;
  /** True while the server shuts down: responses close their connection. */
  readonly closing: boolean;
  /** The response of `ex` is over (sent, failed or aborted). */
  finish(ex: Exchange, status: number): void;
  /** Python was told to wait in `write()` and may continue. */
  onDrained(ex: Exchange): void;
}

const REASONS: Record<number, string> = {
  400: "Bad Request", 413: "Payload Too Large", 500: "Internal Server Error", 503: "Service Unavailable", 504: "Gateway Timeout",
};

export class Output {
  readonly #host: OutputHost;
  #queue: (() => void)[] = [];
  #scheduled = false;

  constructor(host: OutputHost) {
    this.#host = host;
  }

  #defer(op: () => void): void {
    this.#queue.push(op);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.flush);
    }
  }

  /** Carry out every queued operation, in order. */
  readonly flush = (): void => {
    this.#scheduled = false;
    const ops = this.#queue;
    this.#queue = [];
    for (const op of ops) op();
  };

  respond(id: number, status: number, headers: string, body: string): void {
    const ex = this.#host.live.get(id);
    if (!ex || ex.done) return;
    ex.done = true; // no further output from Python for this id
    this.#defer(() => this.#respondNow(ex, status, headers, body));
  }

  #respondNow(ex: Exchange, status: number, headers: string, body: string): void {
    const host = this.#host;
    const res = ex.res;
    if (res.destroyed) return this.#abortNow(ex);
    const { flat, contentLength } = decodeHeaders(headers);
    const noBody = bodyless(status, ex.req.method);
    if (contentLength === -1) {
      if (!noBody || ex.req.method === "HEAD") flat.push("content-length", String(body.length));
    } else if (contentLength !== body.length && !noBody) {
      host.log.error(`Response content ${contentLength < body.length ? "longer" : "shorter"} than Content-Length`);
      this.#failNow(ex, 500);
      return;
    }
    if (host.closing) res.shouldKeepAlive = false;
    try {
      res.writeHead(status, flat);
    } catch (err) {
      host.log.error(`invalid response from the app: ${(err as Error).message}`);
      this.#failNow(ex, 500);
      return;
    }
    host.finish(ex, status);
    res.end(body, "latin1");
  }

  start(id: number, status: number, headers: string): void {
    const ex = this.#host.live.get(id);
    if (!ex || ex.done) return;
    ex.status = status;
    this.#defer(() => {
      const { flat, contentLength } = decodeHeaders(headers);
      ex.declared = contentLength;
      if (this.#host.closing) ex.res.shouldKeepAlive = false;
      try {
        ex.res.writeHead(status, flat);
      } catch (err) {
        this.#host.log.error(`invalid response from the app: ${(err as Error).message}`);
        this.#failNow(ex, 500);
      }
    });
  }

  /** Queue a body chunk; false asks Python to wait for `onDrained`. */
  write(id: number, body: string, more: boolean): boolean {
    const ex = this.#host.live.get(id);
    if (!ex || ex.done) return true;
    if (!more) ex.done = true;
    ex.queued += body.length;
    const res = ex.res;
    const full = more && res.writableLength + ex.queued >= res.writableHighWaterMark;
    if (full) ex.pythonWaits = true;
    this.#defer(() => this.#writeNow(ex, body, more));
    return !full;
  }

  #writeNow(ex: Exchange, body: string, more: boolean): void {
    ex.queued -= body.length;
    const res = ex.res;
    if (res.destroyed || ex.finished) {
      this.#abortNow(ex);
      return this.#release(ex);
    }
    ex.written += body.length;
    const counted = !bodyless(ex.status, ex.req.method);
    if (counted && ex.declared >= 0 && ex.written > ex.declared) {
      this.#host.log.error("Response content longer than Content-Length");
      return this.#abortNow(ex);
    }
    if (!more) {
      if (counted && ex.declared >= 0 && ex.written < ex.declared) {
        this.#host.log.error("Response content shorter than Content-Length");
        return this.#abortNow(ex);
      }
      this.#host.finish(ex, ex.status);
      res.end(body, "latin1");
      return;
    }
    const room = body.length === 0 || res.write(body, "latin1");
    if (ex.pythonWaits && ex.queued === 0) {
      if (room) this.#release(ex);
      else res.once("drain", () => this.#release(ex));
    }
  }

  #release(ex: Exchange): void {
    if (!ex.pythonWaits) return;
    ex.pythonWaits = false;
    this.#host.onDrained(ex);
  }

  /** An error response if nothing was sent yet, else close the connection. */
  fail(id: number, status: number): void {
    const ex = this.#host.live.get(id);
    if (!ex || ex.done) return;
    ex.done = true;
    this.#defer(() => this.#failNow(ex, status));
  }

  /** Close the connection of a response that cannot be completed. */
  abort(id: number): void {
    const ex = this.#host.live.get(id);
    if (!ex) return;
    ex.done = true;
    this.#defer(() => this.#abortNow(ex));
  }

  /** Fail now (main stack only). */
  failNow(ex: Exchange, status: number): void {
    ex.done = true;
    this.#failNow(ex, status);
  }

  #failNow(ex: Exchange, status: number): void {
    const res = ex.res;
    if (ex.finished) return;
    if (res.headersSent || res.destroyed) return this.#abortNow(ex);
    const text = REASONS[status] ?? "Error";
    this.#host.finish(ex, status);
    res.shouldKeepAlive = false;
    res.writeHead(status, ["content-type", "text/plain; charset=utf-8", "content-length", String(text.length), "connection", "close"]);
    res.end(text);
  }

  /** Abort now (main stack only). */
  abortNow(ex: Exchange): void {
    ex.done = true;
    this.#abortNow(ex);
  }

  #abortNow(ex: Exchange): void {
    if (!ex.finished) this.#host.finish(ex, ex.status || 500);
    if (!ex.res.destroyed) ex.res.destroy();
  }
}
