/**
 * Byte plumbing between JS and Python's standard streams.
 *
 * stdin contract (shared with `py/greenwasm/_stdin.py`): Python calls
 * `pull()` through `run_sync`, which suspends the wasm stack (JSPI) until the
 * promise settles. `pull()` resolves to
 * - a non-empty `Uint8Array` chunk,
 * - `undefined` at end of input (sticky), or
 * - `INTERRUPTED` (2) when an interrupt arrived while waiting (see
 *   interrupts.ts); Python then raises `KeyboardInterrupt`.
 * No polling: waiting uses the source's own promises.
 */
import { INTERRUPTED, type Interrupts } from "./interrupts.ts";
import type { OutputSink, StdinSource } from "./options.ts";

type PullResult = Uint8Array | undefined | typeof INTERRUPTED;

const encoder = new TextEncoder();

function toBytes(chunk: unknown): Uint8Array {
  if (typeof chunk === "string") return encoder.encode(chunk);
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new TypeError(`stdin source yielded a ${typeof chunk}, expected bytes or a string`);
}

/** Feeds Python's stdin from a {@link StdinSource}; at most one pull is pending at a time. */
export class StdinQueue {
  #iterator: AsyncIterator<unknown> | undefined;
  #source: StdinSource | undefined;
  #buffered: Uint8Array[] = [];
  #eof: boolean;
  #pending: ((chunk: Uint8Array | undefined) => void) | undefined;
  #interrupts: Interrupts;
  #reading = false;

  constructor(source: StdinSource | undefined, interrupts: Interrupts) {
    this.#source = source;
    this.#eof = source === undefined;
    this.#interrupts = interrupts;
  }

  /** Next chunk, EOF or interrupt; see the module contract. */
  pull(): Promise<PullResult> {
    const chunk = this.#buffered.shift();
    if (chunk) return Promise.resolve(chunk);
    if (this.#eof) return Promise.resolve(undefined);
    if (this.#pending) return Promise.reject(new Error("concurrent stdin reads are not supported"));
    const data = new Promise<Uint8Array | undefined>((resolve) => {
      this.#pending = resolve;
      this.#readMore();
    });
    return this.#interrupts.race(data).then((result) => {
      if (result === INTERRUPTED) this.#pending = undefined;
      return result;
    });
  }

  /**
   * Synchronous read for fd 0 (`os.read(0, n)`): copies buffered bytes, returns
   * 0 at EOF, and throws `wouldBlock()` when no data is buffered yet.
   */
  readSync(into: Uint8Array, wouldBlock: () => Error): number {
    const chunk = this.#buffered[0];
    if (!chunk) {
      if (this.#eof) return 0;
      this.#readMore();
      throw wouldBlock();
    }
    const n = Math.min(into.length, chunk.length);
    into.set(chunk.subarray(0, n));
    if (n === chunk.length) this.#buffered.shift();
    else this.#buffered[0] = chunk.subarray(n);
    return n;
  }

  /** Stop reading; a pending pull resolves to EOF. Does not destroy the source. */
  close(): void {
    this.#eof = true;
    this.#buffered = [];
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.(undefined);
  }

  #deliver(result: Uint8Array | undefined): void {
    if (result === undefined) this.#eof = true;
    else if (result.length === 0) return;
    const pending = this.#pending;
    if (pending) {
      this.#pending = undefined;
      pending(result);
    } else if (result) {
      this.#buffered.push(result);
    }
  }

  #readMore(): void {
    if (this.#reading || this.#eof || !this.#source) return;
    this.#reading = true;
    this.#iterator ??= (this.#source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    this.#iterator.next().then(
      (step) => {
        this.#reading = false;
        if (this.#eof) return;
        this.#deliver(step.done ? undefined : toBytes(step.value));
        if (this.#pending) this.#readMore();
      },
      () => {
        this.#reading = false;
        this.#deliver(undefined);
      },
    );
  }
}

/** Adapts a byte sink to Pyodide's raw `setStdout`/`setStderr` writer. */
export function rawWriter(sink: OutputSink): { write(buffer: Uint8Array): number; isatty: boolean } {
  return {
    isatty: false,
    write(buffer: Uint8Array): number {
      // The buffer is a view into wasm memory; sinks may keep what they get.
      sink(buffer.slice());
      return buffer.length;
    },
  };
}
