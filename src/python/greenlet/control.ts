import type { PyApi } from "./pyapi.ts";
import type { Cont } from "./types.ts";

/**
 * Control blocks: the part of a region continuation's state that the wasm
 * switch route (trampoline.ts) reads and writes without calling JS, and the
 * table that finds a greenlet's block from its object.
 *
 * Cross-language contract (wasm32, every field an i32):
 *
 *   control block, CB_SIZE bytes per region continuation (greenlets, thread entries)
 *     +0  PARKED    1: suspended by a kept park, may be resumed by the wasm route
 *     +4  THREAD    greenlet thread token (the switcher)
 *     +8  OBJ       greenlet object (borrowed; 0 for main instances or once forgotten)
 *     +12 TSTATE    its PyThreadState
 *     +16 MAIN      greenlet: the block of the main instance it last joined (0: none,
 *                   or one without a block: then `ContData.mainInst` says), valid
 *                   only while that block's GEN equals MAIN_GEN
 *     +20 MAIN_GEN
 *     +24 OUTER     the stack pointer found when it last resumed (authoritative)
 *     +28 PAYLOAD   the value a wasm-route switch delivered (owned by the resumed stack)
 *     +32 ROUTE     how its pending resume goes: 0 the wasm route set it up, 1 JS (`after`)
 *     +36 INDEX     its index in the host's table of blocks
 *     +40 KIND      0 greenlet, 1 main instance
 *     +44 GEN       bumped each time the block is released
 *
 *   object table at `table`: OBJ_SLOTS entries of [obj, value]; obj sits at slot
 *     objSlot(obj) or the next one (modulo OBJ_SLOTS); value = block address (a
 *     greenlet), or (token << 1) | 1 for a thread's main greenlet object. When both
 *     slots are taken by other objects, the first is evicted; a miss takes the JS route.
 *
 * Invariants:
 * - PARKED is 1 exactly while the continuation is suspended with `keptSp`.
 * - An entry [obj, v] exists only while the host maps obj the same way
 *   (`byObj`, or `GreenThread.mainObj`).
 * - Blocks are pooled and never returned to malloc, so a stale MAIN always
 *   points at a block; its GEN tells whether it is still the same continuation.
 */
export const CB = {
  PARKED: 0, THREAD: 4, OBJ: 8, TSTATE: 12, MAIN: 16, MAIN_GEN: 20, OUTER: 24, PAYLOAD: 28, ROUTE: 32, INDEX: 36, KIND: 40, GEN: 44,
} as const;
export const CB_SIZE = 48;
export const KIND_GREENLET = 0;
export const KIND_MAIN = 1;
export const ROUTE_WASM = 0;
export const ROUTE_JS = 1;
export const OBJ_SLOT_BITS = 10;
const OBJ_SLOTS = 1 << OBJ_SLOT_BITS;
/** Blocks malloc'd at a time. */
const CHUNK = 64;

/** The table slot of object `obj` (the wasm route computes the same: ((obj >>> 4) ^ (obj >>> 14)) & (OBJ_SLOTS - 1)). */
export function objSlot(obj: number): number {
  return ((obj >>> 4) ^ (obj >>> 14)) & (OBJ_SLOTS - 1);
}

export class ControlBlocks {
  /** Address of the object table. */
  readonly table: number;
  /** Address of the i32 holding the running region stack's block (0: none known; see running.ts). */
  readonly runningAt: number;
  readonly #api: PyApi;
  readonly #conts: (Cont | null)[] = [];
  readonly #addr: number[] = [];
  readonly #free: number[] = [];

  constructor(api: PyApi) {
    this.#api = api;
    const bytes = 8 * OBJ_SLOTS + 4;
    this.table = api.m._malloc(bytes); // lives as long as the interpreter, like the trampolines
    if (!this.table) throw new Error("greenlet: cannot allocate the object table");
    api.m.HEAPU8.fill(0, this.table, this.table + bytes);
    this.runningAt = this.table + 8 * OBJ_SLOTS;
  }

  /** The running region stack's block, 0 if none is known. */
  get running(): number {
    return this.#api.i32[this.runningAt >>> 2]!;
  }

  set running(cb: number) {
    this.#api.i32[this.runningAt >>> 2] = cb;
  }

