import { Switcher, SwitchError, continuationById, makeRegion } from "../../engine/index.ts";
import type { Continuation, SwitchHost, StackRegion } from "../../engine/index.ts";
import { machineOf } from "../pyodide.ts";
import type { PyodideInternals } from "../pyodide.ts";
import { RunningStack } from "./running.ts";
import { Instances } from "./instances.ts";
import { runThread, startThread } from "./threads.ts";
import type { RunThreadOptions, StartedThread, ThreadOutcome } from "./threads.ts";
export type { RunThreadOptions, StartedThread, ThreadOutcome } from "./threads.ts";
import type { TstateLayout } from "./tstate-layout.ts";
import { buildTrampolines, PARKED, PARKED_KEPT } from "./trampoline.ts";
import type { Trampolines } from "./trampoline.ts";
import { installBuiltins, installMethod } from "./builtins.ts";
import { PyApi } from "./pyapi.ts";
import { ThreadHooks } from "./hooks.ts";
import { Lifecycle } from "./lifecycle.ts";
import { Parking } from "./parking.ts";
import { ControlBlocks, CB } from "./control.ts";
import { moduleBuiltins } from "./module.ts";
import type { ContData, Cont, GreenThread } from "./types.ts";

/**
 * greenlet's host side.
 *
 * - Every greenlet runs on its own JSPI stack, its own C-stack region and its
 *   own PyThreadState.
 * - A greenlet *thread* is named by a token kept in a ContextVar: a runtime
 *   entry (`runThread`) starts a new one, asyncio tasks inherit it, plain
 *   Pyodide entries share token 0. All greenlets of a thread share one engine
 *   Switcher and one main greenlet object.
 * - A host stack that runs Python outside any greenlet (a runtime entry, or a
 *   Pyodide task such as an asyncio step) is a *main instance* of its thread.
 *   Each greenlet remembers the main instance whose activity it last joined
 *   (`mainInst`, handed along on every switch into it); switching to the main
 *   greenlet resumes that instance.
 *
 * Invariants:
 * - The running continuation of a stack is the one whose tstate is current.
 * - While a region stack runs, reading Module.stackStop (Pyodide does so only
 *   when it suspends a stack itself, e.g. time.sleep) hands the shared stack
 *   pointer back to the stack below and yields an empty argument-stack slice;
 *   Pyodide's restore then writes that slice's address to Module.stackStop,
 *   which reactivates the region. Region stacks are never copied.
 * - The host owns one reference to the greenlet object of each running
 *   continuation; it is dropped at park with switching disabled, so a greenlet
 *   freed there defers its kill to the next switch instead of switching from JS.
 * - A switch takes one of two routes. The wasm route (route.ts) covers the
 *   common switch between two region stacks of one thread from their control
 *   blocks (control.ts) and calls JS once, to record it in the engine; the JS
 *   route (`fastSwitch`, the slow path) does everything else. Both leave the
 *   same state: the blocks mirror what the wasm route needs, written by
 *   whoever changes it (`blocks.set`, `setMainInst`, `mapObj`), and a block's
 *   OUTER is the authority for the outer stack pointer of a region stack.
 */

export interface GreenletHostOptions {
  /** Bytes of linear memory reserved as each greenlet's C stack. Default: 131072 (128 KiB). */
  stackSize?: number;
  /** C stack of each runtime thread entry (`runThread`). Default: 1048576 (1 MiB). */
  threadStackSize?: number;
}

export const DEFAULT_GREENLET_STACK_SIZE = 128 * 1024;
export const DEFAULT_THREAD_STACK_SIZE = 1024 * 1024;
export const MODULE_NAME = "_greenwasm_greenlet";

