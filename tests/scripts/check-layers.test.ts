import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkFile, importsOf, layerOf } from '../../scripts/check-layers.ts';

const SRC = '/repo/src';
const check = (rel: string, source: string) => checkFile(SRC, rel, source).map((v) => v.message);

test('finds every import form, with line numbers, ignoring comments', () => {
  const src = [
    "import { a } from './a.ts';",
    "import type { B } from '../engine/b.ts';",
    "export * from './c.ts';",
    "import './side-effect.ts';",
    "// import { no } from '../cli/x.ts';",
    "/* import { no } from '../cli/y.ts'; */",
    "const m = await import('../wasix/d.ts');",
    'import {',
    '  e,',
    "} from '../common/e.ts';",
  ].join('\n');
  assert.deepEqual(
    importsOf(src).map((i) => [i.specifier, i.line]),
    [
      ['./a.ts', 1],
      ['../engine/b.ts', 2],
      ['./c.ts', 3],
      ['./side-effect.ts', 4],
      ['../wasix/d.ts', 7],
      ['../common/e.ts', 8],
    ],
  );
});

test('layerOf', () => {
  assert.equal(layerOf('index.ts'), 'root');
  assert.equal(layerOf('engine/jspi.ts'), 'engine');
  assert.equal(layerOf('python/drivers/pg.ts'), 'python');
  assert.equal(layerOf('misc/x.ts'), null);
});

test('allows downward imports and common', () => {
  assert.deepEqual(check('python/load.ts', "import { x } from '../engine/jspi.ts';\nimport '../common/lock.ts';"), []);
  assert.deepEqual(check('cli/index.ts', "import { serve } from '../server/index.ts';\nimport '../index.ts';"), []);
  assert.deepEqual(check('engine/a.ts', "import { b } from './sub/b.ts';\nimport 'node:fs';"), []);
});

test('rejects upward imports, server<->browser, common->layer, escapes', () => {
  assert.deepEqual(check('engine/a.ts', "import '../python/x.ts';"), ['engine may not import python']);
  assert.deepEqual(check('server/a.ts', "import '../browser/x.ts';"), ['server may not import browser']);
  assert.deepEqual(check('browser/a.ts', "export * from '../server/x.ts';"), ['browser may not import server']);
  assert.deepEqual(check('common/a.ts', "import '../engine/x.ts';"), ['common may not import engine']);
  assert.deepEqual(check('index.ts', "import './cli/index.ts';"), ['root may not import cli']);
  assert.deepEqual(check('wasix/a.ts', "import '../../tests/x.ts';"), ['import leaves src/']);
  assert.deepEqual(check('python/a.ts', "import 'greenwasm/server';"), [
    'self-reference to the package; use a relative import',
  ]);
  assert.equal(check('misc/a.ts', '').length, 1);
});

test('only src/python/pyodide.ts may import pyodide or touch ._module', () => {
  assert.deepEqual(check('python/pyodide.ts', "import { loadPyodide } from 'pyodide';\nconst m = py._module;"), []);
  assert.deepEqual(check('python/greenlet.ts', "import type { PyodideAPI } from 'pyodide';"), [
    'only src/python/pyodide.ts may import pyodide (types too: re-export them from the seam)',
  ]);
  assert.deepEqual(check('server/asgi.ts', "const sp = api._module.stackSave(); // ._module in a comment is fine"), [
    'only src/python/pyodide.ts may touch pyodide._module',
  ]);
});
