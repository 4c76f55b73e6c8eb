// End-to-end tests of `greenwasm wasix run`: bin/greenwasm.js spawned on the C test programs of
// tests/wasix (built by scripts/build-wasix-tests.ts in `before`), checking output and exit status.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildWasixTests, ROOT } from '../../scripts/build-wasix-tests.ts';

const BIN = join(ROOT, 'bin', 'greenwasm.js');

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run `greenwasm wasix ...args` with `input` on stdin; a run over 60 s is killed. */
function wasix(args: string[], input = ''): Promise<Result> {
  const child = spawn(process.execPath, [BIN, 'wasix', ...args], { cwd: ROOT, stdio: 'pipe' });
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.end(input);
  return new Promise((resolve) =>
    child.on('close', (status) => {
      clearTimeout(killer);
      resolve({ status, stdout, stderr });
    }),
  );
}

let build = '';
const prog = (name: string) => join(build, `${name}.wasm`);
let tmp = '';

before(() => {
  build = buildWasixTests();
  tmp = mkdtempSync(join(tmpdir(), 'greenwasm-cli-wasix-'));
  writeFileSync(join(tmp, 'hello.txt'), 'hello from the host\n');
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('greenwasm wasix run', { concurrency: 2, timeout: 120_000 }, () => {
  test('passes argv and exits 0', async () => {
    const r = await wasix(['run', prog('args'), 'a b', '--env', 'x']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'argc=4\nargv[0]=args.wasm\nargv[1]=a b\nargv[2]=--env\nargv[3]=x\n');
  });

  test('ping-pong between contexts', async () => {
    const r = await wasix(['run', '--stack-size', '16k', prog('pingpong')]);
    assert.equal(r.status, 0, r.stderr);
    assert.notEqual(r.stdout, '');
  });

  test('--env gives the only variables; --mount is read-only; stdin is piped', async () => {
    const env = await wasix(['run', '--env', 'A=1', '--env=B=x=y', prog('env'), 'A', 'B', 'HOME']);
    assert.equal(env.status, 0, env.stderr);
    assert.equal(env.stdout, 'count=2\nA=1\nB=x=y\nHOME unset\n');
    const files = await wasix(['run', '--mount', `${tmp}:/data`, prog('files'), 'cat', '/data/hello.txt', 'write', '/data/new.txt']);
    assert.match(files.stdout, /^hello from the host\n/);
    assert.match(files.stdout, /write \/data\/new\.txt: error \d+ .*read-only/i);
    const cat = await wasix(['run', prog('cat')], 'abc');
    assert.equal(cat.status, 0, cat.stderr);
    assert.equal(cat.stdout, 'ABC\nbytes=3\n');
  });

  test('exit statuses: own code, 129 for a returning entrypoint, 1 for trap and overflow', async () => {
    const exit = await wasix(['run', prog('failures'), 'exit']);
    assert.equal(exit.status, 7, exit.stderr);
    const ret = await wasix(['run', prog('entry_return')]);
    assert.equal(ret.status, 129);
    assert.match(ret.stderr, /entrypoint returned/);
    const trap = await wasix(['run', prog('failures'), 'trap']);
    assert.equal(trap.status, 1);
    assert.match(trap.stderr, /^greenwasm: RuntimeError: unreachable/m);
    const overflow = await wasix(['run', '--stack-size=16k', prog('failures'), 'overflow']);
    assert.equal(overflow.status, 1);
    assert.match(overflow.stderr, /StackOverflowError/);
  });

  test('usage errors exit 2 with a message', async () => {
    for (const args of [['run'], ['run', '--stack-size', '12kb', prog('args')], ['run', '--bogus', prog('args')], ['frobnicate'], ['run', join(tmp, 'missing.wasm')]]) {
      const r = await wasix(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^greenwasm: .+\ngreenwasm: usage: greenwasm wasix run/, args.join(' '));
      assert.equal(r.stdout, '');
    }
    const help = await wasix(['--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^usage: greenwasm wasix run \[options\] prog\.wasm/);
  });
});