export class GreenletHost {
  readonly m: PyodideInternals;
  readonly api: PyApi;
  readonly layout: TstateLayout;
  readonly stackSize: number;
  readonly threadStackSize: number;
  readonly threads = new Map<number, GreenThread>();
  /** greenlet object -> its continuation (started, not finished). */
  readonly byObj = new Map<number, Cont>();
  /** Which continuation each thread state belongs to; main instances (see instances.ts). */
  readonly instances: Instances;
  readonly tramp: Trampolines;
  /** sys.setprofile / sys.settrace handed along within a thread (see hooks.ts). */
  readonly hooks: ThreadHooks;
  readonly life: Lifecycle;
  /** Host state of the JS route's parks and resumes (parking.ts). */
  readonly parking: Parking;
  private readonly switchHost: SwitchHost<ContData>;
  private nextToken = 1;
  private immediateValue = 0;
  /** Which stack runs now, and the Module.stackStop view (see running.ts). */
  readonly running: RunningStack;
  /** Python callables and objects handed over by `init` (owned). */
  py = { onFinish: 0, slowSwitch: 0, errorType: 0, makeMain: 0, threadMain: 0, threadVar: 0, killPending: 0 };
  /** True while greenlet.settrace has a tracer or kills are pending: every switch takes the Python path. */
  private slow = false;
  private readonly killFlag = new WebAssembly.Global({ value: "i32", mutable: true }, 0);
  private readonly emptyTuple: number;
  /** The trampolines' cell (see trampoline.ts): +0 the stub's stack pointer, +4 the block of a stack parking kept. */
  private readonly cell: number;
  /** Control blocks of region continuations and the object table, for the wasm route (control.ts, route.ts). */
  readonly blocks: ControlBlocks;

  get slowOnly(): boolean {
    return this.slow;
  }
  /** Python sets this when a tracer is installed or kills are pending. */
  set slowOnly(v: boolean) {
    this.slow = v;
    this.killFlag.value = v ? 1 : 0;
  }

  constructor(m: PyodideInternals, layout: TstateLayout, opts: GreenletHostOptions = {}) {
    this.m = m;
    this.api = new PyApi(m);
    this.layout = layout;
    this.stackSize = checkSize("stackSize", opts.stackSize ?? DEFAULT_GREENLET_STACK_SIZE);
    this.threadStackSize = checkSize("threadStackSize", opts.threadStackSize ?? DEFAULT_THREAD_STACK_SIZE);
    this.emptyTuple = m._PyTuple_New(0);
    this.cell = m._malloc(8); // lives as long as the interpreter, like the trampolines
    this.blocks = new ControlBlocks(this.api);
    this.hooks = new ThreadHooks(this.api, layout);
    this.life = new Lifecycle(this);
    this.parking = new Parking(this);
    this.switchHost = {
      getSp: () => m.stackSave(),
      setSp: (sp) => m.stackRestore(sp),
      park: (c) => this.parking.park(c),
      unpark: (c) => this.parking.unpark(c),
      start: (c) => this.life.start(c),
      settled: (c, e) => this.life.settled(c, e),
    };
    this.newThread(0);
    this.running = new RunningStack(m, this.api, this.blocks);
    this.instances = new Instances(this);
    this.tramp = buildTrampolines({
      fast: (s, a, n, k) => this.fastSwitch(s, a, n, k),
      slowSwitch: (s, a, n) => this.slowSwitchBuiltin(s, a, n),
      wait: () => this.takePending(),
      slowFn: () => this.py.slowSwitch,
      slowArgs: (s, a, n, k) => this.slowArgs(s, a, n, k),
      slowDone: (v) => this.slowDone(v),
      killFn: () => {
        this.enterTracing();
        return this.py.killPending;
      },
      emptyTuple: () => this.emptyTuple,
      killDone: (r) => this.killDone(r),
      killFlag: this.killFlag,
      after: (id, outer) => this.after(id, outer),
      ...machineOf(m),
      cell: this.cell,
      capture: m._captureThreadState,
      restore: m._restoreThreadState,
      noThreadState: () => {
        throw new SwitchError("greenlet: no Pyodide task to hand control back to");
      },
      handOff: (from, target, sp) => this.handOff(from, target, sp),
      tstateGet: m._PyThreadState_Get,
      incref: m._Py_IncRef,
      suspender: this.api.suspenderAt,
      run: this.blocks.runningAt,
      table: this.blocks.table,
      emptyTupleAddr: this.emptyTuple,
      layout: layout,
      immediate: () => this.immediateValue,
      enter: (id) => this.life.enter(id),
      startArgs: (id) => this.life.startItem(id, 1),
      startKwargs: (id) => this.life.startItem(id, 2),
      leave: (id, r) => this.life.leave(id, r),
      call: m._PyObject_Call,
      vectorcall: m._PyObject_Vectorcall,
      builtins: moduleBuiltins(this),
    });
    installBuiltins(m, MODULE_NAME, this.tramp.builtins);
  }

