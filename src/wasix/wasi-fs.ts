/**
 * Files through mounts for the WASI host: each mount `{host, guest, writable}`
 * is a preopened directory (fds 3, 4, … in mount order, named by its guest
 * path, which wasi-libc uses to resolve absolute paths). Same semantics as the
 * Python runtime's `mounts` option:
 *
 * - read-only unless `writable`: opening for writing, creating, truncating,
 *   unlinking or making/removing directories fails with EROFS;
 * - paths cannot leave the mount: `..` past its root and symlinks whose target
 *   lies outside the mounted host directory give ENOTCAPABLE.
 *
 * The host file system is reached through `FsBackend` (node-fs.ts on Node), so
 * this file stays free of `node:` imports and loads in browsers.
 */
import { ALL_RIGHTS, Errno, Fdflags, Filetype, Lookupflags, Oflags, Rights, WRITE_RIGHTS, Whence } from "./defs.ts";
import { WasiErrnoError } from "./errno.ts";
import type { GuestMemory } from "./memory.ts";

export interface HostStat {
  filetype: number;
  dev: bigint;
  ino: bigint;
  nlink: bigint;
  size: bigint;
  atimNs: bigint;
  mtimNs: bigint;
  ctimNs: bigint;
}

export interface OpenFlags {
  write: boolean;
  create: boolean;
  exclusive: boolean;
  truncate: boolean;
}

/** Synchronous host file system. Methods throw errors with POSIX `code`s (ENOENT, …). */
export interface FsBackend {
  stat(path: string, followSymlinks: boolean): HostStat;
  realpath(path: string): string;
  open(path: string, flags: OpenFlags): number;
  close(handle: number): void;
  read(handle: number, into: Uint8Array, position: number): number;
  write(handle: number, from: Uint8Array, position: number): number;
  fstat(handle: number): HostStat;
  readdir(path: string): { name: string; filetype: number }[];
  unlink(path: string): void;
  mkdir(path: string): void;
  rmdir(path: string): void;
}

/** A resolved mount: absolute host directory, normalized absolute guest path. */
export interface MountSpec {
  host: string;
  guest: string;
  writable: boolean;
}

interface Mount extends MountSpec {
  /** realpath of `host`, for symlink containment. */
  real: string;
}

type Entry =
  | { kind: "dir"; mount: Mount; rel: string; preopen: boolean }
  | { kind: "file"; mount: Mount; rel: string; handle: number; pos: number; append: boolean; canRead: boolean; canWrite: boolean };

const fail = (errno: number, why?: string): never => {
  throw new WasiErrnoError(errno, why);
};

export class FileTable {
  private readonly fds = new Map<number, Entry>();
  private nextFd: number;

  private readonly fs: FsBackend;
  private readonly mem: GuestMemory;

  constructor(fs: FsBackend, mounts: readonly MountSpec[], mem: GuestMemory) {
    this.fs = fs;
    this.mem = mem;
    mounts.forEach((m, i) => {
      const mount: Mount = { ...m, real: fs.realpath(m.host) };
      this.fds.set(3 + i, { kind: "dir", mount, rel: "", preopen: true });
    });
    this.nextFd = 3 + mounts.length;
  }

  has(fd: number): boolean {
    return this.fds.has(fd);
  }

  private entry(fd: number): Entry {
    return this.fds.get(fd) ?? fail(Errno.BADF);
  }
  private file(fd: number) {
    const e = this.entry(fd);
    return e.kind === "file" ? e : fail(Errno.ISDIR);
  }
  private dir(fd: number) {
    const e = this.entry(fd);
    return e.kind === "dir" ? e : fail(Errno.NOTDIR);
  }

  /** Resolve `path` (relative, guest syntax) against a directory fd; check containment. */
  private resolve(fd: number, pathPtr: number, pathLen: number): { mount: Mount; rel: string; host: string } {
    const d = this.dir(fd);
    const path = this.mem.string(pathPtr, pathLen);
    if (path.includes("\0")) fail(Errno.INVAL);
    if (path.startsWith("/")) fail(Errno.NOTCAPABLE);
    const parts = d.rel ? d.rel.split("/") : [];
    for (const p of path.split("/")) {
      if (p === "" || p === ".") continue;
      if (p === "..") {
        if (parts.length === 0) fail(Errno.NOTCAPABLE, "path leaves the mount");
        parts.pop();
      } else parts.push(p);
    }
    const rel = parts.join("/");
    const host = rel ? `${d.mount.host}/${rel}` : d.mount.host;
    this.contain(d.mount, host);
    return { mount: d.mount, rel, host };
  }

  /** The deepest existing ancestor of `host` must resolve inside the mount. */
  private contain(m: Mount, host: string): void {
    for (let p = host; ; p = p.slice(0, p.lastIndexOf("/"))) {
      let real: string;
      try {
        real = this.fs.realpath(p);
      } catch (e) {
        if ((e as { code?: string }).code === "ENOENT" && p.length > m.host.length) continue;
        throw e;
      }
      if (real !== m.real && !real.startsWith(m.real + "/")) fail(Errno.NOTCAPABLE, "symlink leaves the mount");
      return;
    }
  }

