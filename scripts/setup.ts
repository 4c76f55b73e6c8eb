// Make this machine ready for `npm test`, `npm start` and `npm run bench`.
//
//   node scripts/setup.ts              packages + every system requirement below
//   node scripts/setup.ts --packages   only the Python packages (.cache/site-packages)
//   node scripts/setup.ts --check      report what is missing, install nothing
//
// Installs only what is missing and prints every command it runs. System packages come from
// Debian's apt; without root it prints the apt-get command to run instead.

import { existsSync } from 'node:fs';
import { aptInstall, capture, isRoot, log, SetupError } from './apt.ts';
import { fetchPackages } from './fetch-packages.ts';

interface Requirement {
  /** What it is, in a few words. */
  name: string;
  /** Who needs it. */
  usedBy: string;
  /** True when the requirement is already met. */
  present: () => boolean;
  /** Debian packages that provide it. */
  apt: string[];
}

const NATIVE_PYTHON = '/usr/bin/python3';
const pyImports = (module: string) => () => capture(NATIVE_PYTHON, ['-c', `import ${module}`]) !== null;

// One row per requirement; extend freely (keep `present` cheap and side-effect free).
export const REQUIREMENTS: readonly Requirement[] = [
  {
    name: 'chromium',
    usedBy: 'tests/browser (playwright-core drives /usr/bin/chromium)',
    present: () => existsSync('/usr/bin/chromium'),
    apt: ['chromium'],
  },
  {
    name: 'native python3',
    usedBy: 'bench native baselines',
    present: () => existsSync(NATIVE_PYTHON),
    apt: ['python3'],
  },
  {
    name: 'native greenlet',
    usedBy: 'bench native baselines (greenlet switch cost)',
    present: pyImports('greenlet'),
    apt: ['python3-greenlet'],
  },
  {
    name: 'wasm32 clang toolchain',
    usedBy: 'tests for the WASIX context API (tests/wasix/*.c, scripts/build-wasix-tests.ts)',
    present: () =>
      existsSync('/usr/bin/clang-16') &&
      existsSync('/usr/bin/wasm-ld-16') &&
      existsSync('/usr/lib/wasm32-wasi/libc.a') &&
      existsSync('/usr/lib/llvm-16/lib/clang/16/lib/wasi/libclang_rt.builtins-wasm32.a'),
    apt: ['clang-16', 'lld-16', 'wasi-libc', 'libclang-rt-16-dev-wasm32'],
  },
  {
    name: 'gcc and emscripten',
    usedBy: 'bench wasix peers (native ucontext, Emscripten Asyncify fibers)',
    present: () => existsSync('/usr/bin/gcc') && existsSync('/usr/bin/emcc'),
    apt: ['gcc', 'emscripten'],
  },
  // Planned rows (uncomment when the tests that need them land):
  // {
  //   name: 'postgresql',
  //   usedBy: 'database driver tests',
  //   present: () => existsSync('/usr/lib/postgresql'),
  //   apt: ['postgresql'],
  // },
];

export async function setup(opts: { packagesOnly?: boolean; check?: boolean } = {}): Promise<void> {
  if (!opts.check) await fetchPackages();
  if (opts.packagesOnly) return;

  const missing = REQUIREMENTS.filter((r) => !r.present());
  for (const r of REQUIREMENTS) {
    log(`${missing.includes(r) ? 'MISSING' : 'ok     '} ${r.name} (${r.usedBy})`);
  }
  if (missing.length === 0 || opts.check) {
    if (missing.length) process.exitCode = 1;
    return;
  }
  const pkgs = [...new Set(missing.flatMap((r) => r.apt))];
  log(`installing ${pkgs.join(' ')}${isRoot ? '' : ' (needs root)'}`);
  aptInstall(pkgs);
  const still = missing.filter((r) => !r.present());
  if (still.length) throw new SetupError(`still missing after install: ${still.map((r) => r.name).join(', ')}`);
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  try {
    await setup({ packagesOnly: args.includes('--packages'), check: args.includes('--check') });
  } catch (e) {
    if (!(e instanceof SetupError)) throw e;
    console.error(`[setup] error: ${e.message}`);
    process.exit(1);
  }
}
