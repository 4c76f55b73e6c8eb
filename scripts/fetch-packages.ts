// Fetch pure-Python packages from Debian .debs into .cache/site-packages/.
//
//   node scripts/fetch-packages.ts [--force] [--no-verify]
//
// Steps per package: `apt-get download` into .cache/debs/, `dpkg-deb -x` into
// .cache/python/<pkg>/, then copy usr/lib/python3/dist-packages/* into ONE directory,
// .cache/site-packages/, skipping compiled modules (*.so) and __pycache__. Those .debs are
// built for Debian's CPython 3.11; only their pure-Python files are used by Pyodide's 3.14.
//
// greenlet is special: greenwasm supplies its own `greenlet`, so the Debian one never goes
// into site-packages; only its test suite is kept, in .cache/greenlet-tests/greenlet/tests.
//
// Idempotent: .cache/site-packages/.greenwasm-stamp.json records the package list and the
// versions; a matching stamp means nothing to do (no network, no apt calls).

import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { capture, ensureAptIndex, ensureSuiteIndex, isRoot, log, run, SetupError } from './apt.ts';

export const ROOT = resolve(import.meta.dirname, '..');
export const CACHE = join(ROOT, '.cache');
export const SITE_PACKAGES = join(CACHE, 'site-packages');
export const GREENLET_TESTS = join(CACHE, 'greenlet-tests');

interface PythonDeb {
  /** Debian binary package name. */
  deb: string;
  /** Modules imported by the verification step (under Pyodide). Empty: not verified. */
  imports: string[];
  /** 'site' (default): copy into site-packages. 'greenlet-tests': keep only greenlet/tests/*.py. */
  kind?: 'site' | 'greenlet-tests';
  /** Take the package from another Debian suite (private index in .cache/apt/<suite>/). */
  suite?: string;
  /** Why the row deviates from the default. */
  why?: string;
}

// Extend freely: one row per Debian package. Versions are whatever the apt index offers
// (bookworm: starlette 0.26.1, sqlalchemy 1.4.46, greenlet 2.0.2; flask 3.1 from trixie).
export const PYTHON_DEBS: readonly PythonDeb[] = [
  { deb: 'python3-starlette', imports: ['starlette', 'starlette.applications', 'starlette.responses'] },
  { deb: 'python3-anyio', imports: ['anyio'] },
  { deb: 'python3-sniffio', imports: ['sniffio'] },
  { deb: 'python3-idna', imports: ['idna'] },
  { deb: 'python3-sqlalchemy', imports: ['sqlalchemy', 'sqlalchemy.orm'] },
  {
    deb: 'python3-flask',
    imports: ['flask'],
    suite: 'trixie',
    why: "bookworm's Werkzeug 2.2 uses ast.Str (removed in Python 3.12); Flask 3.1 needs Werkzeug 3.1",
  },
  { deb: 'python3-werkzeug', imports: ['werkzeug'], suite: 'trixie', why: 'see python3-flask' },
  { deb: 'python3-blinker', imports: ['blinker'], suite: 'trixie', why: 'Flask 3.1 requires blinker >= 1.9' },
  { deb: 'python3-jinja2', imports: ['jinja2'] },
  { deb: 'python3-markupsafe', imports: ['markupsafe'] }, // C _speedups dropped; _native fallback
  { deb: 'python3-itsdangerous', imports: ['itsdangerous'], suite: 'trixie', why: 'Flask 3.1 requires itsdangerous >= 2.2' },
  { deb: 'python3-click', imports: ['click'] },
  {
    deb: 'python3-typing-extensions',
    imports: ['typing_extensions'],
    suite: 'trixie',
    why: "bookworm's 4.4.0 subclasses typing.TypeVar, a TypeError on Python 3.14",
  },
  { deb: 'python3-aiosqlite', imports: ['aiosqlite'] },
  { deb: 'python3-objgraph', imports: ['objgraph'] }, // greenlet's test suite (leakcheck.py)
  { deb: 'python3-greenlet', imports: [], kind: 'greenlet-tests' },
];

const DEBS_DIR = join(CACHE, 'debs');
const EXTRACT_DIR = join(CACHE, 'python');
const STAMP = join(SITE_PACKAGES, '.greenwasm-stamp.json');
const DIST_PACKAGES = 'usr/lib/python3/dist-packages';

interface Stamp {
  /** The PYTHON_DEBS table the cache was built from; any edit triggers a refetch. */
  spec: string;
  packages: Record<string, string>;
}

const SPEC = JSON.stringify(PYTHON_DEBS.map(({ deb, kind, suite }) => ({ deb, kind, suite })));

function readStamp(): Stamp | null {
  try {
    return JSON.parse(readFileSync(STAMP, 'utf8')) as Stamp;
  } catch {
    return null;
  }
}

function stampMatches(stamp: Stamp | null): stamp is Stamp {
  return !!stamp && stamp.spec === SPEC && existsSync(join(GREENLET_TESTS, 'greenlet', 'tests'));
}

/** Download one .deb (replacing older versions of it) and return its path. */
function download(deb: string, aptOptions: string[]): string {
  mkdirSync(DEBS_DIR, { recursive: true });
  const mine = () => readdirSync(DEBS_DIR).filter((f) => f.startsWith(`${deb}_`) && f.endsWith('.deb'));
  for (const f of mine()) rmSync(join(DEBS_DIR, f));
  // As root, apt drops privileges to `_apt`, which may not be able to write here.
  const sandbox = isRoot ? ['-o', 'APT::Sandbox::User=root'] : [];
  run('apt-get', ['download', '-q', ...sandbox, ...aptOptions, deb], { cwd: DEBS_DIR });
  const got = mine();
  if (got.length !== 1) throw new SetupError(`apt-get download ${deb}: expected one .deb, found ${got.length}`);
  return join(DEBS_DIR, got[0]!);
}

