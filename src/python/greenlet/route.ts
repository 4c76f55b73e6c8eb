import { op } from "../../engine/index.ts";
import { CB, OBJ_SLOT_BITS, ROUTE_JS } from "./control.ts";
import { MORTAL_LIMIT } from "./pyapi.ts";
import type { TstateLayout } from "./tstate-layout.ts";

/**
 * The wasm route of `greenlet.switch`: the common switch, from one region
 * stack to another of the same thread, decided and carried out in the switch
 * method's stub from control blocks (control.ts), with one JS call: the
 * Suspending `handOff` that records the switch in the engine and wakes the
 * target. Anything it does not cover takes the JS route (`fast`, host.ts),
 * which stays the reference; both leave the same state behind.
 *
 *   route taken when: no kill/tracer pending (killFlag 0), no keywords, at most
 *   one argument, Pyodide may suspend (suspender flag), the running block
 *   `run` is set and its TSTATE is the current thread state, the object table
 *   maps `self` (at its slot or the next) to a block (a greenlet's, or for the
 *   thread's main greenlet the running greenlet's MAIN if its GEN still
 *   matches), that block is not the running one, is PARKED and of the same
 *   THREAD, neither thread state has a profile or trace function, a greenlet
 *   target sees the same running asyncio loop, and dropping the running
 *   greenlet's object reference cannot free it.
 *
 *   A captureThreadState failure after that (Pyodide had no task to hand back
 *   to, which its suspender flag rules out) traps through noThreadState, as on
 *   the JS route.
 *
 *   then: payload = args[0] or (), +1 reference; running greenlet's object -1;
 *   target MAIN/MAIN_GEN join the running stack's main instance; target
 *   PAYLOAD, ROUTE = 0, PARKED = 0; running block PARKED = 1, ROUTE = 1;
 *   run = 0; park kept (save SP, captureThreadState, SP = OUTER); handOff.
 *
 * On resuming from a kept park (either route) with its block `me`:
 *   out = SP; SP = saved; restoreThreadState(saved ts)
 *   me.ROUTE == 0: me.OUTER = out; suspender = 1; run = me;
 *                  greenlet object +1 reference; result = me.PAYLOAD
 *   else:          result = after(id, out)           -- the JS route's resume
 */

/** Function indices, global indices and constants the route's code refers to. */
export interface RouteRefs {
  handOff: number;
  tstateGet: number;
  incref: number;
  capture: number;
  restore: number;
  noThreadState: number;
  after: number;
  /** Imported globals: kills pending, Pyodide's __stack_pointer. */
  killFlag: number;
  sp: number;
  /** Addresses of i32s in linear memory: Pyodide's suspender flag, the running block. */
  suspender: number;
  run: number;
  table: number;
  emptyTuple: number;
  layout: Pick<TstateLayout, "profileFunc" | "traceFunc" | "runningLoop">;
}

/** Locals of the stub the route's code uses (indices). */
export interface RouteLocals {
  from: number;
  target: number;
  payload: number;
  t: number;
  me: number;
  sp: number;
  ts: number;
  id: number;
  out: number;
  res: number;
}

const VOID = 0x40;
const BLOCK = [0x02, VOID];
const IF = [0x04, VOID];
const ELSE = [0x05];
const END = [0x0b];
const RETURN = [0x0f];
const brIf = (depth: number) => [0x0d, depth];
const I32_EQZ = [0x45];
const I32_NE = [0x47];
const I32_EQ = [0x46];
const I32_GT_U = [0x4b];
const I32_GE_U = [0x4f];
const I32_LT_U = [0x49];
const I32_ADD = [0x6a];
const I32_SUB = [0x6b];
const I32_AND = [0x71];
const I32_OR = [0x72];
const I32_XOR = [0x73];
const I32_SHL = [0x74];
const I32_SHR_U = [0x76];
const SELECT = [0x1b];

const c32 = (v: number) => op.i32Const(v | 0);
/** local.field */
const ld = (local: number, field: number) => [...op.localGet(local), ...op.i32Load(field)];
/** local.field = value */
const st = (local: number, field: number, value: number[]) => [...op.localGet(local), ...value, ...op.i32Store(field)];

/**
 * `block $js ... end`: falls out of the block (to the JS route that follows)
 * when the switch is not covered; otherwise switches, resumes, runs `tail`
 * (with the result in `L.res`) and returns the result.
 */
