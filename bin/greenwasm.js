#!/usr/bin/env node
// greenwasm CLI launcher. Plain JS so it can refuse old Node versions cleanly.
if (typeof WebAssembly.Suspending !== "function" || typeof WebAssembly.promising !== "function") {
  process.stderr.write(
    `greenwasm: this Node.js (${process.version}) lacks JavaScript Promise Integration (JSPI). ` +
      "Use Node.js 25 or newer, or Node.js 24 with --experimental-wasm-jspi.\n",
  );
  process.exit(2);
}
// A source checkout runs src/ directly (Node strips the types), so a dist/ left over from
// `npm pack` is never run stale. An installed package has only dist/ (prepack builds it), and
// Node refuses to strip types under node_modules anyway.
const { existsSync } = await import("node:fs");
const { fileURLToPath } = await import("node:url");
const source = new URL("../src/cli/main.ts", import.meta.url);
const inCheckout = existsSync(source) && !fileURLToPath(import.meta.url).split(/[\\/]/).includes("node_modules");
await import(inCheckout ? source.href : new URL("../dist/cli/main.js", import.meta.url).href);
