/** Shared helpers for integration tests (not a test file). */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Collects bytes written by Python; `text` decodes everything so far. */
export class Capture {
  chunks: Uint8Array[] = [];
  readonly sink = (bytes: Uint8Array): void => {
    this.chunks.push(bytes);
  };
  get text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
  clear(): void {
    this.chunks = [];
  }
  /** Resolves once `text` contains `needle` (checks on every write, no polling). */
  waitFor(needle: string, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${JSON.stringify(needle)}; got ${JSON.stringify(this.text)}`)), timeoutMs);
      const check = (): boolean => {
        if (!this.text.includes(needle)) return false;
        clearTimeout(timer);
        resolve();
        return true;
      };
      if (check()) return;
      const push = this.chunks.push.bind(this.chunks);
      this.chunks.push = (...items: Uint8Array[]): number => {
        const n = push(...items);
        if (check()) this.chunks.push = push;
        return n;
      };
    });
  }
}

/** An async iterable stdin source the test feeds by hand. */
export class PushSource implements AsyncIterable<Uint8Array> {
  #queue: (Uint8Array | null)[] = [];
  #wake: (() => void) | undefined;
  push(text: string): void {
    this.#queue.push(new TextEncoder().encode(text));
    this.#wake?.();
  }
  end(): void {
    this.#queue.push(null);
    this.#wake?.();
  }
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (;;) {
      const next = this.#queue.shift();
      if (next === null) return;
      if (next !== undefined) {
        yield next;
        continue;
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }
}

/** A fresh temporary directory and a function removing it. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `greenwasm-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
