/**
 * A WASI preview1 (`wasi_snapshot_preview1`) host for wasm32 programs: args,
 * environ, clocks, random, stdio, files through mounts (wasi-fs.ts),
 * `poll_oneoff` on clocks, `proc_exit`, `sched_yield`.
 *
 * Contracts:
 * - Every function returns an errno; host failures are mapped by `errnoOf`
 *   (never thrown at the guest), except `proc_exit`, which throws `WasiExit`.
 * - `poll_oneoff` and `fd_read` are `WebAssembly.Suspending` imports: a sleep or
 *   an stdin read that must wait suspends the guest's wasm stack (JSPI) and the
 *   event loop keeps running. The guest must therefore be entered through
 *   `WebAssembly.promising` (the runner does).
 * - Functions the guest imports that are not implemented here return ENOSYS.
 * - Browser-safe: no `node:` imports.
 */
import { suspending } from "../engine/index.ts";
import { ALL_RIGHTS, ClockId, Errno, Eventtype, Filetype, Rights, Subclockflags } from "./defs.ts";
import { WasiErrnoError, errnoOf } from "./errno.ts";
import { WasiExit } from "./errors.ts";
import { GuestMemory, concat } from "./memory.ts";
import type { FileTable } from "./wasi-fs.ts";

/** Receives bytes the guest wrote to stdout or stderr. */
export type OutputSink = (bytes: Uint8Array) => void;

/** Where the guest's stdin comes from: all bytes at once, or chunks on demand (null = end). */
export type StdinSource = string | Uint8Array | (() => Promise<Uint8Array | null>);

export interface WasiConfig {
  /** Full argv, argv[0] included. */
  args: string[];
  env: Record<string, string>;
  stdout: OutputSink;
  stderr: OutputSink;
  stdin: StdinSource;
}

type Fn = (...a: never[]) => unknown;
const enc = new TextEncoder();
const nowNs = () => BigInt(Math.round(performance.now() * 1e6));
const realtimeNs = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));

/** Sum of bytes, `\0`-terminated strings, for args/environ. */
function strings(list: string[]): Uint8Array[] {
  return list.map((s) => enc.encode(s + "\0"));
}

export class WasiHost {
  readonly mem = new GuestMemory();
  files: FileTable | null = null;
  private readonly argv: Uint8Array[];
  private readonly environ: Uint8Array[];
  private stdinBuf: Uint8Array = new Uint8Array(0);
  private stdinEnded = false;

  private readonly cfg: WasiConfig;

  constructor(cfg: WasiConfig) {
    this.cfg = cfg;
    this.argv = strings(cfg.args);
    this.environ = strings(Object.entries(cfg.env).map(([k, v]) => `${k}=${v}`));
    if (typeof cfg.stdin !== "function") {
      this.stdinBuf = typeof cfg.stdin === "string" ? enc.encode(cfg.stdin) : cfg.stdin;
      this.stdinEnded = true;
    }
  }

