// The WASIX context API and the WASI host, on C programs built with Debian's wasm32-wasi clang
// (scripts/build-wasix-tests.ts, run in `before`). After every run: no continuation leaked, and
// for programs that return from main the guest stack pointer is back at its initial value.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { buildWasixTests, compileWasm, WASIX_TEST_SRC } from '../../scripts/build-wasix-tests.ts';
import { liveContinuations } from '../../src/engine/index.ts';
import {
  runWasix, StackOverflowError, WasixLinkError, WasixOptionsError, WasmBinaryError, type WasixOptions,
} from '../../src/wasix/index.ts';

let build = '';
const prog = (name: string) => join(build, `${name}.wasm`);

interface Ran {
  exitCode: number;
  stdout: string;
  stderr: string;
  sp: { initial: number; final: number };
}

async function run(name: string, args: string[] = [], options: WasixOptions = {}): Promise<Ran> {
  let stdout = '', stderr = '';
  const dec = new TextDecoder();
  const r = await runWasix(prog(name), {
    args,
    stdout: (b) => { stdout += dec.decode(b); },
    stderr: (b) => { stderr += dec.decode(b); },
    ...options,
  });
  return { exitCode: r.exitCode, stdout, stderr, sp: r.stackPointer };
}

/** Run a program that must return 0 from main, with its stack pointer restored. */
async function runOk(name: string, args: string[] = [], options: WasixOptions = {}): Promise<string> {
  const r = await run(name, args, options);
  assert.equal(r.exitCode, 0, `${name} exited ${r.exitCode}\n${r.stdout}${r.stderr}`);
  assert.equal(r.sp.final, r.sp.initial, 'guest stack pointer restored in main');
  return r.stdout;
}

before(() => {
  build = buildWasixTests();
  // Variants: a stripped binary (no name section: the stack pointer is found by position)
  // and one that exports its table itself.
  const src = join(WASIX_TEST_SRC, 'pingpong.c');
  compileWasm(src, prog('pingpong-stripped'), ['-Wl,--strip-all']);
  compileWasm(src, prog('pingpong-export-table'), ['-Wl,--export-table']);
});

let live = 0;
beforeEach(() => { live = liveContinuations(); });
afterEach(() => assert.equal(liveContinuations(), live, 'continuations leaked'));

