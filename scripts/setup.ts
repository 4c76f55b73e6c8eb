// Make this machine ready for `npm test`, `npm start` and `npm run bench`.
//
//   node scripts/setup.ts              packages + every system requirement below (`npm run setup`)
//   node scripts/setup.ts --tests      packages + what the tests need, no bench peers (`pretest`)
//   node scripts/setup.ts --packages   only the Python packages (.cache/site-packages; `prestart`)
//   node scripts/setup.ts --check      report what is missing, install nothing (exit 1 if any)
//   node scripts/setup.ts --apt-missing [--tests]
//                                      print the missing Debian packages, one line (for .ci/run)
//
// Installs only what is missing and prints every command it runs. System packages come from
// Debian's apt; without root it prints the apt-get command to run instead.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { aptInstall, capture, isRoot, log, SetupError } from './apt.ts';
import { checkWasmToolchain, WASM_TOOLCHAIN_APT } from './build-wasix-tests.ts';
import { fetchPackages } from './fetch-packages.ts';

interface Requirement {
  /** What it is, in a few words. */
  name: string;
  /** Who needs it. */
  usedBy: string;
  /** 'test': needed by `npm test`; 'bench': only by `npm run bench`. */
  scope: 'test' | 'bench';
  /** True when the requirement is already met. */
  present: () => boolean;
  /** Debian packages that provide it. */
  apt: readonly string[];
}

const NATIVE_PYTHON = '/usr/bin/python3';
const pyImports = (module: string) => () => capture(NATIVE_PYTHON, ['-c', `import ${module}`]) !== null;

// One row per requirement; extend freely (keep `present` cheap and side-effect free).
export const REQUIREMENTS: readonly Requirement[] = [
  {
    name: 'chromium',
    usedBy: 'tests/browser (playwright-core drives /usr/bin/chromium)',
    scope: 'test',
    present: () => existsSync('/usr/bin/chromium'),
    apt: ['chromium'],
  },
  {
    name: 'native python3',
    usedBy: 'socket tests (echo and http.server peers), tests/integration/pg-native.test.ts (greenwasm.pg under CPython) and bench native baselines',
    scope: 'test',
    present: () => existsSync(NATIVE_PYTHON),
    apt: ['python3'],
  },
  {
    name: 'openssl',
    usedBy: 'TLS socket tests (a self-signed certificate for the native HTTPS peer) and the PostgreSQL TLS test',
    scope: 'test',
    present: () => existsSync('/usr/bin/openssl'),
    apt: ['openssl'],
  },
  {
    name: 'native greenlet',
    usedBy: 'bench native baselines (greenlet switch cost); pg-native asyncio tests (SQLAlchemy asyncio needs it)',
    scope: 'test',
    present: pyImports('greenlet'),
    apt: ['python3-greenlet'],
  },
  {
    name: 'postgresql',
    usedBy: 'database tests and bench (tests/support/postgres.ts: initdb + pg_ctl, throwaway server)',
    scope: 'test',
    present: () => capture('sh', ['-c', 'ls /usr/lib/postgresql/*/bin/pg_ctl']) !== null,
    apt: ['postgresql'],
  },
  {
    name: 'native psycopg2 + SQLAlchemy',
    usedBy: 'bench db native baseline (CPython + SQLAlchemy + psycopg2)',
    scope: 'bench',
    present: pyImports('psycopg2, sqlalchemy'),
    apt: ['python3-psycopg2', 'python3-sqlalchemy'],
  },
  {
    name: 'native asyncpg',
    usedBy: 'bench db native asyncio baseline (SQLAlchemy asyncio + asyncpg)',
    scope: 'bench',
    present: pyImports('asyncpg'),
    apt: ['python3-asyncpg'],
  },
  {
    name: 'wasm32 clang toolchain',
    usedBy: 'tests for the WASIX context API (tests/wasix/*.c, scripts/build-wasix-tests.ts)',
    scope: 'test',
    present: () => {
      try {
        checkWasmToolchain();
        return true;
      } catch {
        return false;
      }
    },
    apt: WASM_TOOLCHAIN_APT,
  },
  {
    name: 'gcc and emscripten',
    usedBy: 'bench wasix peers (native ucontext, Emscripten Asyncify fibers)',
    scope: 'bench',
    present: () => existsSync('/usr/bin/gcc') && existsSync('/usr/bin/emcc'),
    apt: ['gcc', 'emscripten'],
  },
  {
    name: 'wrk',
    usedBy: 'bench http (load generator)',
    scope: 'bench',
    present: () => existsSync('/usr/bin/wrk'),
    apt: ['wrk'],
  },
  {
    name: 'native uvicorn stack',
    usedBy: 'bench http peer (uvicorn + httptools + uvloop serving the same Starlette app)',
    scope: 'bench',
    present: pyImports('uvicorn, httptools, uvloop, starlette, sqlalchemy, aiosqlite'),
    apt: ['python3-uvicorn', 'python3-httptools', 'python3-uvloop', 'python3-starlette', 'python3-sqlalchemy', 'python3-aiosqlite'],
  },
];

