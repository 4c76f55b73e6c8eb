import type { Continuation, Switcher } from "../../engine/index.ts";
import type { StackStateInstance } from "../pyodide.ts";
import type { HookSnapshot } from "./hooks.ts";

/** One greenlet thread: a token, its switcher, its main greenlet and the host stacks acting as main. */
export interface GreenThread {
  readonly token: number;
  readonly switcher: Switcher<ContData>;
  /** The main greenlet object (owned), 0 until Python asks for it. */
  mainObj: number;
  /** Main instances: host stacks of this thread that run outside any greenlet. */
  readonly instances: Set<Cont>;
  /** The main instance that parked most recently. */
  lastMain: Cont | null;
  /** Profile/trace functions of the stack that parked last, for the next one to resume (hooks.ts). */
  hooks: HookSnapshot | null;
}

export interface ContData {
  kind: "main" | "greenlet";
  thread: GreenThread;
  /** This stack's PyThreadState (a parked stack: the tstate captured from it). */
  tstate: number;
  /** `tstate->id` when adopted/started: detects a freed or reused tstate. */
  tstateId: bigint;
  /** The greenlet object (borrowed; greenlets only). */
  obj: number;
  /** A parked borrowed-stack main instance's argument-stack slice (Pyodide StackState). */
  stackState: StackStateInstance | null;
  /** The entry payload (run, args, kwargs), owned while the entry call runs. */
  startPayload: number;
  /** malloc'd block backing the C-stack region. */
  block: number;
  /** Its control block (control.ts), 0 if none: every region continuation has one while alive. */
  cb: number;
  /**
   * The main instance whose activity this greenlet last joined (handed along by
   * every switch into it). Read and write it through `ControlBlocks.mainInstOf`
   * / `setMainInst`: the wasm route updates the block only.
   */
  mainInst: Cont | null;
  /** The running asyncio loop of the stack that switched into this greenlet (borrowed), installed at its unpark. */
  loop: number;
  /** The delivered payload is an exception to raise on resume. */
  throwing: boolean;
  /** gr_context set before the greenlet started (owned), installed at start. */
  pendingContext: number;
  /** A runtime thread entry's outcome, and who to tell. */
  outcome: { result: number; error: number } | null;
  onExit?: (o: { result: number; error: number }) => void;
  /** A green thread: its own thread dict and thread-locals (see RunThreadOptions). */
  isolated: boolean;
  /** A spawned greenlet's thread dict, thread-local key and sentinel (owned, 0 if unset), installed at start. */
  inherited: number[] | null;
}

export type Cont = Continuation<ContData>;