export function wasmRoute(r: RouteRefs, L: RouteLocals, self: number, args: number, nargsf: number, kwnames: number, tail: number[]): number[] {
  const { profileFunc, traceFunc, runningLoop } = r.layout;
  const js = (depth: number) => brIf(depth);
  return [
    ...BLOCK,
    ...op.globalGet(r.killFlag), ...js(0),
    ...op.localGet(kwnames), ...js(0),
    ...op.localGet(nargsf), ...c32(0x7fffffff), ...I32_AND, ...c32(1), ...I32_GT_U, ...js(0),
    ...c32(r.suspender), ...op.i32Load(0), ...I32_EQZ, ...js(0),
    ...c32(r.run), ...op.i32Load(0), ...op.localTee(L.from), ...I32_EQZ, ...js(0),
    ...ld(L.from, CB.TSTATE), ...op.call(r.tstateGet), ...I32_NE, ...js(0),
    // the table entry of self: its slot or the next one
    ...entryAt(r.table, self, 0), ...op.localTee(L.t), ...op.i32Load(0), ...op.localGet(self), ...I32_NE, ...IF,
      ...entryAt(r.table, self, 1), ...op.localTee(L.t), ...op.i32Load(0), ...op.localGet(self), ...I32_NE, ...js(1),
    ...END,
    ...ld(L.t, 4), ...op.localTee(L.target), ...c32(1), ...I32_AND, ...IF,
      // a main greenlet object: the running greenlet's main instance, if it is this thread's
      ...op.localGet(L.target), ...c32(1), ...I32_SHR_U, ...ld(L.from, CB.THREAD), ...I32_NE, ...js(1),
      ...ld(L.from, CB.KIND), ...js(1),
      ...ld(L.from, CB.MAIN), ...op.localTee(L.target), ...I32_EQZ, ...js(1),
      ...ld(L.target, CB.GEN), ...ld(L.from, CB.MAIN_GEN), ...I32_NE, ...js(1),
    ...END,
    ...op.localGet(L.target), ...op.localGet(L.from), ...I32_EQ, ...js(0),
    ...ld(L.target, CB.PARKED), ...I32_EQZ, ...js(0),
    ...ld(L.target, CB.THREAD), ...ld(L.from, CB.THREAD), ...I32_NE, ...js(0),
    // no profile or trace function on either thread state
    ...ld(L.from, CB.TSTATE), ...op.i32Load(profileFunc), ...ld(L.from, CB.TSTATE), ...op.i32Load(traceFunc), ...I32_OR,
    ...ld(L.target, CB.TSTATE), ...op.i32Load(profileFunc), ...I32_OR, ...ld(L.target, CB.TSTATE), ...op.i32Load(traceFunc), ...I32_OR,
    ...js(0),
    // a greenlet target already sees the running asyncio loop
    ...ld(L.target, CB.KIND), ...I32_EQZ, ...IF,
      ...ld(L.target, CB.TSTATE), ...op.i32Load(runningLoop), ...ld(L.from, CB.TSTATE), ...op.i32Load(runningLoop), ...I32_NE, ...js(1),
    ...END,
    // the last check: dropping the running greenlet's reference must not free
    // its object. From the drop on the switch is committed; nothing falls back.
    ...ld(L.from, CB.KIND), ...I32_EQZ, ...IF,
      ...ld(L.from, CB.OBJ), ...op.localTee(L.t), ...IF,
        ...op.localGet(L.t), ...op.i32Load(0), ...c32(2), ...I32_SUB, ...c32(MORTAL_LIMIT - 2), ...I32_GE_U, ...js(2),
        ...st(L.t, 0, [...op.localGet(L.t), ...op.i32Load(0), ...c32(1), ...I32_SUB]),
      ...END,
    ...END,
    ...op.localGet(nargsf), ...c32(0x7fffffff), ...I32_AND, ...IF,
      ...op.localGet(args), ...op.i32Load(0), ...op.localSet(L.payload),
    ...ELSE,
      ...c32(r.emptyTuple), ...op.localSet(L.payload),
    ...END,
    ...op.localGet(L.payload), ...op.call(r.incref),
    ...ld(L.target, CB.KIND), ...I32_EQZ, ...IF,
      ...st(L.target, CB.MAIN, [...op.localGet(L.from), ...ld(L.from, CB.MAIN), ...ld(L.from, CB.KIND), ...SELECT]),
      ...st(L.target, CB.MAIN_GEN, [...ld(L.from, CB.GEN), ...ld(L.from, CB.MAIN_GEN), ...ld(L.from, CB.KIND), ...SELECT]),
    ...END,
    ...st(L.target, CB.PAYLOAD, op.localGet(L.payload)),
    ...st(L.target, CB.ROUTE, c32(0)),
    ...st(L.target, CB.PARKED, c32(0)),
    ...st(L.from, CB.PARKED, c32(1)),
    ...st(L.from, CB.ROUTE, c32(ROUTE_JS)),
    ...c32(r.run), ...c32(0), ...op.i32Store(0),
    ...op.localGet(L.from), ...op.localSet(L.me),
    ...op.globalGet(r.sp), ...op.localSet(L.sp),
    ...captureOrTrap(r, L),
    ...enterOuter(r, L),
    ...ld(L.from, CB.INDEX), ...ld(L.target, CB.INDEX), ...op.localGet(L.sp), ...op.call(r.handOff), ...op.localSet(L.id),
    ...resumeKept(r, L),
    ...tail,
    ...op.localGet(L.res), ...RETURN,
    ...END,
  ];
}

