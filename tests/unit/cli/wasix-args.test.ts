// src/cli/commands/wasix.ts: parsing `greenwasm wasix run [options] prog.wasm [args...]`.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '../../../src/cli/args.ts';
import { parseSize, parseWasixRunArgs } from '../../../src/cli/commands/wasix.ts';

test('options before the program, everything after it goes to the program', () => {
  const a = parseWasixRunArgs(['--env', 'A=1', '--env=B=x=y', '--mount', 'data:/data', '--mount=/tmp:/out:rw', '--stack-size', '128k', 'p.wasm', '--env', 'C=2'], '/home/u');
  assert.equal(a.program, 'p.wasm');
  assert.deepEqual(a.args, ['--env', 'C=2']);
  assert.deepEqual(a.env, { A: '1', B: 'x=y' });
  assert.deepEqual(a.mounts, [{ host: '/home/u/data', guest: '/data', writable: false }, { host: '/tmp', guest: '/out', writable: true }]);
  assert.equal(a.stackSize, 131072);
  assert.deepEqual(parseWasixRunArgs(['--', '--weird.wasm', 'x']).args, ['x']);
});

test('sizes and usage errors', () => {
  assert.equal(parseSize('65536'), 65536);
  assert.equal(parseSize('1m'), 1048576);
  assert.throws(() => parseSize('12kb'), UsageError);
  assert.throws(() => parseWasixRunArgs([]), UsageError);
  assert.throws(() => parseWasixRunArgs(['--bogus', 'p.wasm']), UsageError);
  assert.throws(() => parseWasixRunArgs(['--env']), UsageError);
});
