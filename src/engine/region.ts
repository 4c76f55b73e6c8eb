/**
 * A region of linear memory used as one continuation's C ("shadow") stack.
 *
 *   high address  top ───────────┐  first stack pointer of the continuation
 *                 │ frames  vvv  │  (the stack grows down)
 *   low address   base ──────────┘  overflow below this corrupts the heap
 *
 * Invariant: `top` is 16-byte aligned (the wasm32 C ABI's stack alignment).
 */
export interface StackRegion {
  readonly base: number;
  readonly top: number;
}

export const STACK_ALIGN = 16;

export function makeRegion(start: number, size: number): StackRegion {
  const base = alignUp(start, STACK_ALIGN);
  const top = alignDown(start + size, STACK_ALIGN);
  if (top - base < 4 * STACK_ALIGN) throw new RangeError(`stack region of ${size} bytes is too small`);
  return { base, top };
}

export function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
export function alignDown(n: number, a: number): number {
  return Math.floor(n / a) * a;
}