  /** Called by `init`: make `switch` a C-level method of the greenlet class. */
  installSwitchMethod(type: number): void {
    installMethod(this.m, type, "switch", this.tramp.switchMethod);
  }

  /** Live state for leak checks. */
  stats(): { greenlets: number; threads: number; mainInstances: number; controlBlocks: number } {
    let mainInstances = 0;
    for (const t of this.threads.values()) mainInstances += t.instances.size;
    return { greenlets: this.byObj.size, threads: this.threads.size, mainInstances, controlBlocks: this.blocks.live };
  }

  // ---- threads -----------------------------------------------------------

  newThread(token = this.nextToken++): GreenThread {
    const switcher = new Switcher<ContData>(this.switchHost, null as unknown as ContData);
    switcher.close(); // greenlet threads use adopted/created continuations only
    const t: GreenThread = { token, switcher, mainObj: 0, instances: new Set(), lastMain: null, hooks: null };
    this.threads.set(token, t);
    return t;
  }

  data(kind: "main" | "greenlet", thread: GreenThread, tstate: number): ContData {
    return {
      kind, thread, tstate, tstateId: 0n, obj: 0, stackState: null, startPayload: 0, block: 0,
      cb: 0, mainInst: null, loop: 0, throwing: false, pendingContext: 0, outcome: null, isolated: false, inherited: null,
    };
  }

  /** The continuation running on the current stack, adopting the stack as a main instance if new. */
  currentCont(): Cont {
    return this.instances.current();
  }

  /** The greenlet thread of the running stack, without adopting the stack (`thread()` builtin, `get_ident`). */
  threadToken(): number {
    return this.instances.threadToken();
  }

  /**
   * Mark a finished thread's main greenlet dead. Cross-language contract with
   * _greenlet.py: the `_gr_state` slot, `_DEAD` = 2. Done as a plain slot store
   * (no Python frame runs): this is called from JS after the thread's stack ended.
   */
  markDead(mainObj: number): void {
    const m = this.m;
    if (!this.deadName) this.deadName = m.stringToNewUTF8("_gr_state");
    const two = this.api.long(2);
    if (m._PyObject_SetAttrString(mainObj, this.deadName, two) !== 0) m._PyErr_Print();
    this.api.decref(two);
  }

  private deadName = 0;

  /** The thread's main greenlet object, created by Python on first use (new reference). */
  mainObject(thread: GreenThread): number {
    if (!thread.mainObj) {
      const obj = this.api.callNoSwitch(this.py.makeMain, this.api.tuple1(this.api.long(thread.token)));
      if (!obj) return 0;
      thread.mainObj = obj >>> 0; // owned by the thread; unsigned like pointers read from memory
      this.blocks.mapObj(thread.mainObj, (thread.token << 1) | 1);
    }
    return this.api.newRef(thread.mainObj);
  }

  /**
   * The continuation a switch to `obj` resumes, seen from `from`: a greenlet's
   * own continuation, or for the main greenlet the main instance `from` works for.
   */
  resolveTarget(obj: number, from: Cont): Cont | null {
    const g = this.byObj.get(obj);
    if (g) return g;
    const thread = from.data.thread;
    if (obj !== thread.mainObj) return null;
    if (from.data.kind === "main") return from;
    const mine = this.blocks.mainInstOf(from);
    if (mine && mine.state === "suspended") return mine;
    const last = thread.lastMain;
    return last && last.state === "suspended" ? last : null;
  }

  /**
   * A greenlet `target` that `from` switches to joins the activity of the main
   * instance `from` works for, and will see `from`'s running asyncio loop.
   */
  join(from: Cont, target: Cont): void {
    if (target.data.kind !== "greenlet") return;
    this.blocks.setMainInst(target, from.data.kind === "main" ? from : this.blocks.mainInstOf(from));
    target.data.loop = this.parking.loopOf(from.data.tstate);
  }

  // ---- switching ---------------------------------------------------------

