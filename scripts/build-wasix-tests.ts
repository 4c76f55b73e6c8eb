// Build the WASIX C test programs (tests/wasix/*.c) into tests/wasix/build/*.wasm with Debian's
// wasm32-wasi clang. Rebuilds only what is older than its source or wasix_context.h.
//
//   node scripts/build-wasix-tests.ts        build, print what was compiled
//
// Tests call `buildWasixTests()` in their setup. A missing toolchain raises ToolchainMissingError
// with the apt-get command to run.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..');
export const WASIX_TEST_SRC = join(ROOT, 'tests', 'wasix');
export const WASIX_TEST_BUILD = join(WASIX_TEST_SRC, 'build');

/** Debian packages of the toolchain (scripts/setup.ts installs them). */
export const WASM_TOOLCHAIN_APT: readonly string[] = ['clang-16', 'lld-16', 'wasi-libc', 'libclang-rt-16-dev-wasm32'];
export const CLANG = process.env.GREENWASM_WASM_CLANG ?? 'clang-16';
const CHECKS: [string, string][] = [
  ['/usr/lib/wasm32-wasi/libc.a', 'wasi-libc'],
  ['/usr/lib/llvm-16/lib/clang/16/lib/wasi/libclang_rt.builtins-wasm32.a', 'libclang-rt-16-dev-wasm32'],
  ['/usr/bin/wasm-ld-16', 'lld-16'],
];

export class ToolchainMissingError extends Error {
  override name = 'ToolchainMissingError';
}

/** Throw ToolchainMissingError naming what is missing and how to install it. */
export function checkWasmToolchain(): void {
  const missing: string[] = [];
  if (spawnSync(CLANG, ['--version'], { stdio: 'ignore' }).status !== 0) missing.push(`${CLANG} (clang-16)`);
  if (!process.env.GREENWASM_WASM_CLANG) for (const [file, pkg] of CHECKS) if (!existsSync(file)) missing.push(`${file} (${pkg})`);
  if (missing.length) {
    throw new ToolchainMissingError(
      `the wasm32-wasi C toolchain is missing: ${missing.join(', ')}.\n` +
        `Install it with: sudo apt-get install -y ${WASM_TOOLCHAIN_APT.join(' ')}  (or: npm run setup)`,
    );
  }
}

/** Flags shared by tests and benchmarks. */
export const WASM_CFLAGS = ['--target=wasm32-wasi', '-fuse-ld=lld', '-O2', '-Wall', '-Wno-unused-function'];

/** Compile one C file to wasm if `out` is older than its inputs. Returns true if it compiled. */
export function compileWasm(src: string, out: string, extra: string[] = [], deps: string[] = []): boolean {
  const newest = Math.max(...[src, ...deps].map((f) => statSync(f).mtimeMs));
  if (existsSync(out) && statSync(out).mtimeMs >= newest) return false;
  const r = spawnSync(CLANG, [...WASM_CFLAGS, ...extra, '-o', out, src], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${CLANG} failed on ${src}:\n${r.stderr}`);
  return true;
}

/** Build every tests/wasix/*.c; returns the build directory. */
export function buildWasixTests(opts: { log?: (s: string) => void } = {}): string {
  checkWasmToolchain();
  mkdirSync(WASIX_TEST_BUILD, { recursive: true });
  const header = join(WASIX_TEST_SRC, 'wasix_context.h');
  for (const f of readdirSync(WASIX_TEST_SRC).filter((f) => f.endsWith('.c'))) {
    const out = join(WASIX_TEST_BUILD, basename(f, '.c') + '.wasm');
    if (compileWasm(join(WASIX_TEST_SRC, f), out, [], [header])) opts.log?.(`compiled ${f}`);
  }
  return WASIX_TEST_BUILD;
}

if (import.meta.main) {
  try {
    const dir = buildWasixTests({ log: (s) => console.log(`[build-wasix-tests] ${s}`) });
    console.log(`[build-wasix-tests] programs in ${dir}`);
  } catch (e) {
    console.error(`[build-wasix-tests] ${(e as Error).message}`);
    process.exit(1);
  }
}
