#!/usr/bin/env node
// greenwasm CLI launcher. Plain JS so it can refuse old Node versions cleanly.
if (typeof WebAssembly.Suspending !== "function" || typeof WebAssembly.promising !== "function") {
  process.stderr.write(
    `greenwasm: this Node.js (${process.version}) lacks JavaScript Promise Integration (JSPI). ` +
      "Use Node.js 25 or newer, or Node.js 24 with --experimental-wasm-jspi.\n",
  );
  process.exit(2);
}
// V8's speculative-inlining deopts for wasm (its default) often leave CPython's interpreter
// loop in slower code: CPU-bound Python runs about a quarter faster under --no-wasm-deopt
// (npm run bench -- interp). V8 flags must be given when the process starts (setting this one
// later with v8.setFlagsFromString can crash V8), so the launcher replaces itself with the same
// command plus the flag where Node can (process.execve: same pid, stdio and signals; not on
// Windows). GREENWASM_V8_DEFAULTS=1 keeps V8's defaults.
if (
  !process.execArgv.includes("--no-wasm-deopt") &&
  process.env.GREENWASM_V8_DEFAULTS !== "1" &&
  typeof process.execve === "function"
) {
  try {
    process.execve(process.execPath, [process.execPath, "--no-wasm-deopt", ...process.execArgv, ...process.argv.slice(1)]);
  } catch {
    // Keep running with V8's defaults.
  }
}
// A source checkout runs src/ directly (Node strips the types), so a dist/ left over from
// `npm pack` is never run stale. An installed package has only dist/ (prepack builds it), and
// Node refuses to strip types under node_modules anyway.
const { existsSync } = await import("node:fs");
const { fileURLToPath } = await import("node:url");
const source = new URL("../src/cli/main.ts", import.meta.url);
const inCheckout = existsSync(source) && !fileURLToPath(import.meta.url).split(/[\\/]/).includes("node_modules");
await import(inCheckout ? source.href : new URL("../dist/cli/main.js", import.meta.url).href);
