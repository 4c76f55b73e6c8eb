// The WASIX C test programs (tests/wasix/*.c) in Chromium and in Node, with one body run in
// both hosts (harness.ts). src/wasix is compiled to tests/wasix/build/js/ (tests/wasix/
// tsconfig.browser.json) so the page loads plain ES modules; files come from the in-memory
// backend (`createMemoryFs`) in both hosts.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildWasixTests } from '../../scripts/build-wasix-tests.ts';
import { HOSTS, openHost, ROOT, runInHost, type Host, type HostEnv } from './harness.ts';

interface Case {
  name: string;
  args?: string[];
  stackSize?: number;
  stdin?: string;
  env?: Record<string, string>;
  files?: boolean;
}
interface Outcome {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  error: string | null;
  spRestored: boolean;
  /** Timer ticks (5 ms interval) seen between output lines, keyed by line. */
  ticksAt: Record<string, number>;
  files: Record<string, string>;
  liveDelta: number;
}

// Runs inside the host: self-contained.
async function runCases(env: HostEnv, cases: Case[]): Promise<Outcome[]> {
  const base = `${env.rootURL}/tests/wasix/build`;
  const wasix = await import(`${base}/js/wasix/index.js`);
  const engine = await import(`${base}/js/engine/index.js`);
  const out: Outcome[] = [];
  for (const c of cases) {
    const dec = new TextDecoder();
    const o: Outcome = { exitCode: null, stdout: '', stderr: '', error: null, spRestored: false, ticksAt: {}, files: {}, liveDelta: 0 };
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const fs = wasix.createMemoryFs({ '/ro/in.txt': 'hello from the host\n', '/ro/sub': null, '/rw': null });
    const live = engine.liveContinuations();
    const url = `${base}/${c.name}.wasm`;
    try {
      const r = await wasix.runWasix(env.host === 'node' ? new URL(url) : url, {
        args: c.args ?? [],
        env: c.env ?? {},
        stdin: c.stdin ?? '',
        ...(c.stackSize ? { stackSize: c.stackSize } : {}),
        ...(c.files ? { fs, mounts: [{ host: '/ro', guest: '/data' }, { host: '/rw', guest: '/out', writable: true }] } : {}),
        stdout: (b: Uint8Array) => {
          o.stdout += dec.decode(b);
          for (const line of o.stdout.split('\n')) o.ticksAt[line] ??= ticks;
        },
        stderr: (b: Uint8Array) => { o.stderr += dec.decode(b); },
      });
      o.exitCode = r.exitCode;
      o.spRestored = r.stackPointer.final === r.stackPointer.initial;
    } catch (e) {
      o.error = `${(e as Error).name}: ${(e as Error).message}`;
    } finally {
      clearInterval(timer);
    }
    o.liveDelta = engine.liveContinuations() - live;
    const y = fs.readFile('/rw/y.txt');
    if (y) o.files['/rw/y.txt'] = dec.decode(y);
    out.push(o);
  }
  return out;
}

const CASES: Case[] = [
  { name: 'pingpong', args: ['1000'] },
  { name: 'generators' },
  { name: 'scheduler', args: ['10000'], stackSize: 16384 },
  { name: 'recursion' },
  { name: 'errors' },
  { name: 'entry_return' },
  { name: 'failures', args: ['trap'] },
  { name: 'failures', args: ['exit'] },
  { name: 'failures', args: ['overflow'], stackSize: 16384 },
  { name: 'sleep', args: ['100'] },
  { name: 'args', args: ['3', 'x'] },
  { name: 'env', args: ['FOO', 'HOME'], env: { FOO: 'bar' } },
  { name: 'clock' },
  { name: 'cat', stdin: 'hello\n' },
  { name: 'files', files: true, args: ['cat', '/data/in.txt', 'write', '/data/x.txt', 'write', '/out/y.txt', 'append', '/out/y.txt', 'ls', '/data'] },
];

function check(o: Outcome[]): void {
  const at = (i: number) => o[i]!;
  for (const [i, r] of o.entries()) assert.equal(r.liveDelta, 0, `case ${i} (${CASES[i]!.name}) leaked continuations`);
  const ok = (i: number) => {
    assert.equal(at(i).error, null, `${CASES[i]!.name}: ${at(i).error}`);
    assert.equal(at(i).exitCode, 0, `${CASES[i]!.name} exit ${at(i).exitCode}: ${at(i).stdout}`);
    assert.ok(at(i).spRestored, `${CASES[i]!.name}: stack pointer not restored`);
    return at(i).stdout;
  };
  assert.equal(ok(0), 'pingpong 1000 rounds sum=1000000 id=1\n');
  assert.equal(ok(1), 'fib: 0 1 1 2 3 5 8 13 21 34\nmixed: 55/1 89/4 144/9 233/16\nnested: 201 205 209\n');
  assert.equal(ok(2), 'scheduler n=10000 total=150015000 token=49995000 destroy=0\n');
  assert.equal(ok(3), 'recursion contexts=8 depth=200 finished=8 errors=0 main_errors=0\n');
  assert.match(ok(4), /\n0 failure\(s\)\n$/);
  assert.equal(at(5).exitCode, 129);
  assert.match(at(5).stderr, /entrypoint returned/);
  assert.match(at(6).error ?? '', /^RuntimeError: unreachable/);
  assert.equal(at(7).exitCode, 7);
  assert.match(at(8).error ?? '', /^StackOverflowError: WASIX context 7 overflowed/);
  const s = at(9).ticksAt;
  assert.match(ok(9), /slept long enough/);
  assert.ok(s['main awake']! - s['main sleeping']! >= 5 && s['context awake']! - s['context sleeping']! >= 5, JSON.stringify(s));
  assert.equal(at(10).exitCode, 3);
  assert.equal(at(10).stdout, 'argc=3\nargv[0]=args.wasm\nargv[1]=3\nargv[2]=x\n');
  assert.equal(ok(11), 'count=1\nFOO=bar\nHOME unset\n');
  assert.match(ok(12), /monotonic advanced: yes\nresolution ok: yes\nrandom differs: yes\n/);
  assert.equal(ok(13), 'HELLO\n\nbytes=6\n');
  assert.equal(at(14).exitCode, 1);
  assert.match(at(14).stdout, /^hello from the host\nwrite \/data\/x.txt: error 69 Read-only file system\nwrite \/out\/y.txt: ok\nappend \/out\/y.txt: ok\n/);
  assert.deepEqual(at(14).files, { '/rw/y.txt': 'written by wasm\nappended\n' });
}

before(() => {
  buildWasixTests();
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tests', 'wasix', 'tsconfig.browser.json')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`compiling src/wasix for the browser failed:\n${r.stdout}${r.stderr}`);
});

for (const hostName of HOSTS) {
  describe(`wasix programs in ${hostName}`, () => {
    let host: Host;
    before(async () => { host = await openHost(hostName); });
    after(async () => { await host?.close(); });

    test('every C test program behaves as under the Node suite', async () => {
      try {
        check(await runInHost(host, runCases, CASES));
      } catch (e) {
        if (host.pageLog?.length) (e as Error).message += `\npage log:\n${host.pageLog.join('\n')}`;
        throw e;
      }
    });
  });
}
