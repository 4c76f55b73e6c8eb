#!/usr/bin/env node
// greenwasm CLI launcher. Plain JS so it can refuse old Node versions cleanly.
if (typeof WebAssembly.Suspending !== "function" || typeof WebAssembly.promising !== "function") {
  process.stderr.write(
    `greenwasm: this Node.js (${process.version}) lacks JavaScript Promise Integration (JSPI). ` +
      "Use Node.js 25 or newer, or Node.js 24 with --experimental-wasm-jspi.\n",
  );
  process.exit(2);
}
const { existsSync } = await import("node:fs");
const built = new URL("../dist/cli/main.js", import.meta.url);
await import(existsSync(built) ? built.href : new URL("../src/cli/main.ts", import.meta.url).href);