/** The requirements in scope that are not met. */
export function missingRequirements(testsOnly = false): Requirement[] {
  return REQUIREMENTS.filter((r) => (!testsOnly || r.scope === 'test') && !r.present());
}

export async function setup(opts: { packagesOnly?: boolean; testsOnly?: boolean; check?: boolean } = {}): Promise<void> {
  if (!opts.check) await fetchPackages();
  if (opts.packagesOnly) return;

  ensureMapCount();
  const wanted = REQUIREMENTS.filter((r) => !opts.testsOnly || r.scope === 'test');
  const missing = missingRequirements(opts.testsOnly);
  for (const r of wanted) {
    log(`${missing.includes(r) ? 'MISSING' : 'ok     '} ${r.name} (${r.usedBy})`);
  }
  if (missing.length === 0 || opts.check) {
    if (missing.length) process.exitCode = 1;
    return;
  }
  const pkgs = [...new Set(missing.flatMap((r) => r.apt))];
  log(`installing ${pkgs.join(' ')}${isRoot ? '' : ' (needs root)'}`);
  aptInstall(pkgs);
  const still = missingRequirements(opts.testsOnly).filter((r) => missing.includes(r));
  if (still.length) throw new SetupError(`still missing after install: ${still.map((r) => r.name).join(', ')}`);
}

/**
 * V8 maps every suspended JSPI stack (one per live greenlet) as its own memory
 * mapping, so Linux's default vm.max_map_count (65530) caps a process at about
 * 32,000 live greenlets. The greenlet stress test holds 100,000: raise the
 * limit when root, else say how.
 */
export const WANTED_MAP_COUNT = 1_048_576;
function ensureMapCount(): void {
  const file = '/proc/sys/vm/max_map_count';
  let current: number;
  try {
    current = Number(readFileSync(file, 'utf8').trim());
  } catch {
    return; // not Linux
  }
  if (current >= WANTED_MAP_COUNT) return;
  if (!isRoot) {
    log(`vm.max_map_count is ${current}: tests with more than ~32,000 live greenlets need \`sudo sysctl -w vm.max_map_count=${WANTED_MAP_COUNT}\``);
    return;
  }
  try {
    writeFileSync(file, String(WANTED_MAP_COUNT));
    log(`raised vm.max_map_count ${current} -> ${WANTED_MAP_COUNT} (one mapping per suspended JSPI stack)`);
  } catch (e) {
    log(`cannot raise vm.max_map_count (${(e as Error).message}); tests with more than ~32,000 live greenlets will fail`);
  }
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const testsOnly = args.includes('--tests');
  if (args.includes('--apt-missing')) {
    console.log([...new Set(missingRequirements(testsOnly).flatMap((r) => r.apt))].join(' '));
    process.exit(0);
  }
  try {
    await setup({ packagesOnly: args.includes('--packages'), testsOnly, check: args.includes('--check') });
  } catch (e) {
    if (!(e instanceof SetupError)) throw e;
    console.error(`[setup] error: ${e.message}`);
    process.exit(1);
  }
}