function debVersion(file: string): string {
  const v = capture('dpkg-deb', ['-f', file, 'Version'])?.trim();
  if (!v) throw new SetupError(`dpkg-deb -f ${file} Version failed`);
  return v;
}

/** Keep pure-Python files only: no compiled modules, no bytecode caches. */
function pureFilter(src: string): boolean {
  return !src.endsWith('.so') && !src.includes('__pycache__');
}

function collect(p: PythonDeb, extracted: string): void {
  const dist = join(extracted, DIST_PACKAGES);
  if (!existsSync(dist)) throw new SetupError(`${p.deb}: no ${DIST_PACKAGES} in the .deb`);
  if (p.kind === 'greenlet-tests') {
    const dest = join(GREENLET_TESTS, 'greenlet', 'tests');
    rmSync(GREENLET_TESTS, { recursive: true, force: true });
    mkdirSync(dest, { recursive: true });
    const src = join(dist, 'greenlet', 'tests');
    for (const f of readdirSync(src).filter((f) => f.endsWith('.py'))) cpSync(join(src, f), join(dest, f));
    return;
  }
  for (const entry of readdirSync(dist)) {
    cpSync(join(dist, entry), join(SITE_PACKAGES, entry), { recursive: true, filter: pureFilter });
  }
}

/** Import every listed module under Pyodide (Node) with site-packages mounted read-only. */
export async function verify(): Promise<void> {
  log('verifying imports under Pyodide ...');
  const url = pathToFileURL(join(ROOT, 'node_modules', 'pyodide', 'pyodide.mjs')).href;
  const { loadPyodide } = (await import(url)) as typeof import('pyodide');
  const py = await loadPyodide({ indexURL: join(ROOT, 'node_modules', 'pyodide') + '/' });
  py.FS.mkdirTree('/site');
  py.FS.mount(py.FS.filesystems.NODEFS, { root: SITE_PACKAGES }, '/site');
  const modules = PYTHON_DEBS.flatMap((p) => p.imports);
  const result = py.runPython(`
import sys, importlib, json, warnings
warnings.simplefilter('ignore', SyntaxWarning)  # 3.14 warns on old idioms (return in finally)
sys.path.insert(0, '/site')
failed = {}
for name in ${JSON.stringify(modules)}:
    try:
        importlib.import_module(name)
    except Exception as e:
        failed[name] = f'{type(e).__name__}: {e}'
import markupsafe
assert str(markupsafe.escape('<a>')) == '&lt;a&gt;'
try:
    import markupsafe._speedups
    speedups = True
except ImportError:
    speedups = False
json.dumps({'failed': failed, 'speedups': speedups, 'greenlet_in_site': any(
    __import__('os').path.exists(f'/site/greenlet{s}') for s in ('', '.py'))})
`) as string;
  const r = JSON.parse(result) as { failed: Record<string, string>; speedups: boolean; greenlet_in_site: boolean };
  if (r.speedups) throw new SetupError('markupsafe._speedups (a C extension) leaked into site-packages');
  if (r.greenlet_in_site) throw new SetupError('a greenlet module leaked into site-packages');
  const failed = Object.entries(r.failed);
  if (failed.length) {
    throw new SetupError(`imports failed under Pyodide:\n${failed.map(([m, e]) => `  ${m}: ${e}`).join('\n')}`);
  }
  log(`verified ${modules.length} imports (markupsafe uses its pure-Python fallback)`);
}

export async function fetchPackages(opts: { force?: boolean; verify?: boolean } = {}): Promise<void> {
  const stamp = readStamp();
  if (!opts.force && stampMatches(stamp)) {
    const versions = Object.entries(stamp.packages).map(([p, v]) => `${p.replace(/^python3-/, '')} ${v}`);
    log(`python packages up to date in .cache/site-packages (${versions.join(', ')})`);
    return;
  }
  log(`fetching ${PYTHON_DEBS.length} Debian python packages into .cache/ ...`);
  ensureAptIndex(PYTHON_DEBS.filter((p) => !p.suite).map((p) => p.deb));
  rmSync(SITE_PACKAGES, { recursive: true, force: true });
  mkdirSync(SITE_PACKAGES, { recursive: true });
  const packages: Record<string, string> = {};
  for (const [i, p] of PYTHON_DEBS.entries()) {
    const file = download(p.deb, p.suite ? ensureSuiteIndex(CACHE, p.suite) : []);
    const version = debVersion(file);
    const extracted = join(EXTRACT_DIR, p.deb);
    rmSync(extracted, { recursive: true, force: true });
    mkdirSync(extracted, { recursive: true });
    run('dpkg-deb', ['-x', file, extracted]);
    collect(p, extracted);
    packages[p.deb] = version;
    log(`[${i + 1}/${PYTHON_DEBS.length}] ${p.deb} ${version}${p.suite ? ` (from ${p.suite}: ${p.why})` : ''}`);
  }
  if (opts.verify !== false) await verify();
  writeFileSync(STAMP, JSON.stringify({ spec: SPEC, packages } satisfies Stamp, null, 2) + '\n');
  log('python packages ready: .cache/site-packages, .cache/greenlet-tests');
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  try {
    await fetchPackages({ force: args.includes('--force'), verify: !args.includes('--no-verify') });
    if (args.includes('--verify')) await verify();
  } catch (e) {
    if (!(e instanceof SetupError)) throw e;
    console.error(`[setup] error: ${e.message}`);
    process.exit(1);
  }
}
