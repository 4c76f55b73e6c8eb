/**
 * The WASIX context API (`wasix_32v1.context_create/switch/destroy`) on the
 * engine's JSPI continuations, with Wasmer's semantics
 * (lib/wasix/src/syscalls/wasix/context_*.rs, state/context_switching.rs):
 *
 * - main has id 0; new contexts get ids 1, 2, … (never reused), written as a
 *   little-endian u64 at `id_out_ptr`;
 * - `context_create` checks that the table entry has type `() -> ()` (EINVAL
 *   otherwise, or for an index past the table, or a null entry); the context
 *   starts on the first switch to it;
 * - switching to the active context returns 0 at once; to an unknown, deleted,
 *   terminated (or any non-suspended) context: EINVAL;
 * - destroying main or the active context: EINVAL; an unknown or already
 *   deleted id: 0 (no-op); a suspended context is cancelled: its stack is
 *   resumed into a trap that no guest code can catch, and its region freed;
 * - an entrypoint that returns, traps or throws (e.g. `proc_exit` inside a
 *   context) terminates the context and resumes main, where the error is
 *   re-raised: the runner turns it into exit code 129 (return), the exit code
 *   (`proc_exit`) or a rejected promise (trap).
 *
 * Errno discrepancy (documented in wasix/context.h vs Wasmer): without an
 * environment Wasmer returns EAGAIN from switch/destroy where the header says
 * ENOTSUP. Here an environment always exists, so neither is ever returned.
 * A bad `id_out_ptr` gives EFAULT (Wasmer reports a memory error).
 *
 * Each context runs on its own C-stack region (stacks.ts): the guest's
 * `__stack_pointer` is saved and restored by the engine's park/unpark.
 */
import { encodeModule, op, Switcher, promising, suspending, ValType, type Continuation, type SwitchHost } from "../engine/index.ts";
import type { FuncType, StackRegion } from "../engine/index.ts";
import { Errno } from "./defs.ts";
import { ContextEntrypointReturnedError } from "./errors.ts";
import { StackOverflowError, StackPool } from "./stacks.ts";

const { i32: I32, i64: I64 } = ValType;
const VOID: FuncType = { params: [], results: [] };

/** One WASIX context. Main has `id` 0 and no region. */
interface Ctx {
  readonly id: number;
  /** Function-table index of the entrypoint (-1 for main). */
  readonly entry: number;
  readonly region: StackRegion | null;
  cont: Continuation<Ctx>;
  /** Destroyed while suspended: its stack must trap as soon as it resumes. */
  cancelled: boolean;
}

// Switch trampoline, instantiated before the guest (whose `context_switch` import it is):
//   context_switch(id: i64) -> errno
//     r = switch(lo32(id), hi32(id))   ; Suspending. r > 0: resumed, r is our engine id;
//     if r > 0:                        ;   r <= 0: nothing happened, errno is -r
//       e = after(r)                   ; the engine's "after" step (restores the stack pointer)
//       if e < 0: unreachable          ; cancelled by context_destroy: trap, uncatchable
//       return e
//     return -r
let switchModule: WebAssembly.Module | undefined;
function switchTrampoline(): WebAssembly.Module {
  return (switchModule ??= new WebAssembly.Module(
    encodeModule(
      [
        { module: "h", name: "switch", type: { params: [I32, I32], results: [I32] } },
        { module: "h", name: "after", type: { params: [I32], results: [I32] } },
      ],
      [{
        type: { params: [I64], results: [I32] },
        locals: [I32],
        export: "context_switch",
        // prettier-ignore
        body: [
          0x20, 0, 0xa7, 0x20, 0, 0x42, 32, 0x88, 0xa7, 0x10, 0, // switch(lo, hi)
          0x22, 1, 0x41, 0, 0x4a, 0x04, I32,                      // r > 0 ?
          0x20, 1, 0x10, 1, 0x22, 1, 0x41, 0, 0x48,               //   after(r) < 0 ?
          0x04, 0x40, 0x00, 0x0b, 0x20, 1,                        //   unreachable; e
          0x05, 0x41, 0, 0x20, 1, 0x6b, 0x0b,                     // : -r
        ],
      }],
    ),
  ));
}

