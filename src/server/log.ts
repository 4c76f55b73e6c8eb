/**
 * Server messages and the access log, in uvicorn's format
 * (`INFO:     message`). Access lines are buffered and written once per
 * event-loop turn, so logging costs one write per batch, not per request.
 */
import type { OutputSink } from "../python/index.ts";
import type { LogLevel } from "./options.ts";

/** Python `logging` numbers, as used by the guest adapters. */
const SEVERITY: Record<LogLevel, number> = { critical: 50, error: 40, warning: 30, info: 20, debug: 10, trace: 5 };
const NAMES: [number, string][] = [[50, "CRITICAL"], [40, "ERROR"], [30, "WARNING"], [20, "INFO"], [10, "DEBUG"], [0, "TRACE"]];

function levelName(n: number): string {
  for (const [min, name] of NAMES) if (n >= min) return name;
  return "TRACE";
}

export class Logger {
  readonly threshold: number;
  readonly #sink: OutputSink;
  readonly #access: OutputSink | undefined;
  #pending: string[] = [];
  #scheduled = false;
  readonly #encoder = new TextEncoder();
  /** Prepended to every message (e.g. a worker's `[worker 2] `). */
  prefix = "";

  constructor(level: LogLevel, sink: OutputSink, access: OutputSink | undefined) {
    this.threshold = SEVERITY[level];
    this.#sink = sink;
    this.#access = access;
  }

  /** Whether access lines are wanted. */
  get accessEnabled(): boolean {
    return this.#access !== undefined && this.threshold <= SEVERITY.info;
  }

  /** Write a message of Python-logging severity `n` (20 info, 30 warning, 40 error...). */
  log(n: number, message: string): void {
    if (n < this.threshold) return;
    const name = `${levelName(n)}:`;
    this.#sink(this.#encoder.encode(`${name.padEnd(10)}${this.prefix}${message}\n`));
  }

  info(message: string): void {
    this.log(20, message);
  }
  warning(message: string): void {
    this.log(30, message);
  }
  error(message: string): void {
    this.log(40, message);
  }

  /** One access line: `client - "METHOD target HTTP/v" status`. */
  access(client: string, method: string, target: string, version: string, status: number): void {
    if (!this.accessEnabled) return;
    this.#pending.push(`INFO:     ${this.prefix}${client} - "${method} ${target} HTTP/${version}" ${status}\n`);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#pending.length === 0 || !this.#access) return;
    const text = this.#pending.join("");
    this.#pending = [];
    this.#access(this.#encoder.encode(text));
  }
}