describe('wasix contexts', () => {
  test('ping-pong between main and a context', async () => {
    assert.equal(await runOk('pingpong', ['1000']), 'pingpong 1000 rounds sum=1000000 id=1\n');
  });

  test('stripped binaries and exported tables work too', async () => {
    assert.match(await runOk('pingpong-stripped', ['100']), /sum=10000 /);
    assert.match(await runOk('pingpong-export-table', ['100']), /sum=10000 /);
  });

  test('generators, interleaved and nested (a context creating and driving another)', async () => {
    assert.equal(
      await runOk('generators'),
      'fib: 0 1 1 2 3 5 8 13 21 34\nmixed: 55/1 89/4 144/9 233/16\nnested: 201 205 209\n',
    );
  });

  test('a scheduler over 10,000 live contexts, with context-to-context switches', async () => {
    const out = await runOk('scheduler', ['10000'], { stackSize: 16384 });
    assert.equal(out, 'scheduler n=10000 total=150015000 token=49995000 destroy=0\n');
  });

  test('deep recursion per context keeps every frame intact across switches', async () => {
    assert.equal(await runOk('recursion'), 'recursion contexts=8 depth=200 finished=8 errors=0 main_errors=0\n');
  });

  test('every error and no-op case returns Wasmer\'s code', async () => {
    const out = await runOk('errors');
    assert.doesNotMatch(out, /FAIL/);
    assert.equal(out.split('\n').filter((l) => l.startsWith('ok ')).length, 32);
    assert.match(out, /\n0 failure\(s\)\n$/);
  });

  test('an entrypoint that returns ends the program with exit code 129', async () => {
    const r = await run('entry_return');
    assert.equal(r.exitCode, 129);
    assert.equal(r.stdout, 'entrypoint running, about to return\n');
    assert.match(r.stderr, /WASIX context 1: its entrypoint returned.*exit code 129/);
  });

  test('a trap inside a context is re-raised in main (runWasix rejects)', async () => {
    let out = '';
    await assert.rejects(
      runWasix(prog('failures'), { args: ['trap'], stdout: (b) => { out += new TextDecoder().decode(b); } }),
      (e: Error) => e instanceof WebAssembly.RuntimeError && /unreachable/.test(e.message),
    );
    assert.equal(out, 'context running: trap\n');
  });

  test('a trap in main rejects', async () => {
    await assert.rejects(runWasix(prog('failures'), { args: ['main-trap'], stdout: () => {} }), WebAssembly.RuntimeError);
  });

  test('exit() inside a context ends the program with its code', async () => {
    const r = await run('failures', ['exit']);
    assert.equal(r.exitCode, 7);
    assert.equal(r.stdout, 'context running: exit\n');
  });

  test('a context overflowing its C stack fails with StackOverflowError', async () => {
    await assert.rejects(
      runWasix(prog('failures'), { args: ['overflow'], stackSize: 16384, stdout: () => {} }),
      (e: Error) => e instanceof StackOverflowError && /context 7 overflowed its 16384-byte C stack/.test(e.message),
    );
  });

  test('destroyed contexts free their stack regions (memory does not grow)', async () => {
    assert.match(await runOk('churn', ['20000']), /^churn n=20000 pages_before=(\d+) pages_after=\1\n$/);
  });

  test('two programs run concurrently, each with its own contexts and stack pointer', async () => {
    const [a, b] = await Promise.all([runOk('pingpong', ['20000']), runOk('sleep', ['30']), runOk('generators')]);
    assert.match(a, /sum=400000000 /);
    assert.match(b, /slept long enough/);
  });

  test('the same program fits with a larger stack', async () => {
    assert.match(await runOk('failures', ['overflow'], { stackSize: 128 * 1024 }), /deep=820\nmain resumed after overflow\n$/);
  });
});