  /** Import object for `wasi_snapshot_preview1`, covering every function in `wanted`. */
  imports(wanted: readonly string[]): Record<string, Fn | object> {
    const impl: Record<string, Fn> = {
      args_sizes_get: (c: number, s: number) => this.sizes(this.argv, c, s),
      args_get: (p: number, b: number) => this.fill(this.argv, p, b),
      environ_sizes_get: (c: number, s: number) => this.sizes(this.environ, c, s),
      environ_get: (p: number, b: number) => this.fill(this.environ, p, b),
      clock_res_get: (id: number, ptr: number) => (id > 3 ? Errno.INVAL : (this.mem.u64(ptr, 1000n), Errno.SUCCESS)),
      clock_time_get: (id: number, _precision: bigint, ptr: number) => {
        if (id > 3) return Errno.INVAL;
        this.mem.u64(ptr, id === ClockId.REALTIME ? realtimeNs() : nowNs());
        return Errno.SUCCESS;
      },
      random_get: (ptr: number, len: number) => {
        const out = this.mem.slice(ptr, len);
        for (let at = 0; at < len; at += 65536) {
          const chunk = new Uint8Array(Math.min(65536, len - at));
          crypto.getRandomValues(chunk);
          out.set(chunk, at);
        }
        return Errno.SUCCESS;
      },
      fd_write: (fd: number, iovs: number, n: number, outPtr: number) => {
        const bufs = this.mem.iovecs(iovs, n);
        let total: number;
        if (fd === 1 || fd === 2) {
          const bytes = concat(bufs);
          (fd === 1 ? this.cfg.stdout : this.cfg.stderr)(bytes);
          total = bytes.length;
        } else total = this.fileTable(fd).write(fd, bufs);
        this.mem.u32(outPtr, total);
        return Errno.SUCCESS;
      },
      fd_close: (fd: number) => (fd <= 2 ? Errno.SUCCESS : this.fileTable(fd).close(fd)),
      fd_fdstat_get: (fd: number, ptr: number) => {
        if (fd > 2) return this.fileTable(fd).fdstat(fd, ptr);
        // stdio: a character device without seek/tell rights, so wasi-libc's isatty()
        // is true and stdout is line-buffered (output before a failure is not lost).
        const v = this.mem.view;
        v.setUint8(ptr, Filetype.CHARACTER_DEVICE);
        v.setUint16(ptr + 2, 0, true);
        v.setBigUint64(ptr + 8, ALL_RIGHTS & ~(Rights.FD_SEEK | Rights.FD_TELL), true);
        v.setBigUint64(ptr + 16, 0n, true);
        return Errno.SUCCESS;
      },
      fd_prestat_get: (fd: number, ptr: number) => this.files?.prestat(fd, ptr) ?? Errno.BADF,
      fd_prestat_dir_name: (fd: number, ptr: number, len: number) => this.files?.prestatDirName(fd, ptr, len) ?? Errno.BADF,
      fd_seek: (fd: number, off: bigint, whence: number, ptr: number) => (fd <= 2 ? Errno.SPIPE : this.fileTable(fd).fd_seek(fd, off, whence, ptr)),
      fd_tell: (fd: number, ptr: number) => (fd <= 2 ? Errno.SPIPE : this.fileTable(fd).fd_tell(fd, ptr)),
      fd_filestat_get: (fd: number, ptr: number) => {
        if (fd > 2) return this.fileTable(fd).fd_filestat_get(fd, ptr);
        for (let o = 0; o < 64; o += 8) this.mem.u64(ptr + o, 0n);
        this.mem.view.setUint8(ptr + 16, Filetype.CHARACTER_DEVICE);
        return Errno.SUCCESS;
      },
      fd_readdir: (fd: number, buf: number, len: number, cookie: bigint, used: number) => this.fileTable(fd).fd_readdir(fd, buf, len, cookie, used),
      path_open: (fd: number, df: number, p: number, pl: number, of: number, rb: bigint, ri: bigint, ff: number, out: number) =>
        this.fileTable(fd).path_open(fd, df, p, pl, of, rb, ri, ff, out),
      path_filestat_get: (fd: number, fl: number, p: number, pl: number, ptr: number) => this.fileTable(fd).path_filestat_get(fd, fl, p, pl, ptr),
      path_unlink_file: (fd: number, p: number, pl: number) => this.fileTable(fd).path_unlink_file(fd, p, pl),
      path_create_directory: (fd: number, p: number, pl: number) => this.fileTable(fd).path_create_directory(fd, p, pl),
      path_remove_directory: (fd: number, p: number, pl: number) => this.fileTable(fd).path_remove_directory(fd, p, pl),
      proc_exit: (code: number) => {
        throw new WasiExit(code >>> 0);
      },
      sched_yield: () => Errno.SUCCESS,
    };
    const suspendingImpl: Record<string, Fn> = {
      fd_read: (fd: number, iovs: number, n: number, outPtr: number) => this.fdRead(fd, iovs, n, outPtr),
      poll_oneoff: (inPtr: number, outPtr: number, n: number, neventsPtr: number) => this.poll(inPtr, outPtr, n, neventsPtr),
    };
    const out: Record<string, Fn | object> = {};
    for (const name of wanted) {
      if (impl[name]) out[name] = guard(impl[name]!);
      else if (suspendingImpl[name]) out[name] = suspending(guardAsync(suspendingImpl[name]!));
      else out[name] = () => Errno.NOSYS;
    }
    return out;
  }

  private fileTable(fd: number): FileTable {
    if (!this.files?.has(fd)) throw new WasiErrnoError(Errno.BADF);
    return this.files;
  }

  private sizes(list: Uint8Array[], countPtr: number, sizePtr: number): number {
    this.mem.u32(countPtr, list.length);
    this.mem.u32(sizePtr, list.reduce((n, s) => n + s.length, 0));
    return Errno.SUCCESS;
  }

  private fill(list: Uint8Array[], ptrs: number, buf: number): number {
    let at = buf;
    list.forEach((s, i) => {
      this.mem.u32(ptrs + 4 * i, at);
      this.mem.slice(at, s.length).set(s);
      at += s.length;
    });
    return Errno.SUCCESS;
  }