  private writableOrFail(m: Mount): void {
    if (!m.writable) fail(Errno.ROFS);
  }

  path_open(fd: number, dirflags: number, pathPtr: number, pathLen: number, oflags: number, rightsBase: bigint, _rightsInh: bigint, fdflags: number, fdOut: number): number {
    const { mount, rel, host } = this.resolve(fd, pathPtr, pathLen);
    const write = (oflags & (Oflags.CREAT | Oflags.TRUNC)) !== 0 || (rightsBase & WRITE_RIGHTS) !== 0n || (fdflags & Fdflags.APPEND) !== 0;
    if (write) this.writableOrFail(mount);
    let st: HostStat | null = null;
    try {
      st = this.fs.stat(host, (dirflags & Lookupflags.SYMLINK_FOLLOW) !== 0);
    } catch (e) {
      if ((e as { code?: string }).code !== "ENOENT") throw e;
    }
    let entry: Entry;
    if (st?.filetype === Filetype.DIRECTORY) {
      if (write) fail(Errno.ISDIR);
      entry = { kind: "dir", mount, rel, preopen: false };
    } else {
      if (oflags & Oflags.DIRECTORY) fail(st ? Errno.NOTDIR : Errno.NOENT);
      if (st && oflags & Oflags.CREAT && oflags & Oflags.EXCL) fail(Errno.EXIST);
      if (!st && !(oflags & Oflags.CREAT)) fail(Errno.NOENT);
      const handle = this.fs.open(host, {
        write,
        create: (oflags & Oflags.CREAT) !== 0,
        exclusive: (oflags & Oflags.EXCL) !== 0,
        truncate: (oflags & Oflags.TRUNC) !== 0,
      });
      const canRead = (rightsBase & Rights.FD_READ) !== 0n || !write;
      entry = { kind: "file", mount, rel, handle, pos: 0, append: (fdflags & Fdflags.APPEND) !== 0, canRead, canWrite: write };
    }
    const newFd = this.nextFd++;
    this.fds.set(newFd, entry);
    this.mem.u32(fdOut, newFd);
    return Errno.SUCCESS;
  }

  read(fd: number, bufs: Uint8Array[]): number {
    const f = this.file(fd);
    if (!f.canRead) fail(Errno.BADF);
    return FileTable.transfer(f, bufs, (b) => this.fs.read(f.handle, b, f.pos));
  }

  write(fd: number, bufs: Uint8Array[]): number {
    const f = this.file(fd);
    if (!f.canWrite) fail(Errno.BADF);
    if (f.append) f.pos = Number(this.fs.fstat(f.handle).size);
    return FileTable.transfer(f, bufs, (b) => this.fs.write(f.handle, b, f.pos));
  }

  /** Scatter/gather: `io` each buffer at `f.pos` in turn, stopping after a short transfer. */
  private static transfer(f: { pos: number }, bufs: Uint8Array[], io: (b: Uint8Array) => number): number {
    let total = 0;
    for (const b of bufs) {
      const n = io(b);
      f.pos += n;
      total += n;
      if (n < b.length) break;
    }
    return total;
  }

  fd_seek(fd: number, offset: bigint, whence: number, outPtr: number): number {
    const f = this.file(fd);
    const base = whence === Whence.SET ? 0 : whence === Whence.CUR ? f.pos : whence === Whence.END ? Number(this.fs.fstat(f.handle).size) : fail(Errno.INVAL);
    const pos = base + Number(offset);
    if (pos < 0) fail(Errno.INVAL);
    f.pos = pos;
    this.mem.u64(outPtr, pos);
    return Errno.SUCCESS;
  }

  fd_tell(fd: number, outPtr: number): number {
    this.mem.u64(outPtr, this.file(fd).pos);
    return Errno.SUCCESS;
  }

  close(fd: number): number {
    const e = this.entry(fd);
    if (e.kind === "file") this.fs.close(e.handle);
    this.fds.delete(fd);
    return Errno.SUCCESS;
  }

  /**
   * `fdstat` (24 bytes): fs_filetype u8 @0, fs_flags u16 @2, fs_rights_base u64 @8,
   * fs_rights_inheriting u64 @16. Directories advertise every right for inheritance:
   * wasi-libc masks `open()` rights with it, and a read-only mount must answer EROFS,
   * not hand out a descriptor lacking FD_WRITE.
   */
  fdstat(fd: number, ptr: number): number {
    const e = this.entry(fd);
    const v = this.mem.view;
    v.setUint8(ptr, e.kind === "dir" ? Filetype.DIRECTORY : this.fs.fstat(e.handle).filetype);
    v.setUint16(ptr + 2, e.kind === "file" && e.append ? Fdflags.APPEND : 0, true);
    v.setBigUint64(ptr + 8, e.kind === "dir" || e.mount.writable ? ALL_RIGHTS : ALL_RIGHTS & ~WRITE_RIGHTS, true);
    v.setBigUint64(ptr + 16, ALL_RIGHTS, true);
    return Errno.SUCCESS;
  }

