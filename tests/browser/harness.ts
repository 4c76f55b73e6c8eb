// Run one test body in Node and in Chromium (the pattern of Pyodide's node/page fixture).
//
//   const host = await openHost('chromium');          // or 'node'
//   const sum = await runInHost(host, async (env, n) => {
//     const { loadPyodide } = await import(env.pyodideURL);
//     const py = await loadPyodide({ indexURL: env.indexURL });
//     return py.runPython(`sum(range(${n}))`);
//   }, 10);
//   await host.close();
//
// The body must be self-contained: in Chromium it is serialized with Function.toString and
// evaluated in the page, so it may use only its arguments and globals of both hosts. `env`
// tells it where things are in the current host (file URLs in Node, server paths in the page).
//
// Chromium: a node:http server serves the repo root (so /node_modules/pyodide/ and /dist/
// are reachable) with COOP/COEP headers (cross-origin isolation: SharedArrayBuffer), and
// playwright-core launches Debian's /usr/bin/chromium with a fresh temporary profile.

import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const CHROMIUM_PATH = process.env.GREENWASM_CHROMIUM ?? '/usr/bin/chromium';

export type HostName = 'node' | 'chromium';

/** Where things live, as seen from inside the host. URLs have no trailing slash, except indexURL. */
export interface HostEnv {
  host: HostName;
  /** Import this to get `loadPyodide`. */
  pyodideURL: string;
  /** Pass as `loadPyodide({ indexURL })`. */
  indexURL: string;
  /** Base URL of the built package (`npm run build` output). */
  distURL: string;
  /** Base URL of the repository root. */
  rootURL: string;
}

export interface Host {
  readonly name: HostName;
  readonly env: HostEnv;
  /** Chromium only: the page the bodies run in. */
  readonly page?: Page;
  /** Chromium only: console messages and uncaught errors of the page, for failure messages. */
  readonly pageLog?: string[];
  close(): Promise<void>;
}

export type HostFn<A, R> = (env: HostEnv, arg: A) => R | Promise<R>;

/** Hosts to run dual-host suites on; override with GREENWASM_HOSTS=node or =chromium. */
export const HOSTS: readonly HostName[] = (process.env.GREENWASM_HOSTS ?? 'node,chromium')
  .split(',')
  .map((h) => h.trim())
  .filter((h): h is HostName => h === 'node' || h === 'chromium');

/** Run `fn(env, arg)` in the host. `arg` and the result must be structured-cloneable/JSON. */
export async function runInHost<A, R>(host: Host, fn: HostFn<A, R>, arg: A): Promise<R> {
  if (host.name === 'node') return await fn(host.env, arg);
  const page = host.page!;
  return (await page.evaluate(
    async ([src, env, a]) => {
      const f = (0, eval)(`(${src})`) as (e: unknown, a: unknown) => unknown;
      return await f(env, a);
    },
    [fn.toString(), host.env, arg] as const,
  )) as R;
}

export async function openHost(name: HostName): Promise<Host> {
  return name === 'node' ? nodeHost() : await chromiumHost();
}

function nodeHost(): Host {
  const url = (p: string) => pathToFileURL(join(ROOT, p)).href;
  return {
    name: 'node',
    env: {
      host: 'node',
      pyodideURL: url('node_modules/pyodide/pyodide.mjs'),
      // loadPyodide in Node wants a path, not a file: URL.
      indexURL: join(ROOT, 'node_modules', 'pyodide') + sep,
      distURL: url('dist'),
      rootURL: url(''),
    },
    close: async () => {},
  };
}

// ---- static server ------------------------------------------------------------------------

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.zip': 'application/zip',
  '.whl': 'application/zip',
  '.tar': 'application/x-tar',
  '.py': 'text/x-python; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.css': 'text/css',
};

const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

export interface StaticServer {
  url: string;
  close(): Promise<void>;
}

/** Serve `root` on 127.0.0.1 (random port). `/` is an empty HTML page. No directory listings. */
export async function startStaticServer(root = ROOT): Promise<StaticServer> {
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path === '/') {
      res.writeHead(200, { ...ISOLATION_HEADERS, 'Content-Type': MIME['.html']! });
      res.end('<!doctype html><meta charset="utf-8"><title>greenwasm test</title>');
      return;
    }
    const file = resolve(root, '.' + path);
    if (!file.startsWith(root + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, ISOLATION_HEADERS).end('not found');
      return;
    }
    res.writeHead(200, {
      ...ISOLATION_HEADERS,
      'Content-Type': MIME[extname(file)] ?? 'application/octet-stream',
      'Content-Length': statSync(file).size,
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

// ---- chromium -----------------------------------------------------------------------------

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} not found: run \`npm run setup\` (installs Debian's chromium)`);
  }
  // chromium.launch() always starts from a new, empty temporary user-data-dir.
  return await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

async function chromiumHost(): Promise<Host> {
  const server = await startStaticServer();
  let browser: Browser | undefined;
  try {
    browser = await launchChromium();
    const page = await browser.newPage();
    const pageLog: string[] = [];
    page.on('console', (m) => pageLog.push(`[page ${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => pageLog.push(`[page error] ${e.message}`));
    if (process.env.GREENWASM_PAGE_LOG) page.on('console', (m) => console.error(`[page] ${m.text()}`));
    await page.goto(server.url + '/');
    const b = browser;
    return {
      name: 'chromium',
      page,
      pageLog,
      env: {
        host: 'chromium',
        pyodideURL: '/node_modules/pyodide/pyodide.mjs',
        indexURL: '/node_modules/pyodide/',
        distURL: '/dist',
        rootURL: '',
      },
      close: async () => {
        await b.close();
        await server.close();
      },
    };
  } catch (e) {
    await browser?.close();
    await server.close();
    throw e;
  }
}
