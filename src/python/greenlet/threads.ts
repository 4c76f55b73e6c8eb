import { SwitchError } from "../../engine/index.ts";
import type { GreenletHost } from "./host.ts";

/**
 * Thread entries: a new greenlet thread whose first stack is a continuation
 * of the host (its own JSPI stack, C-stack region and PyThreadState) running
 * `_thread_main(token, fn, args, kwargs, with_loop)` from _greenlet.py.
 */

/** Options of `GreenletHost.runThread`. */
export interface RunThreadOptions {
  /** Bytes of C stack. Default: the host's `threadStackSize`. */
  stackSize?: number;
  /**
   * A thread of its own for Python (a green `threading.Thread`): fresh thread
   * dict and `threading.local` data, no running asyncio loop. Default: false
   * (a runtime entry: shares them with the interpreter's main thread).
   */
  isolated?: boolean;
}

/** What a runtime thread entry produced: exactly one of the two is non-zero (owned references). */
export interface ThreadOutcome {
  result: number;
  error: number;
}

/** A started thread entry: its token (known at once) and its outcome. */
export interface StartedThread {
  token: number;
  done: Promise<ThreadOutcome>;
}

/**
 * Run `fn(*args, **kwargs)` (borrowed references) as a new greenlet thread on
 * its own stack. Resolves when it returns; the outcome's references are owned
 * by the caller.
 */
export function runThread(host: GreenletHost, fn: number, args: number, kwargs: number, opts: RunThreadOptions = {}): Promise<ThreadOutcome> {
  try {
    return startThread(host, fn, args, kwargs, opts).done;
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * `runThread` that also returns the new thread's token at once (its stack
 * starts from a microtask). Throws SwitchError if no stack can be allocated.
 */
export function startThread(host: GreenletHost, fn: number, args: number, kwargs: number, opts: RunThreadOptions = {}): StartedThread {
  const region = host.allocRegion(opts.stackSize ?? host.threadStackSize);
  if (!region) throw new SwitchError("cannot allocate a thread stack");
  const thread = host.newThread();
  const c = thread.switcher.create(host.data("main", thread, 0), region.region);
  c.data.block = region.block;
  c.data.isolated = opts.isolated ?? false;
  host.blocks.attach(c);
  thread.instances.add(c);
  const api = host.api;
  const inner = api.tuple([
    api.long(thread.token), api.newRef(fn), api.newRef(args), kwargs ? api.newRef(kwargs) : api.none(), api.bool(!c.data.isolated),
  ]);
  const payload = api.tuple3(api.newRef(host.py.threadMain), inner, api.none());
  const done = new Promise<ThreadOutcome>((resolve) => {
    c.data.onExit = (o) => {
      host.threads.delete(thread.token);
      if (thread.mainObj) {
        host.blocks.unmapObj(thread.mainObj);
        host.markDead(thread.mainObj); // greenlet: "(thread exited) dead"
        api.decref(thread.mainObj);
      }
      thread.mainObj = 0;
      resolve(o);
    };
    thread.switcher.launch(c, payload);
  });
  return { token: thread.token, done };
}