// Entry trampoline, instantiated after the guest (it imports the guest's table; type 0 is () -> ()):
//   entry(id, fn): enter(id); call_indirect (type 0) fn; leave(id)    ; wrapped with `promising`
//   isVoid(fn) -> i32: ref.test (ref 0) (table.get fn)                 ; the signature check
let entryModule: WebAssembly.Module | undefined;
function entryTrampoline(): WebAssembly.Module {
  return (entryModule ??= new WebAssembly.Module(
    encodeModule(
      [
        { module: "h", name: "enter", type: { params: [I32], results: [] } },
        { module: "h", name: "leave", type: { params: [I32], results: [] } },
      ],
      [
        {
          type: { params: [I32, I32], results: [] },
          export: "entry",
          body: [0x20, 0, 0x10, 0, 0x20, 1, ...op.callIndirect(0, 0), 0x20, 0, 0x10, 1],
        },
        { type: { params: [I32], results: [I32] }, export: "isVoid", body: [0x20, 0, ...op.tableGet(0), ...op.refTest(0)] },
      ],
      [],
      { types: [VOID], tables: [{ module: "g", name: "table" }] },
    ),
  ));
}

/** What the contexts need from the instantiated guest. */
export interface GuestHandles {
  memory: WebAssembly.Memory;
  stackPointer: WebAssembly.Global;
  /** The guest's indirect function table; without one, `context_create` returns EINVAL. */
  table: WebAssembly.Table | undefined;
}

export class WasixContexts {
  private readonly byId = new Map<number, Ctx>();
  /** Main and every context whose stack may still run, keyed by engine id (cancelled ones too, until they settle). */
  private readonly byEngineId = new Map<number, Ctx>();
  private nextId = 1;
  private sw!: Switcher<Ctx>;
  private main!: Ctx;
  private guest!: GuestHandles;
  private pool!: StackPool;
  private entry!: (id: number, fn: number) => Promise<unknown>;
  private isVoid: (fn: number) => number = () => 0;
  /** Failure of a context waiting to be re-raised in main. */
  private fatal: unknown = null;
  private closed = false;
  readonly switchImport: Function;
  private readonly stackSize: number;

  constructor(stackSize: number) {
    this.stackSize = stackSize;
    const t = new WebAssembly.Instance(switchTrampoline(), {
      h: { switch: suspending((lo: number, hi: number) => this.switch(lo >>> 0, hi)) as Function, after: (e: number) => this.after(e) },
    });
    this.switchImport = t.exports["context_switch"] as Function;
  }

  /** The `wasix_32v1` context imports of the guest. */
  imports(): Record<string, Function> {
    return {
      context_create: (idPtr: number, fn: number) => this.create(idPtr >>> 0, fn >>> 0),
      context_switch: this.switchImport,
      context_destroy: (id: bigint) => this.destroy(id),
    };
  }

  /** Connect to the instantiated guest; the caller (main's stack) becomes context 0. */
  attach(guest: GuestHandles): void {
    this.guest = guest;
    this.pool = new StackPool(guest.memory, this.stackSize);
    const sp = guest.stackPointer;
    const host: SwitchHost<Ctx> = {
      getSp: () => sp.value as number,
      setSp: (v) => { sp.value = v; },
      park: () => {},
      unpark: () => {},
      start: (c) => this.entry(c.id, c.data.entry),
      settled: (c, err) => this.settled(c, err),
    };
    this.main = { id: 0, entry: -1, region: null, cancelled: false } as Ctx;
    this.sw = new Switcher(host, this.main);
    this.main.cont = this.sw.main;
    this.byId.set(0, this.main);
    this.byEngineId.set(this.main.cont.id, this.main);
    if (guest.table) {
      const t = new WebAssembly.Instance(entryTrampoline(), {
        g: { table: guest.table },
        h: { enter: (e: number) => this.enter(e), leave: (e: number) => this.leave(e) },
      });
      this.entry = promising(t.exports["entry"] as Function);
      const probe = t.exports["isVoid"] as (fn: number) => number;
      const table = guest.table;
      this.isVoid = (fn) => (fn < table.length ? probe(fn) : 0);
    }
  }

  private create(idPtr: number, fn: number): number {
    if (this.isVoid(fn) !== 1) return Errno.INVAL;
    const view = new DataView(this.guest.memory.buffer);
    if (idPtr + 8 > view.byteLength) return Errno.FAULT;
    const region = this.pool.alloc();
    if (!region) return Errno.NOMEM;
    const ctx = { id: this.nextId++, entry: fn, region, cancelled: false } as Ctx;
    ctx.cont = this.sw.create(ctx, region);
    this.byId.set(ctx.id, ctx);
    this.byEngineId.set(ctx.cont.id, ctx);
    new DataView(this.guest.memory.buffer).setBigUint64(idPtr, BigInt(ctx.id), true);
    return Errno.SUCCESS;
  }

