/**
 * greenwasm command-line entry: `greenwasm <command> [...]`.
 * Exit statuses: the program's own status for `run` and `wasix run`; `serve` 0 after a clean
 * shutdown and 1 when the app cannot start; for `wasix run` also
 * 129 when a context entrypoint returned and 1 on a trap or context stack overflow;
 * 2 for usage errors.
 */
import { readFileSync, writeSync } from "node:fs";
import { PYODIDE_VERSION, PYTHON_VERSION } from "../python/index.ts";
import { runCommand } from "./commands/run.ts";
import { serveCommand } from "./commands/serve.ts";
import { wasixCommand } from "./commands/wasix.ts";

const HELP = `greenwasm: run Python (CPython on WebAssembly, via Pyodide) under Node.js with JSPI

usage:
  greenwasm run [options] script.py [args...]   run a script (like: python script.py)
  greenwasm run [options] -c CODE [args...]     run a code string (like: python -c)
  greenwasm run [options] -m MODULE [args...]   run a module (like: python -m)
  greenwasm serve [options] module:app           serve an ASGI or WSGI app over HTTP
                                                (see greenwasm serve --help)
  greenwasm wasix run [--mount H[:G][:rw]] [--env K=V] [--stack-size 64k] prog.wasm [args...]
                                                run a wasm32-wasi program with the WASIX
                                                context API (see greenwasm wasix --help)
  greenwasm --version                           print greenwasm, Pyodide and Python versions
  greenwasm --help                              print this help

options of run (before the script, -c or -m):
  --path DIR                   importable package directory, read-only, added to sys.path
  --mount HOST[:GUEST][:rw]    mount a host directory (GUEST defaults to HOST's absolute
                               path; read-only unless :rw)
  --env KEY=VALUE              environment variable for Python (the host's are not passed)
  --allow-js                   give Python the JS global scope (import js) and Pyodide API
  --allow-net HOST:PORT        let Python's sockets connect to HOST:PORT (repeatable; also
                               HOST:*, *:PORT, * and [IPv6]:PORT). Default: no network;
                               other connections raise PermissionError
  --cwd DIR                    guest working directory (default /home/pyodide)

Python sees no host files except --path, --mount and the script's own directory,
which is mounted read-only at /app. Ctrl-C raises KeyboardInterrupt (exit 130).
`;

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: unknown };
  return typeof pkg.version === "string" ? pkg.version : "unknown";
}

/** Run the CLI with `argv` (without node and script); resolves to the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "--version":
    case "-V":
    case "version":
      writeSync(1, `greenwasm ${packageVersion()}\nPyodide ${PYODIDE_VERSION}\nPython ${PYTHON_VERSION}\n`);
      return 0;
    case "--help":
    case "-h":
    case "help":
      writeSync(1, HELP);
      return 0;
    case "run":
      return await runCommand(rest);
    case "serve":
      return await serveCommand(rest);
    case "wasix":
      return await wasixCommand(rest);
    case undefined:
      writeSync(2, HELP);
      return 2;
    default:
      writeSync(2, `greenwasm: unknown command ${JSON.stringify(command)} (see greenwasm --help)\n`);
      return 2;
  }
}

const status = await main(process.argv.slice(2));
process.exit(status);