  /** Give region continuation `c` a block (recorded in `c.data.cb`). */
  attach(c: Cont): number {
    let i = this.#free.pop();
    if (i === undefined) {
      const chunk = this.#api.m._malloc(CB_SIZE * CHUNK);
      if (!chunk) throw new Error("greenlet: cannot allocate control blocks");
      this.#api.m.HEAPU8.fill(0, chunk, chunk + CB_SIZE * CHUNK);
      i = this.#addr.length;
      for (let k = CHUNK - 1; k > 0; k--) this.#free.push(i + k);
      for (let k = 0; k < CHUNK; k++) this.#addr.push(chunk + k * CB_SIZE);
    }
    const cb = this.#addr[i]!;
    this.#conts[i] = c;
    c.data.cb = cb;
    const H = this.#api.i32;
    const at = cb >>> 2;
    const gen = H[at + CB.GEN / 4]!;
    H.fill(0, at, at + CB_SIZE / 4);
    H[at + CB.GEN / 4] = gen;
    H[at + CB.INDEX / 4] = i;
    H[at + CB.THREAD / 4] = c.data.thread.token;
    H[at + CB.KIND / 4] = c.data.kind === "main" ? KIND_MAIN : KIND_GREENLET;
    H[at + CB.OBJ / 4] = c.data.obj;
    H[at + CB.TSTATE / 4] = c.data.tstate;
    H[at + CB.OUTER / 4] = c.outerSp;
    H[at + CB.ROUTE / 4] = ROUTE_JS;
    return cb;
  }

  /** `c` is gone: its block goes back to the pool with a new generation. */
  release(c: Cont): void {
    const cb = c.data.cb;
    if (!cb) return;
    const H = this.#api.i32;
    const at = cb >>> 2;
    const i = H[at + CB.INDEX / 4]!;
    H[at + CB.PARKED / 4] = 0;
    H[at + CB.OBJ / 4] = 0;
    H[at + CB.GEN / 4] = (H[at + CB.GEN / 4]! + 1) | 0;
    // A stack that failed while running never parked: it is not running any more.
    if (H[this.runningAt >>> 2] === cb) H[this.runningAt >>> 2] = 0;
    this.#conts[i] = null;
    this.#free.push(i);
    c.data.cb = 0;
  }

  /** The continuation of a live block. */
  contOf(cb: number): Cont {
    return this.#conts[this.#api.i32[(cb + CB.INDEX) >>> 2]!]!;
  }

  contAt(index: number): Cont {
    return this.#conts[index]!;
  }

  /** Blocks in use (leak checks). */
  get live(): number {
    return this.#addr.length - this.#free.length;
  }

  get(c: Cont, field: number): number {
    return this.#api.i32[(c.data.cb + field) >>> 2]!;
  }

  set(c: Cont, field: number, v: number): void {
    if (c.data.cb) this.#api.i32[(c.data.cb + field) >>> 2] = v;
  }

  /** The main instance greenlet `g` last joined: its block's if still the same continuation, else the JS field. */
  mainInstOf(g: Cont): Cont | null {
    const cb = g.data.cb;
    if (!cb) return g.data.mainInst;
    const H = this.#api.i32;
    const main = H[(cb + CB.MAIN) >>> 2]!;
    if (main === 0) return g.data.mainInst;
    return H[(main + CB.GEN) >>> 2] === H[(cb + CB.MAIN_GEN) >>> 2] ? this.contOf(main) : null;
  }

  /** Record that greenlet `g` joined main instance `main` (or none). */
  setMainInst(g: Cont, main: Cont | null): void {
    g.data.mainInst = main;
    const cb = g.data.cb;
    if (!cb) return;
    const H = this.#api.i32;
    const m = main?.data.cb ?? 0;
    H[(cb + CB.MAIN) >>> 2] = m;
    H[(cb + CB.MAIN_GEN) >>> 2] = m ? H[(m + CB.GEN) >>> 2]! : 0;
  }

  /** Map object `obj` to `value` (a block address, or (token << 1) | 1 for a main greenlet object). */
  mapObj(obj: number, value: number): void {
    const H = this.#api.i32;
    const [a, b] = this.#entries(obj);
    const o = obj | 0;
    // Its own entry if it has one (never two entries for one object), else a free one, else evict `a`.
    const at = H[a] === o ? a : H[b] === o ? b : H[a] === 0 ? a : H[b] === 0 ? b : a;
    H[at] = obj;
    H[at + 1] = value;
  }

  unmapObj(obj: number): void {
    const H = this.#api.i32;
    for (const at of this.#entries(obj)) if (H[at] === (obj | 0)) H[at] = H[at + 1] = 0;
  }

  /** Indices (in i32 words) of the two entries where `obj` may sit. */
  #entries(obj: number): [number, number] {
    const s = objSlot(obj);
    const base = this.table >>> 2;
    return [base + 2 * s, base + 2 * ((s + 1) & (OBJ_SLOTS - 1))];
  }
}