  /** Suspending import: a promise of our engine id when a switch happens, else -errno. */
  private switch(lo: number, hi: number): Promise<number> | number {
    const cur = this.sw.current.data;
    const target = hi === 0 ? this.byId.get(lo) : undefined;
    if (target === cur) return 0;
    if (!target) return -Errno.INVAL;
    const state = target.cont.state;
    if (state !== "new" && state !== "suspended") return -Errno.INVAL;
    this.checkStack(cur);
    return this.sw.switchTo(target.cont, 0);
  }

  /** The switch trampoline's "after": `e` is the resumed continuation's engine id. */
  private after(e: number): number {
    const ctx = this.byEngineId.get(e);
    if (!ctx || ctx.cancelled) return -1;
    this.sw.resumed(ctx.cont);
    if (ctx === this.main && this.fatal !== null) {
      const err = this.fatal;
      this.fatal = null;
      throw err;
    }
    return Errno.SUCCESS;
  }

  private enter(e: number): void {
    this.sw.entered(this.byEngineId.get(e)!.cont);
  }

  /** The entrypoint returned: terminate the context, resume main with the error. */
  private leave(e: number): void {
    const ctx = this.byEngineId.get(e)!;
    try {
      this.checkStack(ctx);
      this.fatal ??= new ContextEntrypointReturnedError(ctx.id);
    } catch (err) {
      this.fatal ??= err;
    }
    this.sw.finishTo(this.main.cont, 0);
    this.sw.exited(ctx.cont);
  }

  /** A context's promising call settled: after `leave` (no error), a cancellation, or a failure. */
  private settled(c: Continuation<Ctx>, err: unknown): void {
    const ctx = c.data;
    this.byEngineId.delete(c.id);
    if (ctx.cancelled || err === undefined || this.closed) return;
    // Trap, proc_exit or a host error on the context's stack: re-raise it in main.
    this.fatal ??= err;
    if (this.main.cont.state === "suspended") this.sw.recover(this.main.cont, 0);
  }

  private destroy(idArg: bigint): number {
    const id = BigInt.asUintN(64, idArg);
    if (id === 0n) return Errno.INVAL;
    const ctx = id < 2n ** 32n ? this.byId.get(Number(id)) : undefined;
    if (!ctx) return Errno.SUCCESS; // deleted or never created: a no-op
    if (ctx === this.sw.current.data) return Errno.INVAL;
    this.byId.delete(ctx.id);
    this.drop(ctx);
    return Errno.SUCCESS;
  }

  /** Forget a non-active context and free its region. */
  private drop(ctx: Ctx): void {
    const c = ctx.cont;
    if (c.state === "new") {
      this.byEngineId.delete(c.id);
      this.sw.discard(c);
    } else if (c.state === "suspended") {
      const resume = c.resolve;
      ctx.cancelled = true;
      this.sw.discard(c);
      resume?.(c.id); // its `after` sees `cancelled` and the trampoline traps
    }
    if (ctx.region) this.pool.release(ctx.region);
  }

  /** Throw StackOverflowError if `ctx` (not main) has overflowed its region. */
  private checkStack(ctx: Ctx): void {
    if (!ctx.region) return;
    const why = this.pool.damage(ctx.region, this.guest.stackPointer.value as number);
    if (why) {
      throw new StackOverflowError(
        `WASIX context ${ctx.id} overflowed its ${this.stackSize}-byte C stack (${why}); ` +
          "memory below it may be corrupted. Raise the stack size (runWasix `stackSize`, CLI --stack-size).",
      );
    }
  }

  /** Number of contexts that exist (not destroyed), main excluded. */
  get size(): number {
    return this.byId.size - 1;
  }

  /** End of the program: cancel every remaining context and forget main. Idempotent. */
  close(): void {
    if (this.closed || !this.sw) return;
    this.closed = true;
    for (const ctx of this.byId.values()) if (ctx !== this.main && ctx.cont.state !== "running") this.drop(ctx);
    this.byId.clear();
    this.byEngineId.delete(this.main.cont.id);
    this.sw.close();
  }
}