  /** The C-level `greenlet.switch(value)` / `switch()` fast path; 0 sends the call to Python. */
  private fastSwitch(self: number, args: number, nargsf: number, kwnames: number): number {
    // wasm i32 parameters arrive signed: addresses >= 2 GiB are negative here.
    self >>>= 0;
    args >>>= 0;
    const nargs = nargsf & 0x7fffffff;
    if (this.slow || kwnames !== 0 || nargs > 1 || !this.api.canSuspend) return 0;
    const from = this.currentCont();
    const target = this.resolveTarget(self, from);
    if (!target || target === from || target.state !== "suspended" || target.switcher !== from.switcher) return 0;
    const H = this.api.i32;
    // greenlet packs switch(x) as x and switch() as ().
    const value = nargs === 1 ? H[args >>> 2]! >>> 0 : this.emptyTuple;
    this.api.retain(value, H);
    return this.transfer(from, target, value, false);
  }

  /**
   * The argument vector `[self, *args, *kwvalues]` for the slow path. Through
   * the method descriptor it already sits at `args - 4`; otherwise it is
   * copied to a malloc'd vector that `slowDone` frees after the call.
   */
  private slowArgs(self: number, args: number, nargsf: number, kwnames: number): number {
    self >>>= 0;
    args >>>= 0;
    this.enterTracing();
    const H = this.m.HEAPU32;
    if (H[(args >>> 2) - 1] === self) return args - 4;
    const n = (nargsf & 0x7fffffff) + (kwnames ? this.m._PyTuple_Size(kwnames) : 0);
    const v = this.m._malloc(4 * (n + 1));
    H[v >>> 2] = self;
    this.m.HEAPU8.copyWithin(v + 4, args, args + 4 * n);
    this.scratch.add(v);
    return v;
  }

  private killDone(r: number): void {
    this.leaveTracing();
    if (r) this.api.decref(r);
    else this.m._PyErr_Print();
  }

  private slowDone(v: number): void {
    this.leaveTracing();
    if (this.scratch.delete(v)) this.m._free(v);
  }

  /**
   * greenlet's own Python (the slow switch path, _on_finish, _kill_pending)
   * runs with the thread state's tracing counter raised, as native greenlet
   * runs its C code and its settrace callback: profilers, tracers and
   * sys.monitoring tools do not see it. Each enter is left on the same stack,
   * hence the same thread state.
   */
  enterTracing(): void {
    this.m._PyThreadState_EnterTracing(this.m._PyThreadState_Get());
  }

  leaveTracing(): void {
    this.m._PyThreadState_LeaveTracing(this.m._PyThreadState_Get());
  }

  private readonly scratch = new Set<number>();

  /**
   * Park `from`, deliver to `target`; the stub then suspends in `wait` on the
   * returned code's promise. A stack on its own region parks "kept": its stub
   * saves and restores the stack pointer and thread state (trampoline.ts).
   */
  private transfer(from: Cont, target: Cont, payload: number, throwing: boolean): number {
    this.join(from, target);
    target.data.throwing = throwing;
    this.routes.js++;
    if (from.region === null) {
      this.pending = from.switcher.switchFrom(from, target, payload);
      return PARKED;
    }
    // Every region stack has a control block: its stub reads OUTER from it.
    const H = this.api.i32;
    const at = this.cell >>> 2;
    H[at + 1] = from.data.cb;
    this.pending = from.switcher.switchFrom(from, target, payload, H[at]! >>> 0);
    return PARKED_KEPT;
  }

  /** The wasm route's switch (route.ts): `from` parked and `target` resumes in wasm; record it, wake `target`. */
  private handOff(from: number, target: number, sp: number): Promise<number> {
    const a = this.blocks.contAt(from);
    this.routes.wasm++;
    if (a.data.kind === "main") a.data.thread.lastMain = a;
    return a.switcher.handOff(a, this.blocks.contAt(target), sp >>> 0);
  }

  private pending: Promise<number> | null = null;

  private takePending(): Promise<number> {
    const p = this.pending!;
    this.pending = null;
    return p;
  }