/** Address of the object table's entry `objSlot(self) + k` (modulo its size). */
function entryAt(table: number, self: number, k: number): number[] {
  return [
    ...c32(table),
    ...op.localGet(self), ...c32(4), ...I32_SHR_U, ...op.localGet(self), ...c32(14), ...I32_SHR_U, ...I32_XOR,
    ...(k ? [...c32(k), ...I32_ADD] : []),
    ...c32((1 << OBJ_SLOT_BITS) - 1), ...I32_AND, ...c32(3), ...I32_SHL, ...I32_ADD,
  ];
}

/** L.ts = captureThreadState(); trap through noThreadState if Pyodide had no task to hand back to. */
export function captureOrTrap(r: Pick<RouteRefs, "capture" | "noThreadState">, L: Pick<RouteLocals, "ts">): number[] {
  return [...op.call(r.capture), ...op.localTee(L.ts), ...I32_EQZ, ...IF, ...op.call(r.noThreadState), ...END];
}

/** Before a kept park suspends: the stack pointer goes back to `L.me`'s OUTER, the stack it runs above. */
export function enterOuter(r: Pick<RouteRefs, "sp">, L: Pick<RouteLocals, "me">): number[] {
  return [...ld(L.me, CB.OUTER), ...op.globalSet(r.sp)];
}

/** After a kept park's suspension returned `L.id`: restore, then resume by the route `L.me`'s block says; result in `L.res`. */
export function resumeKept(r: RouteRefs, L: RouteLocals): number[] {
  return [
    ...op.globalGet(r.sp), ...op.localSet(L.out),
    ...op.localGet(L.sp), ...op.globalSet(r.sp),
    ...op.localGet(L.ts), ...op.call(r.restore),
    ...ld(L.me, CB.ROUTE), ...I32_EQZ, ...IF,
      ...st(L.me, CB.OUTER, op.localGet(L.out)),
      ...c32(r.suspender), ...c32(1), ...op.i32Store(0),
      ...c32(r.run), ...op.localGet(L.me), ...op.i32Store(0),
      ...ld(L.me, CB.KIND), ...I32_EQZ, ...IF,
        ...ld(L.me, CB.OBJ), ...op.localTee(L.t), ...IF,
          ...op.localGet(L.t), ...op.i32Load(0), ...c32(1), ...I32_SUB, ...c32(MORTAL_LIMIT - 1), ...I32_LT_U, ...IF,
            ...st(L.t, 0, [...op.localGet(L.t), ...op.i32Load(0), ...c32(1), ...I32_ADD]),
          ...ELSE,
            ...op.localGet(L.t), ...op.call(r.incref),
          ...END,
        ...END,
      ...END,
      ...ld(L.me, CB.PAYLOAD), ...op.localSet(L.res),
    ...ELSE,
      ...op.localGet(L.id), ...op.localGet(L.out), ...op.call(r.after), ...op.localSet(L.res),
    ...END,
  ];
}
