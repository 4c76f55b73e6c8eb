/**
 * Request bodies. A body up to {@link INLINE_BODY} bytes is read completely
 * and handed to Python with the request; a longer one goes in with its first
 * 64 KiB and the rest streams on demand: Python asks (`want`) and gets the
 * chunks received since (`feed`), the request stream stays paused in
 * between, so a slow app never makes the server buffer a body.
 */
import { Exchange, INLINE_BODY } from "./exchange.ts";

export interface InputHost {
  readonly maxBodySize: number;
  /** Hand the request to Python with its first body bytes. */
  submit(ex: Exchange, body: string | undefined, more: boolean): void;
  /** Deliver the next body bytes to Python (`more` false: the body ended). */
  feed(ex: Exchange, data: string, more: boolean): void;
  /** The body exceeds `maxBodySize`. */
  tooLarge(ex: Exchange): void;
}

export class Input {
  readonly #host: InputHost;

  constructor(host: InputHost) {
    this.#host = host;
  }

  /** Start reading a request that has a body. */
  begin(ex: Exchange): void {
    ex.req.on("data", (chunk: Buffer) => this.#onData(ex, chunk));
    ex.req.on("end", () => this.#onEnd(ex));
  }

  /** Python wants the next chunk (ASGI `receive`, WSGI `wsgi.input` read). */
  want(ex: Exchange): void {
    ex.wanted = true;
    if (ex.chunks.length > 0 || ex.ended) this.#deliver(ex);
    else ex.req.resume();
  }

  #deliver(ex: Exchange): void {
    if (!ex.wanted) return;
    ex.wanted = false;
    this.#host.feed(ex, ex.takeBody(), !ex.ended);
  }

  #onData(ex: Exchange, chunk: Buffer): void {
    ex.received += chunk.length;
    if (ex.received > this.#host.maxBodySize) {
      ex.chunks = [];
      ex.req.pause();
      this.#host.tooLarge(ex);
      return;
    }
    ex.chunks.push(chunk);
    if (!ex.submitted) {
      if (ex.received > INLINE_BODY) {
        ex.req.pause();
        this.#host.submit(ex, ex.takeBody(), true);
      }
      return;
    }
    ex.req.pause();
    this.#deliver(ex);
  }

  #onEnd(ex: Exchange): void {
    ex.ended = true;
    if (!ex.submitted) this.#host.submit(ex, ex.takeBody(), false);
    else this.#deliver(ex);
  }
}
