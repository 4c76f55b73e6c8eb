/**
 * One HTTP request/response on the JS side, and the compact request head
 * handed to Python (format in src/python/py/greenwasm/_serve_common.py).
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** Request bodies up to this size are read completely before Python sees the request. */
export const INLINE_BODY = 64 * 1024;

export class Exchange {
  readonly id: number;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** `performance.now()` at arrival. */
  readonly start: number;
  /** `ip:port` of the client, for the access log. */
  client = "";
  /** The encoded request head (see {@link encodeHead}). */
  head = "";
  /** WSGI: first body chunk and whether more follows, kept while the request waits for a thread. */
  pendingBody: string | undefined = undefined;
  pendingMore = false;
  /** Python has the request (submitted / thread started). */
  submitted = false;
  /** Python's output is complete or no longer wanted (final op queued, timed out, client gone). */
  done = false;
  /** The response is over and the exchange left the live table. */
  finished = false;
  /** Python asked for the next body chunk (ASGI want / WSGI read). */
  wanted = false;
  /** Body bytes received so far. */
  received = 0;
  /** Body chunks received and not yet handed to Python. */
  chunks: Buffer[] = [];
  /** The request body ended. */
  ended = false;
  /** WSGI: resolves a pending `read(id)`. */
  reader: ((chunk: string | undefined) => void) | undefined = undefined;
  /** WSGI: resolves a pending `drain(id)`. */
  drainer: (() => void) | undefined = undefined;
  /** Response body bytes queued in the Output but not yet written. */
  queued = 0;
  /** Python was told to wait (write() returned false) until the socket drains. */
  pythonWaits = false;
  /** Status sent (for the access log). */
  status = 0;
  /** Declared response Content-Length while streaming, -1 when none. */
  declared = -1;
  /** Response body bytes written while streaming. */
  written = 0;

  constructor(id: number, req: IncomingMessage, res: ServerResponse, start: number) {
    this.id = id;
    this.req = req;
    this.res = res;
    this.start = start;
  }

  /** All buffered body chunks as one Latin-1 string (and forget them). */
  takeBody(): string {
    const chunks = this.chunks;
    this.chunks = [];
    if (chunks.length === 0) return "";
    return (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString("latin1");
  }
}

/** What the request head says about a body. */
export interface HeadInfo {
  /** METHOD to the last header value of the wire record (see `record`). */
  head: string;
  /** Content-Length, -1 when absent, -2 when invalid. */
  contentLength: number;
  chunked: boolean;
  /** The head contains a NUL character (unusable in the record format). */
  nul: boolean;
}

/**
 * The request part of a wire record (format: src/python/py/greenwasm/_serve_common.py):
 * method, target, version, client ip and port, then header names (lower-cased)
 * and values, joined by "\n". Node decodes the request head as Latin-1, so
 * every character is one byte of the wire.
 */
export function encodeHead(req: IncomingMessage, ip: string, port: string): HeadInfo {
  const raw = req.rawHeaders;
  let head = `${req.method}\n${req.url}\n${req.httpVersion}\n${ip}\n${port}`;
  let contentLength = -1;
  let chunked = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    head += "\n" + name + "\n" + value;
    if (name === "content-length") {
      contentLength = /^\d{1,15}$/.test(value.trim()) ? Number(value.trim()) : -2;
    } else if (name === "transfer-encoding") {
      chunked = true;
    }
  }
  return { head, contentLength, chunked, nul: head.includes("\0") };
}

/** The whole wire record of a request whose first body bytes are `bodyLength` long. */
export function record(ex: Exchange, bodyLength: number, more: boolean): string {
  return `${ex.id}\n${bodyLength}\n${more ? 1 : 0}\n${ex.head}`;
}

/**
 * Response headers from Python ("name\nvalue\n...") as Node's flat raw array,
 * plus the declared Content-Length (-1 when none).
 */
export function decodeHeaders(text: string): { flat: string[]; contentLength: number } {
  if (text === "") return { flat: [], contentLength: -1 };
  const flat = text.split("\n");
  let contentLength = -1;
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!;
    if (name.length === 14 && name.toLowerCase() === "content-length") {
      const v = flat[i + 1]!.trim();
      contentLength = /^\d{1,15}$/.test(v) ? Number(v) : -2;
    }
  }
  return { flat, contentLength };
}

/** Status codes whose responses never have a body. */
export function bodyless(status: number, method: string | undefined): boolean {
  return method === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200);
}
