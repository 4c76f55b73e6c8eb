// Enforce the layer rule on src/:
//
//   engine ← wasix ← python ← {server, browser} ← cli        common ← everyone
//
// A layer may import itself, `common`, and the layers to its left; server and browser may not
// import each other; `common` imports no other layer; src/index.ts (the curated surface) may
// import every layer except cli. Relative specifiers are resolved; package self-references
// (`greenwasm/...`) and paths that leave src/ are violations too.
//
// The Pyodide seam: only src/python/pyodide.ts may import `pyodide` or read `._module`
// (the Emscripten Module); everything else goes through that file's typed interface.
//
//   node scripts/check-layers.ts [srcDir]     prints violations, exits 1 if any

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

export const LAYERS = ['common', 'engine', 'wasix', 'python', 'server', 'browser', 'cli'] as const;
export type Layer = (typeof LAYERS)[number] | 'root';

/** What each layer may import (besides itself). */
export const ALLOWED: Record<Layer, readonly Layer[]> = {
  common: [],
  engine: ['common'],
  wasix: ['common', 'engine'],
  python: ['common', 'engine', 'wasix'],
  server: ['common', 'engine', 'wasix', 'python'],
  browser: ['common', 'engine', 'wasix', 'python'],
  cli: ['common', 'engine', 'wasix', 'python', 'server', 'browser', 'root'],
  root: ['common', 'engine', 'wasix', 'python', 'server', 'browser'],
};

export const PYODIDE_SEAM = 'python/pyodide.ts';

export interface Violation {
  file: string;
  line: number;
  specifier: string;
  message: string;
}

const SOURCE_EXT = /\.(ts|mts|cts|js|mjs|cjs)$/;
// import x from '…' | import '…' | export … from '…' | import('…') | import type … from '…'
const SPECIFIER =
  /(?:^|[;\s}])(?:import|export)\s+(?:type\s+)?(?:[\w*${}\s,]+?\s+from\s+)?['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The layer a file (path relative to src/) belongs to, or null for an unknown top-level dir. */
export function layerOf(relPath: string): Layer | null {
  const parts = relPath.split(/[\\/]/);
  if (parts.length === 1) return 'root';
  const top = parts[0]!;
  return (LAYERS as readonly string[]).includes(top) ? (top as Layer) : null;
}

function stripComments(src: string): string {
  // Keep line count: replace comments by spaces/newlines. Good enough for import lines.
  return src
    .replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' '))
    .replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

export function importsOf(source: string): { specifier: string; line: number }[] {
  const text = stripComments(source);
  const out: { specifier: string; line: number }[] = [];
  for (const m of text.matchAll(SPECIFIER)) {
    const specifier = m[1] ?? m[2]!;
    out.push({ specifier, line: text.slice(0, m.index).split('\n').length + (m[0].startsWith('\n') ? 1 : 0) });
  }
  return out;
}

/** Check one file's source. `relPath` is relative to srcDir. */
export function checkFile(srcDir: string, relPath: string, source: string): Violation[] {
  const from = layerOf(relPath);
  const v: Violation[] = [];
  const file = join(srcDir, relPath);
  if (from === null) {
    return [{ file: relPath, line: 1, specifier: '', message: `unknown layer '${relPath.split(/[\\/]/)[0]}' (add it to scripts/check-layers.ts)` }];
  }
  const seam = relPath.split(sep).join('/') === PYODIDE_SEAM;
  if (!seam) {
    const text = stripComments(source);
    for (const m of text.matchAll(/\._module\b/g)) {
      const line = text.slice(0, m.index).split('\n').length;
      v.push({ file: relPath, line, specifier: '', message: `only src/${PYODIDE_SEAM} may touch pyodide._module` });
    }
  }
  for (const { specifier, line } of importsOf(source)) {
    if (!seam && (specifier === 'pyodide' || specifier.startsWith('pyodide/'))) {
      v.push({ file: relPath, line, specifier, message: `only src/${PYODIDE_SEAM} may import pyodide (types too: re-export them from the seam)` });
      continue;
    }
    if (specifier === 'greenwasm' || specifier.startsWith('greenwasm/')) {
      v.push({ file: relPath, line, specifier, message: 'self-reference to the package; use a relative import' });
      continue;
    }
    if (!specifier.startsWith('.')) continue; // node:, npm packages
    const target = relative(srcDir, resolve(dirname(file), specifier));
    if (target.startsWith('..') || target.startsWith(sep)) {
      v.push({ file: relPath, line, specifier, message: 'import leaves src/' });
      continue;
    }
    const to = layerOf(target);
    if (to === null || to === from) continue; // unknown dirs are reported on their own files
    if (!ALLOWED[from].includes(to)) {
      v.push({ file: relPath, line, specifier, message: `${from} may not import ${to}` });
    }
  }
  return v;
}

function* walk(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (SOURCE_EXT.test(e.name) && !e.name.endsWith('.d.ts')) yield p;
  }
}

export function checkTree(srcDir: string): { files: number; violations: Violation[] } {
  let files = 0;
  const violations: Violation[] = [];
  for (const path of walk(srcDir)) {
    files++;
    violations.push(...checkFile(srcDir, relative(srcDir, path), readFileSync(path, 'utf8')));
  }
  return { files, violations };
}

if (import.meta.main) {
  const srcDir = resolve(process.argv[2] ?? join(import.meta.dirname, '..', 'src'));
  const { files, violations } = checkTree(srcDir);
  for (const x of violations) {
    console.log(`src/${x.file}:${x.line}: ${x.message}${x.specifier ? ` (import '${x.specifier}')` : ''}`);
  }
  console.log(`check-layers: ${files} files, ${violations.length} violation(s)`);
  process.exit(violations.length ? 1 : 0);
}
