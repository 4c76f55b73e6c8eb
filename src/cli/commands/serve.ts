/**
 * `greenwasm serve module:app [options]`: serve an ASGI or WSGI app over HTTP.
 *
 * Python runs on `--workers` worker threads (default 1) behind one port; the
 * main thread supervises them. SIGINT or SIGTERM drains in-flight requests
 * (up to 30 s) and exits 0; a second signal exits at once (status 130/143).
 * Exit status 1 when the app cannot be loaded, its startup fails or the port
 * cannot be bound; 2 for usage errors.
 */
import { writeSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { serve, type ServerHandle } from "../../server/index.ts";
import { parseServeArgs, UsageError, type ServeArgs } from "../args.ts";

export const SERVE_HELP = `usage: greenwasm serve [options] module:attribute

Serve an ASGI 3 (http and lifespan; WebSocket is not supported yet) or WSGI
(PEP 3333) app over HTTP/1.1. The interface is detected: ASGI when the app or
its __call__ is a coroutine function, else WSGI.

server options:
  --app-dir DIR               directory the module is imported from, mounted
                              read-only at /app (default: the current directory)
  --interface auto|asgi|wsgi  force the interface (default auto)
  --host HOST                 address to listen on (default 127.0.0.1)
  --port PORT                 port to listen on; 0 picks a free one (default 8000)
  --workers N                 Python runtimes on worker threads (default 1)
  --root-path PATH            ASGI root_path / WSGI SCRIPT_NAME (default "")
  --log-level LEVEL           critical|error|warning|info|debug|trace (default info)
  --access-log, --no-access-log
                              print one line per request (default on)
  --timeout-keep-alive SECS   close idle keep-alive connections after (default 5)
  --timeout-request SECS      504 after this long; stuck Python is interrupted
                              and its worker replaced; 0 disables (default 60)
  --limit-max-body BYTES      largest request body, else 413 (default 10485760)
  --lifespan auto|on|off      ASGI lifespan protocol (default auto)

runtime options:
  --path DIR                  importable package directory, read-only, on sys.path
  --mount HOST[:GUEST][:rw]   mount a host directory (read-only unless :rw)
  --env KEY=VALUE             environment variable for Python
  --allow-js                  give Python the JS global scope (import js)
  --cwd DIR                   guest working directory (default: /app)
`;

function say(message: string): void {
  writeSync(2, `greenwasm: ${message}\n`);
}

/** Run the command; resolves to the process exit status once the server stopped. */
export async function serveCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    writeSync(1, SERVE_HELP);
    return 0;
  }
  let args: ServeArgs;
  try {
    args = parseServeArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    say(err.message);
    say("usage: greenwasm serve [options] module:attribute  (see greenwasm serve --help)");
    return 2;
  }
  if (!args.runtime.allowJs) setFlagsFromString("--disallow-code-generation-from-strings");

  let handle: ServerHandle;
  try {
    handle = await serve({
      app: args.app,
      appDir: args.appDir,
      interface: args.interface,
      host: args.host,
      port: args.port,
      workers: args.workers,
      rootPath: args.rootPath,
      logLevel: args.logLevel,
      accessLog: args.accessLog,
      timeoutKeepAlive: args.timeoutKeepAlive,
      requestTimeout: args.requestTimeout,
      maxBodySize: args.maxBodySize,
      lifespan: args.lifespan,
      paths: args.runtime.paths,
      mounts: args.runtime.mounts,
      env: args.runtime.env,
      allowJs: args.runtime.allowJs,
      allowNet: args.runtime.allowNet,
      ...(args.runtime.cwd !== undefined ? { cwd: args.runtime.cwd } : {}),
      onProgress: (m) => say(m),
    });
  } catch (err) {
    say(err instanceof Error ? err.message : String(err));
    return 1;
  }
  say(`serving ${handle.url} (press CTRL+C to quit)`);

  return await new Promise<number>((resolveExit) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) {
        say("forced exit");
        resolveExit(signal === "SIGINT" ? 130 : 143);
        return;
      }
      say(`${signal}: shutting down (waiting for requests in flight)`);
      void handle.close();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    void handle.closed.then(() => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      say("stopped");
      resolveExit(0);
    });
  });
}
