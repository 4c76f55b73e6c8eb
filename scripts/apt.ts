// Small helpers shared by setup.ts and fetch-packages.ts: run a command, ask apt, install.
// Only Debian's apt is supported; every failure ends in a message that says what to run.

import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class SetupError extends Error {
  override name = 'SetupError';
}

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

export function log(msg: string): void {
  console.log(`[setup] ${msg}`);
}

/** Run a command with inherited stdio; throw SetupError on a non-zero exit. */
export function run(cmd: string, args: readonly string[], opts: SpawnSyncOptions = {}): void {
  log(`$ ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.error) throw new SetupError(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new SetupError(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}`);
}

/** Run a command and return its stdout, or null when it fails (missing binary, non-zero exit). */
export function capture(cmd: string, args: readonly string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return r.status === 0 ? r.stdout : null;
}

export function hasCommand(name: string): boolean {
  return capture('sh', ['-c', `command -v ${name}`]) !== null;
}

export function requireApt(): void {
  if (!hasCommand('apt-get') || !hasCommand('apt-cache') || !hasCommand('dpkg-deb')) {
    throw new SetupError(
      'apt-get/apt-cache/dpkg-deb not found: greenwasm setup needs a Debian-based machine ' +
        '(bookworm or newer). Install the packages listed in scripts/setup.ts by other means.',
    );
  }
}

/** Candidate version of a Debian package in the local apt index, or null if unknown. */
export function candidateVersion(pkg: string): string | null {
  const out = capture('apt-cache', ['policy', pkg]);
  const m = out?.match(/Candidate:\s*(\S+)/);
  return m && m[1] !== '(none)' ? m[1]! : null;
}

export function isInstalled(pkg: string): boolean {
  const out = capture('dpkg-query', ['-W', '-f=${db:Status-Abbrev}', pkg]);
  return out !== null && out.startsWith('ii');
}

let updated = false;

/**
 * Make sure apt knows a candidate for every package; run `apt-get update` at most once per
 * process, and only when some candidate is missing (fresh CI machines have empty lists).
 */
export function ensureAptIndex(pkgs: readonly string[]): void {
  requireApt();
  const missing = () => pkgs.filter((p) => candidateVersion(p) === null);
  if (missing().length === 0) return;
  if (!updated) {
    if (!isRoot) throw new SetupError(`apt index lacks ${missing().join(' ')}; run: sudo apt-get update`);
    run('apt-get', ['update']);
    updated = true;
  }
  const still = missing();
  if (still.length) {
    throw new SetupError(`apt has no candidate for: ${still.join(' ')} (is this Debian bookworm or newer?)`);
  }
}

/** apt-get install the given packages (no recommends), or explain the command when not root. */
export function aptInstall(pkgs: readonly string[]): void {
  if (pkgs.length === 0) return;
  const cmd = `apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
  if (!isRoot) {
    throw new SetupError(`missing system packages; run as root:\n  sudo apt-get update && sudo ${cmd}`);
  }
  ensureAptIndex(pkgs);
  run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...pkgs], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

/**
 * apt options for a private index of another Debian suite (e.g. trixie), kept under
 * .cache/apt/<suite>/ so the machine's own sources, lists and package cache are untouched.
 */
export function suiteAptOptions(cacheDir: string, suite: string): string[] {
  const dir = join(cacheDir, 'apt', suite);
  const sources = join(dir, 'sources.list');
  if (!existsSync(sources)) {
    mkdirSync(join(dir, 'lists', 'partial'), { recursive: true });
    mkdirSync(join(dir, 'cache', 'archives', 'partial'), { recursive: true });
    writeFileSync(
      sources,
      `deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian ${suite} main\n`,
    );
  }
  return [
    '-o', `Dir::Etc::SourceList=${sources}`,
    '-o', 'Dir::Etc::SourceParts=/dev/null',
    '-o', `Dir::State::Lists=${join(dir, 'lists')}`,
    '-o', `Dir::Cache=${join(dir, 'cache')}`,
  ];
}

const suitesUpdated = new Set<string>();
/** `apt-get update` of a private suite index, once per process, only if it is empty. */
export function ensureSuiteIndex(cacheDir: string, suite: string): string[] {
  const opts = suiteAptOptions(cacheDir, suite);
  const lists = join(cacheDir, 'apt', suite, 'lists');
  const empty = !readdirSync(lists).some((f) => f.includes('_Packages'));
  if (empty && !suitesUpdated.has(suite)) {
    requireApt();
    run('apt-get', ['update', '-q', ...opts, ...(isRoot ? ['-o', 'APT::Sandbox::User=root'] : [])]);
    suitesUpdated.add(suite);
  }
  return opts;
}
