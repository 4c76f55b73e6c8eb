import type { GreenletHost } from "./host.ts";
import type { FastcallFn } from "./trampoline.ts";
import type { Cont } from "./types.ts";

/**
 * The plain builtins of `_greenwasm_greenlet` (METH_FASTCALL; `args` is a
 * pointer to `nargs` borrowed object pointers). `switch` is added by the
 * trampolines. The contract with Python is documented in
 * src/python/py/greenlet/_greenlet.py.
 */
export function moduleBuiltins(host: GreenletHost): Record<string, FastcallFn> {
  const api = host.api;
  const m = host.m;
  const contOf = (obj: number): Cont | null => host.resolveTarget(obj, host.currentCont());
  return {
    init: (_s, a, n) => {
      if (n !== 8) return api.raise(api.typeError, "init takes 8 arguments");
      const [onFinish, slowSwitch, errorType, makeMain, threadMain, threadVar, type, killPending] =
        [0, 1, 2, 3, 4, 5, 6, 7].map((i) => api.newRef(api.arg(a, i)));
      host.py = {
        onFinish: onFinish!, slowSwitch: slowSwitch!, errorType: errorType!, makeMain: makeMain!,
        threadMain: threadMain!, threadVar: threadVar!, killPending: killPending!,
      };
      host.installSwitchMethod(type!);
      api.decref(type!);
      return api.none();
    },
    spawn: (_s, a) => {
      const obj = api.arg(a, 0);
      if (host.byObj.has(obj)) return api.raise(host.py.errorType, "greenlet already started");
      const c = host.spawn(obj, host.currentCont().data.thread);
      return c ? api.none() : api.raise(api.memoryError, "cannot allocate a greenlet stack");
    },
    current: () => {
      const c = host.currentCont();
      return c.data.kind === "greenlet" ? api.newRef(c.data.obj) : host.mainObject(c.data.thread);
    },
    thread: () => api.long(host.threadToken()),
    thread_alive: (_s, a) => api.bool(host.threads.has(api.asLong(api.arg(a, 0)))),
    set_thread_local: (_s, a, n) => {
      // greenlet._greenlet.set_thread_local(key, value): an item of the thread state's dict.
      if (n !== 2) return api.raise(api.typeError, "set_thread_local takes 2 arguments");
      const dict = m.__PyThreadState_GetDict(m._PyThreadState_Get());
      if (!dict || m._PyDict_SetItem(dict, api.arg(a, 0), api.arg(a, 1)) !== 0) return 0;
      return api.none();
    },
    can_switch: () => api.bool(api.canSuspend),
    set_slow: (_s, a) => {
      host.slowOnly = api.isTrue(api.arg(a, 0));
      return api.none();
    },
    is_running: (_s, a) => {
      // Current in its thread (not parked by a greenlet switch), possibly with
      // that thread's stack waiting on a green-thread wait.
      const c = host.byObj.get(api.arg(a, 0));
      return api.bool(c !== undefined && c.state === "running");
    },
    get_context: (_s, a) => {
      const c = contOf(api.arg(a, 0));
      if (!c) return api.none();
      if (c.state === "new") return c.data.pendingContext ? api.newRef(c.data.pendingContext) : api.none();
      const v = m.HEAPU32[(c.data.tstate + host.layout.context) >>> 2]!;
      return v ? api.newRef(v) : api.none();
    },
    set_context: (_s, a) => {
      const c = contOf(api.arg(a, 0));
      if (!c) return api.raise(host.py.errorType, "greenlet has no live stack in this thread");
      const v = api.arg(a, 1) === api.none_ptr ? 0 : api.arg(a, 1);
      if (v) api.incref(v);
      if (c.state === "new") {
        if (c.data.pendingContext) api.decref(c.data.pendingContext);
        c.data.pendingContext = v;
        return api.none();
      }
      const H = m.HEAPU32;
      const slot = (c.data.tstate + host.layout.context) >>> 2;
      const old = H[slot]!;
      H[slot] = v;
      // contextvars caches values per (tstate id, context_ver): bump the version.
      const ver = (c.data.tstate + host.layout.contextVer) >>> 2;
      H[ver] = (H[ver]! + 1) >>> 0;
      if (H[ver] === 0) H[ver + 1] = (H[ver + 1]! + 1) >>> 0;
      if (old) api.decref(old);
      return api.none();
    },
    get_frame: (_s, a) => {
      const c = contOf(api.arg(a, 0));
      if (!c || c.state !== "suspended" || !c.data.tstate) return api.none();
      return m._PyThreadState_GetFrame(c.data.tstate) || api.none();
    },
    stack_saved: (_s, a) => {
      const c = contOf(api.arg(a, 0));
      if (!c || c.state !== "suspended") return api.long(0);
      if (c.region) return api.long(c.region.top - c.sp);
      const ss = c.data.stackState;
      return api.long(ss ? ss.stop - ss.start : 0);
    },
    discard: (_s, a) => {
      const c = host.byObj.get(api.arg(a, 0));
      if (c && (c.state === "suspended" || c.state === "new")) host.destroy(c);
      return api.none();
    },
    forget: (_s, a) => {
      // A started greenlet object was freed. A suspended one can never run
      // again; its stack and thread state stay allocated (its frames still
      // own references), as with greenlet itself.
      const c = host.byObj.get(api.asAddress(api.arg(a, 0)));
      if (c) host.forget(c);
      return api.none();
    },
    forget_later: (_s, a) => {
      // Captures the continuation now: by the time of forget_deferred the
      // address may belong to another greenlet.
      const c = host.byObj.get(api.asAddress(api.arg(a, 0)));
      if (c) host.deferredForget.push(c);
      return api.none();
    },
    forget_deferred: () => {
      const pending = host.deferredForget.splice(0);
      for (const c of pending) if (c.state !== "finished" && host.byObj.get(c.data.obj) === c) host.forget(c);
      return api.none();
    },
    stats: () => {
      const s = host.stats();
      let mains = 0;
      for (const t of host.threads.values()) if (t.mainObj) mains++;
      return api.tuple3(api.long(s.greenlets), api.long(mains), api.long(s.mainInstances));
    },
  };
}
