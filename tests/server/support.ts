/** Helpers for the server tests (not a test file). */
import type { Runtime } from "../../src/python/index.ts";
import { recordBaseline, type InvariantBaseline } from "../../src/python/testing.ts";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { connect } from "node:net";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const APPS = join(ROOT, "tests", "server", "apps");
export const SITE_PACKAGES = join(ROOT, ".cache", "site-packages");
/** Package paths for test runtimes: the shared cache, after any in GREENWASM_TEST_PATHS (colon-separated). */
export const PATHS = [...(process.env.GREENWASM_TEST_PATHS?.split(":").filter(Boolean) ?? []), SITE_PACKAGES];

export function requireSitePackages(): void {
  if (!existsSync(join(SITE_PACKAGES, "starlette"))) throw new Error(`${SITE_PACKAGES} lacks starlette: run \`npm run setup\``);
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  text: string;
}

export interface RequestOptions {
  method?: string;
  /** Raw header pairs, sent in this order and case. */
  headers?: [string, string][];
  /** Whole body, or chunks written one by one (chunked encoding unless content-length is given). */
  body?: string | Buffer | (string | Buffer)[];
  timeoutMs?: number;
}

/** One HTTP/1.1 request on a fresh connection. */
export function request(url: string, opts: RequestOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const flat: string[] = [];
    const given = opts.headers ?? [];
    // With raw header arrays Node adds no defaults; HTTP/1.1 servers require Host.
    if (!given.some(([k]) => k.toLowerCase() === "host")) flat.push("Host", new URL(url).host);
    // A whole body goes with Content-Length (as most clients send it); chunks go chunked.
    const whole = opts.body !== undefined && !Array.isArray(opts.body);
    if (whole && !given.some(([k]) => /^(content-length|transfer-encoding)$/i.test(k))) {
      flat.push("Content-Length", String(Buffer.byteLength(opts.body as string | Buffer)));
    }
    for (const [k, v] of given) flat.push(k, v);
    const req = httpRequest(url, { method: opts.method ?? "GET", headers: flat, agent: false, timeout: opts.timeoutMs ?? 30_000 });
    req.on("timeout", () => req.destroy(new Error(`request to ${url} timed out`)));
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body, text: body.toString("latin1") });
      });
    });
    const body = opts.body;
    if (Array.isArray(body)) {
      for (const chunk of body) req.write(chunk);
      req.end();
    } else {
      req.end(body);
    }
  });
}

/** Write raw bytes to the server and collect everything it sends until it closes (or `waitMs`). */
export function rawExchange(port: number, data: string | Buffer, waitMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => sock.destroy(), waitMs);
    sock.on("connect", () => sock.write(data));
    sock.on("data", (c: Buffer) => chunks.push(c));
    sock.on("error", (err) => {
      clearTimeout(timer);
      if (chunks.length) resolve(Buffer.concat(chunks).toString("latin1"));
      else reject(err);
    });
    sock.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString("latin1"));
    });
  });
}

/** Run `fn` over `items` with at most `limit` in flight. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(lanes);
  return out;
}

/**
 * Warm a served runtime with one request per URL, let the work they leave settle, and
 * record the leak baseline `checkInvariants` compares against (the server's loop and pump
 * are long-lived, so they belong in it).
 */
export async function warmBaseline(runtime: Runtime, ...urls: string[]): Promise<InvariantBaseline> {
  for (const url of urls) await request(url);
  await new Promise((r) => setTimeout(r, 100));
  return recordBaseline(runtime);
}
