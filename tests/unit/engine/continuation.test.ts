// The engine's stack-pointer protocol (src/engine/continuation.ts), with a host that
// records every stack-pointer read and write: a park with a trampoline-kept stack
// pointer must neither read nor write it, and its resume takes the outer pointer
// from the trampoline.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Switcher, makeRegion, liveContinuations } from '../../../src/engine/index.ts';
import type { Continuation, SwitchHost } from '../../../src/engine/index.ts';

function recordingHost() {
  const log: string[] = [];
  let sp = 50_000;
  const parked: string[] = [];
  const unparked: string[] = [];
  let sw: Switcher<string> | null = null;
  const host: SwitchHost<string> = {
    getSp: () => (log.push(`get ${sp}`), sp),
    setSp: (v) => {
      log.push(`set ${v}`);
      sp = v;
    },
    park: (c) => void parked.push(`${c.data}${c.keptSp ? ' kept' : ''}`),
    unpark: (c) => void unparked.push(`${c.data}${c.keptSp ? ' kept' : ''}`),
    // A started continuation runs its entry: `entered` first (as the entry trampoline does).
    start: (c: Continuation<string>) => {
      sw!.entered(c);
      return new Promise(() => {});
    },
  };
  return { host, log, parked, unparked, setSwitcher: (s: Switcher<string>) => (sw = s), sp: () => sp };
}

test('a park with a trampoline-kept stack pointer leaves the pointer to the trampoline', async () => {
  const before = liveContinuations();
  const h = recordingHost();
  const sw = new Switcher<string>(h.host, 'main');
  h.setSwitcher(sw);
  const region = makeRegion(1024, 4096);
  const g = sw.create('g', region);

  // main (no region) parks the engine's way: the engine reads the pointer; g enters on its region.
  const mainParked = sw.switchFrom(sw.main, g, 7);
  await Promise.resolve();
  assert.deepEqual(h.log, ['get 50000', 'get 50000', `set ${region.top}`]);
  assert.equal(g.outerSp, 50_000);
  assert.equal(g.delivered, 7);

  // g parks kept: the engine records the trampoline's pointer and touches none.
  h.log.length = 0;
  const gParked = sw.switchFrom(g, sw.main, 9, region.top - 160);
  assert.deepEqual(h.log, []);
  assert.equal(g.sp, region.top - 160);
  assert.equal(g.keptSp, true);
  assert.deepEqual(h.parked, ['main', 'g kept']);
  assert.equal(await mainParked, sw.main.id);
  // The trampoline set the outer pointer itself; main resumes the engine's way.
  h.host.setSp(g.outerSp);
  h.log.length = 0;
  assert.equal(sw.resumed(sw.main), 9);
  assert.deepEqual(h.log, ['set 50000']);

  // main switches back to g: g's trampoline hands the outer pointer it found to `resumed`.
  h.log.length = 0;
  sw.switchFrom(sw.main, g, 11);
  assert.equal(await gParked, g.id);
  h.log.length = 0;
  assert.equal(sw.resumed(g, 48_000), 11);
  assert.deepEqual(h.log, []); // nothing read or written
  assert.equal(g.outerSp, 48_000);
  assert.equal(g.keptSp, false);
  assert.deepEqual(h.unparked, ['g', 'main', 'g kept']);

  // g ends: main is resumed, g released, the thread closed; nothing stays registered.
  sw.finishFrom(g, sw.main, 0);
  sw.exited(g);
  sw.close();
  assert.equal(liveContinuations(), before);
});

test('a hand-off between two kept continuations records states only: no park, unpark or stack pointer', async () => {
  const before = liveContinuations();
  const h = recordingHost();
  const sw = new Switcher<string>(h.host, 'main');
  h.setSwitcher(sw);
  const a = sw.create('a', makeRegion(1024, 4096));
  const b = sw.create('b', makeRegion(8192, 4096));
  // main starts a; a parks kept and starts b; b parks kept back to a.
  sw.switchFrom(sw.main, a, 1);
  await Promise.resolve();
  const aParked = sw.switchFrom(a, b, 2, 4000);
  await Promise.resolve();
  const bParked = sw.switchFrom(b, a, 3, 12_000);
  assert.equal(await aParked, a.id);
  assert.equal(sw.resumed(a, 60_000), 3);

  // a hands off to b: nothing but states.
  const counts = [h.log.length, h.parked.length, h.unparked.length];
  const aAgain = sw.handOff(a, b, 3900);
  assert.equal(await bParked, b.id);
  assert.deepEqual([h.log.length, h.parked.length, h.unparked.length], counts);
  assert.equal(a.state, 'suspended');
  assert.equal(a.keptSp, true);
  assert.equal(a.sp, 3900);
  assert.equal(b.state, 'running');
  assert.equal(b.keptSp, false);
  assert.equal(sw.current, b);

  // Refused: to a running continuation, from a suspended one, to one not parked kept.
  assert.throws(() => sw.handOff(b, b, 0), /cannot hand off to a running/);
  assert.throws(() => sw.handOff(a, b, 0), /cannot hand off from a suspended/);
  const c = sw.create('c', makeRegion(16_384, 4096));
  assert.throws(() => sw.handOff(b, c, 0), /cannot hand off to a new/);

  // b goes back to a the ordinary way; a resumes kept.
  sw.switchFrom(b, a, 4, 12_000);
  assert.equal(await aAgain, a.id);
  assert.equal(sw.resumed(a, 60_000), 4);
  for (const x of [b, c]) sw.discard(x);
  sw.finishFrom(a, sw.main, 0);
  sw.exited(a);
  sw.close();
  assert.equal(liveContinuations(), before);
});