  /** `_greenwasm_greenlet.switch(target, payload, throwing)`: the Python slow path's switch. */
  private slowSwitchBuiltin(_self: number, args: number, nargs: number): number {
    const api = this.api;
    if (nargs !== 3) return this.fail(api.typeError, "switch(target, payload, throwing) takes 3 arguments");
    if (!api.canSuspend) {
      return this.fail(this.py.errorType,
        "cannot switch greenlets here: this Python code was called synchronously from JavaScript " +
        "(a JavaScript frame sits between the greenlets). Enter Python through greenwasm's runtime " +
        "(runCode/runFile/runModule) or by awaiting an async Python function.");
    }
    const from = this.currentCont();
    const target = this.resolveTarget(api.arg(args, 0), from);
    const payload = api.arg(args, 1);
    const throwing = api.isTrue(api.arg(args, 2));
    if (!target) return this.fail(this.py.errorType, "cannot switch to this greenlet: it has no live stack in this thread");
    if (target === from) {
      api.incref(payload);
      if (throwing) {
        this.m._PyErr_SetRaisedException(payload);
        this.immediateValue = 0;
      } else {
        this.immediateValue = payload;
      }
      return -1;
    }
    if (target.switcher !== from.switcher) return this.fail(this.py.errorType, "cannot switch to a different thread");
    if (target.state !== "new" && target.state !== "suspended") {
      return this.fail(this.py.errorType, `cannot switch to a ${target.state} greenlet`);
    }
    api.incref(payload);
    return this.transfer(from, target, payload, throwing);
  }

  private fail(type: number, msg: string): number {
    this.api.setError(type, msg);
    this.immediateValue = 0;
    return -1;
  }

  private after(id: number, outer: number): number {
    const c = continuationById<ContData>(id);
    const payload = c.switcher.resumed(c, outer >>> 0);
    if (!c.data.throwing) return payload;
    c.data.throwing = false;
    this.m._PyErr_SetRaisedException(payload);
    return 0;
  }

  // ---- engine hooks ------------------------------------------------------

  /** Free everything `c` holds (see lifecycle.ts). */
  destroy(c: Cont): void {
    this.life.destroy(c);
  }

  /** Unmap `c`'s object. Objects die and addresses are reused, so only if it still maps to `c`. */
  unmap(c: Cont): void {
    if (this.byObj.get(c.data.obj) === c) {
      this.byObj.delete(c.data.obj);
      this.blocks.unmapObj(c.data.obj);
    }
  }

  forget(c: Cont): void {
    this.unmap(c);
    if (c.state === "new") {
      this.destroy(c);
      return;
    }
    c.data.obj = 0;
    this.blocks.set(c, CB.OBJ, 0);
    this.abandoned++;
  }

  /** Switches made so far by each route (route.ts): the wasm route's hand-offs, the JS route's transfers. */
  readonly routes = { wasm: 0, js: 0 };

  /** Suspended greenlets whose objects were freed without being killed (never run again). */
  abandoned = 0;
  /** Greenlets whose objects the cycle collector is freeing; forgotten when it is done (see _greenlet._forget). */
  readonly deferredForget: Cont[] = [];

  // ---- continuations for greenlets and runtime threads --------------------

  /** A new (not yet started) continuation for greenlet object `obj` in `thread`. */
  spawn(obj: number, thread: GreenThread): Cont | null {
    const region = this.allocRegion(this.stackSize);
    if (!region) return null;
    const c = thread.switcher.create(this.data("greenlet", thread, 0), region.region);
    c.data.block = region.block;
    c.data.obj = obj;
    this.blocks.attach(c);
    // Spawned by the running stack, which belongs to `thread` (not the stack that
    // happens to be current when the engine starts it).
    c.data.inherited = this.life.inheritable(this.m._PyThreadState_Get());
    this.byObj.set(obj, c);
    this.blocks.mapObj(obj, c.data.cb);
    return c;
  }

  allocRegion(size: number): { block: number; region: StackRegion } | null {
    const block = this.m._malloc(size);
    return block ? { block, region: makeRegion(block, size) } : null;
  }

  /** See threads.ts. */
  runThread(fn: number, args: number, kwargs: number, opts: RunThreadOptions = {}): Promise<ThreadOutcome> {
    return runThread(this, fn, args, kwargs, opts);
  }

  /** See threads.ts. */
  startThread(fn: number, args: number, kwargs: number, opts: RunThreadOptions = {}): StartedThread {
    return startThread(this, fn, args, kwargs, opts);
  }
}

function checkSize(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 16 * 1024) throw new RangeError(`greenlet ${name} must be an integer >= 16384, got ${v}`);
  return v;
}