describe('wasi host', () => {
  test('poll_oneoff sleeps without blocking the event loop, in main and in a context', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const seen: Record<string, number> = {};
    let out = '';
    try {
      const r = await runWasix(prog('sleep'), {
        args: ['100'],
        stdout: (b) => {
          out += new TextDecoder().decode(b);
          for (const line of out.split('\n')) seen[line] ??= ticks;
        },
      });
      assert.equal(r.exitCode, 0);
    } finally {
      clearInterval(timer);
    }
    assert.match(out, /slept long enough/);
    assert.ok(seen['main awake']! - seen['main sleeping']! >= 5, `timer ticks during main's sleep: ${JSON.stringify(seen)}`);
    assert.ok(seen['context awake']! - seen['context sleeping']! >= 5, `timer ticks during the context's sleep: ${JSON.stringify(seen)}`);
  });

  test('args and exit status', async () => {
    const r = await run('args', ['3', 'two words', 'é']);
    assert.equal(r.exitCode, 3);
    assert.equal(r.stdout, 'argc=4\nargv[0]=args.wasm\nargv[1]=3\nargv[2]=two words\nargv[3]=é\n');
    assert.match(await runOk('args', [], { programName: 'prog' }), /^argc=1\nargv\[0\]=prog\n$/);
  });

  test('environment: only what the options give', async () => {
    const out = await runOk('env', ['FOO', 'EMPTY', 'HOME'], { env: { FOO: 'bar baz', EMPTY: '' } });
    assert.equal(out, 'count=2\nFOO=bar baz\nEMPTY=\nHOME unset\n');
  });

  test('clocks and random', async () => {
    const out = await runOk('clock');
    const realtime = Number(/realtime=(\d+)/.exec(out)![1]);
    assert.ok(Math.abs(realtime - Date.now() / 1000) < 5, `realtime ${realtime}`);
    assert.match(out, /monotonic advanced: yes\nresolution ok: yes\nrandom differs: yes\n/);
  });

  test('stdin from a string and from an async source', async () => {
    assert.equal(await runOk('cat', [], { stdin: 'hello\nworld\n' }), 'HELLO\nWORLD\n\nbytes=12\n');
    const chunks = ['ab', 'cd', 'e'];
    const stdin = async () => {
      await new Promise((r) => setTimeout(r, 2));
      const c = chunks.shift();
      return c === undefined ? null : new TextEncoder().encode(c);
    };
    assert.equal(await runOk('cat', [], { stdin }), 'ABCDE\nbytes=5\n');
  });

  describe('files through mounts', () => {
    let dir = '';
    let ro = '', rw = '';
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'greenwasm-wasix-'));
      ro = join(dir, 'ro');
      rw = join(dir, 'rw');
      mkdirSync(join(ro, 'sub'), { recursive: true });
      mkdirSync(rw);
      writeFileSync(join(ro, 'in.txt'), 'hello from the host\n');
      writeFileSync(join(dir, 'secret.txt'), 'secret\n');
      symlinkSync(join(dir, 'secret.txt'), join(ro, 'escape'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));
    const mounts = () => [{ host: ro, guest: '/data' }, { host: rw, guest: '/out', writable: true }];

    test('read, list, stat and seek on a read-only mount', async () => {
      const r = await run('files', ['cat', '/data/in.txt', 'ls', '/data', 'stat', '/data/in.txt', 'stat', '/data', 'seek', '/data/in.txt'], { mounts: mounts() });
      assert.equal(r.exitCode, 0, r.stdout);
      const lines = r.stdout.split('\n');
      assert.equal(lines[0], 'hello from the host');
      assert.deepEqual(lines.filter((l) => l.startsWith('entry ')).sort(), ['entry escape', 'entry in.txt', 'entry sub']);
      assert.match(r.stdout, /stat \/data\/in.txt: size=20 file\nstat \/data: size=\d+ dir\nseek \/data\/in.txt: at=16 read=4 tail=ost\n/);
    });

    test('writes are refused on a read-only mount (EROFS), allowed on a writable one', async () => {
      const r = await run('files', ['write', '/data/x.txt', 'rm', '/data/in.txt', 'write', '/out/y.txt', 'append', '/out/y.txt', 'cat', '/out/y.txt'], { mounts: mounts() });
      assert.equal(r.exitCode, 1);
      assert.match(r.stdout, /^write \/data\/x.txt: error 69 Read-only file system\nrm \/data\/in.txt: error 69 Read-only file system\n/);
      assert.match(r.stdout, /write \/out\/y.txt: ok\nappend \/out\/y.txt: ok\nwritten by wasm\nappended\n$/);
      assert.equal(readFileSync(join(rw, 'y.txt'), 'utf8'), 'written by wasm\nappended\n');
      assert.equal(readFileSync(join(ro, 'in.txt'), 'utf8'), 'hello from the host\n');
    });

    test('paths cannot leave a mount (.., symlinks, unmounted paths)', async () => {
      const r = await run('files', ['cat', '/data/escape', 'cat', '/data/../secret.txt', 'cat', '/etc/passwd'], { mounts: mounts() });
      assert.equal(r.exitCode, 1);
      assert.equal(r.stdout.match(/error 76 Capabilities insufficient/g)?.length, 3, r.stdout);
      assert.doesNotMatch(r.stdout, /secret\n|root:/);
    });

    test('without mounts no file is visible', async () => {
      const r = await run('files', ['cat', '/data/in.txt']);
      assert.equal(r.exitCode, 1);
      assert.match(r.stdout, /cat \/data\/in.txt: error/);
    });
  });

  test('errors: unknown imports, bad binaries, bad options', async () => {
    await assert.rejects(runWasix(prog('link')), (e: Error) => e instanceof WasixLinkError && /env\.mystery/.test(e.message));
    await assert.rejects(runWasix(new Uint8Array([1, 2, 3, 4])), WasmBinaryError);
    await assert.rejects(runWasix(prog('args'), { stackSize: 100 }), WasixOptionsError);
    await assert.rejects(runWasix(prog('args'), { mounts: [{ host: '/nonexistent-dir', guest: '/x' }] }), WasixOptionsError);
    await assert.rejects(runWasix(prog('args'), { mounts: [{ host: '/tmp', guest: 'relative' }] }), WasixOptionsError);
  });
});