  /** `prestat` (8 bytes): tag u8 @0 (0 = dir), pr_name_len u32 @4. */
  prestat(fd: number, ptr: number): number {
    const e = this.fds.get(fd);
    if (!e || e.kind !== "dir" || !e.preopen) return Errno.BADF;
    this.mem.view.setUint8(ptr, 0);
    this.mem.u32(ptr + 4, new TextEncoder().encode(e.mount.guest).length);
    return Errno.SUCCESS;
  }

  prestatDirName(fd: number, ptr: number, len: number): number {
    const e = this.fds.get(fd);
    if (!e || e.kind !== "dir" || !e.preopen) return Errno.BADF;
    const name = new TextEncoder().encode(e.mount.guest);
    if (len < name.length) return Errno.NAMETOOLONG;
    this.mem.slice(ptr, name.length).set(name);
    return Errno.SUCCESS;
  }

  /**
   * `filestat` (64 bytes): dev u64 @0, ino u64 @8, filetype u8 @16, nlink u64 @24,
   * size u64 @32, atim u64 @40, mtim u64 @48, ctim u64 @56.
   */
  private writeFilestat(ptr: number, s: HostStat): number {
    const v = this.mem.view;
    for (let o = 0; o < 64; o += 8) v.setBigUint64(ptr + o, 0n, true);
    v.setBigUint64(ptr, s.dev, true);
    v.setBigUint64(ptr + 8, s.ino, true);
    v.setUint8(ptr + 16, s.filetype);
    v.setBigUint64(ptr + 24, s.nlink, true);
    v.setBigUint64(ptr + 32, s.size, true);
    v.setBigUint64(ptr + 40, s.atimNs, true);
    v.setBigUint64(ptr + 48, s.mtimNs, true);
    v.setBigUint64(ptr + 56, s.ctimNs, true);
    return Errno.SUCCESS;
  }

  fd_filestat_get(fd: number, ptr: number): number {
    const e = this.entry(fd);
    const host = e.rel ? `${e.mount.host}/${e.rel}` : e.mount.host;
    return this.writeFilestat(ptr, e.kind === "file" ? this.fs.fstat(e.handle) : this.fs.stat(host, true));
  }

  path_filestat_get(fd: number, flags: number, pathPtr: number, pathLen: number, ptr: number): number {
    const { host } = this.resolve(fd, pathPtr, pathLen);
    return this.writeFilestat(ptr, this.fs.stat(host, (flags & Lookupflags.SYMLINK_FOLLOW) !== 0));
  }

  /**
   * `dirent` (24 bytes, then the name): d_next u64 @0 (cookie of the next entry),
   * d_ino u64 @8, d_namlen u32 @16, d_type u8 @20. Entries are written until the
   * buffer is full; a full buffer (`bufused == buf_len`) tells libc to call again.
   */
  fd_readdir(fd: number, buf: number, bufLen: number, cookie: bigint, usedPtr: number): number {
    const d = this.dir(fd);
    const host = d.rel ? `${d.mount.host}/${d.rel}` : d.mount.host;
    const list = [{ name: ".", filetype: Filetype.DIRECTORY }, { name: "..", filetype: Filetype.DIRECTORY }, ...this.fs.readdir(host)];
    const out = this.mem.slice(buf, bufLen);
    let used = 0;
    for (let i = Number(cookie); i < list.length && used < bufLen; i++) {
      const name = new TextEncoder().encode(list[i]!.name);
      const rec = new Uint8Array(24 + name.length);
      const v = new DataView(rec.buffer);
      v.setBigUint64(0, BigInt(i + 1), true);
      v.setBigUint64(8, 0n, true);
      v.setUint32(16, name.length, true);
      v.setUint8(20, list[i]!.filetype);
      rec.set(name, 24);
      const n = Math.min(rec.length, bufLen - used);
      out.set(rec.subarray(0, n), used);
      used += n;
    }
    this.mem.u32(usedPtr, used);
    return Errno.SUCCESS;
  }

  private mutate(fd: number, pathPtr: number, pathLen: number, op: (host: string) => void): number {
    const { mount, host } = this.resolve(fd, pathPtr, pathLen);
    this.writableOrFail(mount);
    op(host);
    return Errno.SUCCESS;
  }
  path_unlink_file(fd: number, p: number, n: number): number {
    return this.mutate(fd, p, n, (h) => this.fs.unlink(h));
  }
  path_create_directory(fd: number, p: number, n: number): number {
    return this.mutate(fd, p, n, (h) => this.fs.mkdir(h));
  }
  path_remove_directory(fd: number, p: number, n: number): number {
    return this.mutate(fd, p, n, (h) => this.fs.rmdir(h));
  }

  /** Close every host handle (end of the run). */
  closeAll(): void {
    for (const e of this.fds.values()) if (e.kind === "file") try { this.fs.close(e.handle); } catch { /* already gone */ }
    this.fds.clear();
  }
}