  /** fd_read: files synchronously; stdin from the buffer, waiting (suspended) for more if needed. */
  private fdRead(fd: number, iovs: number, n: number, outPtr: number): number | Promise<number> {
    if (fd !== 0) {
      this.mem.u32(outPtr, this.fileTable(fd).read(fd, this.mem.iovecs(iovs, n)));
      return Errno.SUCCESS;
    }
    const deliver = (): number => {
      let total = 0;
      for (const b of this.mem.iovecs(iovs, n)) {
        const k = Math.min(b.length, this.stdinBuf.length);
        b.set(this.stdinBuf.subarray(0, k));
        this.stdinBuf = this.stdinBuf.subarray(k);
        total += k;
        if (k < b.length) break;
      }
      this.mem.u32(outPtr, total);
      return Errno.SUCCESS;
    };
    if (this.stdinBuf.length > 0 || this.stdinEnded) return deliver();
    const next = this.cfg.stdin as () => Promise<Uint8Array | null>;
    return next().then((chunk) => {
      if (chunk === null) this.stdinEnded = true;
      else this.stdinBuf = chunk;
      return deliver();
    });
  }

  /**
   * poll_oneoff. `subscription` (48 bytes): userdata u64 @0, tag u8 @8; clock: id u32 @16,
   * timeout u64 @24, precision u64 @32, flags u16 @40; fd_read/fd_write: fd u32 @16.
   * `event` (32 bytes): userdata u64 @0, error u16 @8, type u8 @10, nbytes u64 @16, flags u16 @24.
   * File descriptors are always reported ready; clocks sleep on a timer, suspended.
   */
  private poll(inPtr: number, outPtr: number, n: number, neventsPtr: number): number | Promise<number> {
    if (n === 0) return Errno.INVAL;
    const v = this.mem.view;
    const subs: { userdata: bigint; type: number; deadline: bigint; clock: number; fd: number }[] = [];
    for (let i = 0; i < n; i++) {
      const p = inPtr + 48 * i;
      const type = v.getUint8(p + 8);
      const sub = { userdata: v.getBigUint64(p, true), type, deadline: 0n, clock: 0, fd: -1 };
      if (type === Eventtype.CLOCK) {
        sub.clock = v.getUint32(p + 16, true);
        if (sub.clock > 3) return Errno.INVAL;
        const timeout = v.getBigUint64(p + 24, true);
        const abs = (v.getUint16(p + 40, true) & Subclockflags.SUBSCRIPTION_CLOCK_ABSTIME) !== 0;
        sub.deadline = abs ? timeout : (sub.clock === ClockId.REALTIME ? realtimeNs() : nowNs()) + timeout;
      } else if (type === Eventtype.FD_READ || type === Eventtype.FD_WRITE) sub.fd = v.getUint32(p + 16, true);
      else return Errno.INVAL;
      subs.push(sub);
    }
    const remaining = (s: (typeof subs)[number]) => s.deadline - (s.clock === ClockId.REALTIME ? realtimeNs() : nowNs());
    const report = (): number => {
      const fdEvents = subs.filter((s) => s.type !== Eventtype.CLOCK);
      const ready = fdEvents.length > 0 ? fdEvents : subs.filter((s) => remaining(s) <= 0n);
      const w = this.mem.view;
      ready.forEach((s, i) => {
        const p = outPtr + 32 * i;
        w.setBigUint64(p, s.userdata, true);
        const bad = s.type !== Eventtype.CLOCK && !(s.fd <= 2 || this.files?.has(s.fd));
        w.setUint16(p + 8, bad ? Errno.BADF : Errno.SUCCESS, true);
        w.setUint8(p + 10, s.type);
        w.setBigUint64(p + 16, s.type === Eventtype.CLOCK ? 0n : 1n, true);
        w.setUint16(p + 24, 0, true);
      });
      this.mem.u32(neventsPtr, ready.length);
      return Errno.SUCCESS;
    };
    if (subs.some((s) => s.type !== Eventtype.CLOCK)) return report();
    const wait = subs.reduce((m, s) => (remaining(s) < m ? remaining(s) : m), remaining(subs[0]!));
    if (wait <= 0n) return report();
    return new Promise<number>((resolve) => {
      const sleepUntilDue = () => {
        const left = subs.reduce((m, s) => (remaining(s) < m ? remaining(s) : m), remaining(subs[0]!));
        if (left <= 0n) resolve(report());
        else setTimeout(sleepUntilDue, Math.ceil(Number(left) / 1e6));
      };
      sleepUntilDue();
    });
  }
}

/** Map thrown host errors to errno; let `WasiExit` through. */
function guard(fn: Fn): Fn {
  return (...args: never[]) => {
    try {
      return fn(...args);
    } catch (e) {
      if (e instanceof WasiExit) throw e;
      return errnoOf(e);
    }
  };
}

function guardAsync(fn: Fn): Fn {
  const g = guard(fn);
  return (...args: never[]) => {
    const r = g(...args);
    return r instanceof Promise ? r.catch((e: unknown) => errnoOf(e)) : r;
  };
}
