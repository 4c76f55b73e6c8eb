// The JSPI floor of the greenlet bench: two wasm stacks that only ping-pong.
//
// Each stack loops calling one `WebAssembly.Suspending` import; the import parks the
// caller on a fresh promise and resolves the other stack's, which is what every
// greenwasm switch does underneath (src/engine/continuation.ts) without any Python,
// thread state or C stack work. µs per round trip (two switches).

import { encodeModule, op, promising, suspending, ValType } from '../src/engine/index.ts';

/**
 * Two stacks taking turns through one Suspending import: each call parks its caller on a
 * fresh promise and wakes the other stack. After `arm(total)`, the total-th call wakes the
 * other stack without parking its caller, so both can end.
 */
export function pingPong(): { sw: (x: number) => Promise<number>; arm(total: number): void } {
  const parked: (((v: number) => void) | null)[] = [null, null];
  let cur = 0;
  let left = Infinity;
  return {
    sw(x) {
      const me = cur;
      const other = 1 - me;
      cur = other;
      left--;
      const wake = parked[other];
      parked[other] = null;
      const p = left > 0 ? new Promise<number>((r) => (parked[me] = r)) : Promise.resolve(x);
      wake?.(x);
      return p;
    },
    arm(total) {
      cur = 0;
      left = total;
      parked[0] = parked[1] = null;
    },
  };
}

/** µs per round trip, over `rounds` round trips (one sample). */
export async function jspiPingPongRoundTrip(rounds: number): Promise<number> {
  const t = { params: [ValType.i32], results: [ValType.i32] };
  // loop: sw(n); n -= 1; br_if n
  const body = [0x03, 0x40, ...op.localGet(0), ...op.call(0), 0x1a, ...op.localGet(0), ...op.i32Const(1), 0x6b, 0x22, 0, 0x0d, 0, 0x0b, ...op.i32Const(0)];
  const mod = new WebAssembly.Module(encodeModule([{ module: 'm', name: 'sw', type: t }], [{ type: t, body, export: 'run' }]) as BufferSource);
  const { sw } = pingPong();
  const inst = new WebAssembly.Instance(mod, { m: { sw: suspending(sw) as Function } });
  const run = promising<[number], number>(inst.exports['run'] as Function);
  const t0 = performance.now();
  const a = run(rounds); // parks at its first switch; the second stack then ping-pongs with it
  const b = run(rounds + 1);
  await Promise.race([a, b]);
  // The other stack stays parked on a promise nobody resolves: it is collected with it.
  return ((performance.now() - t0) * 1000) / rounds;
}
