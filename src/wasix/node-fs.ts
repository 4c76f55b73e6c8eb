/**
 * `FsBackend` on Node's synchronous `node:fs`. Node-only: the runner imports
 * this file dynamically, and only when mounts are given without a custom backend.
 */
import * as fs from "node:fs";
import { Filetype } from "./defs.ts";
import type { FsBackend, HostStat } from "./wasi-fs.ts";

function filetypeOf(s: fs.Stats | fs.Dirent): number {
  if (s.isFile()) return Filetype.REGULAR_FILE;
  if (s.isDirectory()) return Filetype.DIRECTORY;
  if (s.isSymbolicLink()) return Filetype.SYMBOLIC_LINK;
  if (s.isCharacterDevice()) return Filetype.CHARACTER_DEVICE;
  if (s.isBlockDevice()) return Filetype.BLOCK_DEVICE;
  if (s.isSocket()) return Filetype.SOCKET_STREAM;
  return Filetype.UNKNOWN;
}

function toStat(s: fs.BigIntStats): HostStat {
  return {
    filetype: filetypeOf(s as unknown as fs.Stats),
    dev: s.dev, ino: s.ino, nlink: s.nlink, size: s.size,
    atimNs: s.atimeNs, mtimNs: s.mtimeNs, ctimNs: s.ctimeNs,
  };
}

export const nodeFs: FsBackend = {
  stat: (path, follow) => toStat(follow ? fs.statSync(path, { bigint: true }) : fs.lstatSync(path, { bigint: true })),
  realpath: (path) => fs.realpathSync(path),
  open(path, f) {
    const c = fs.constants;
    let flags = f.write ? c.O_RDWR : c.O_RDONLY;
    if (f.create) flags |= c.O_CREAT;
    if (f.exclusive) flags |= c.O_EXCL;
    if (f.truncate) flags |= c.O_TRUNC;
    try {
      return fs.openSync(path, flags, 0o666);
    } catch (e) {
      // A write-only host file: retry without read access.
      if (f.write && (e as { code?: string }).code === "EACCES") return fs.openSync(path, (flags & ~c.O_RDWR) | c.O_WRONLY, 0o666);
      throw e;
    }
  },
  close: (h) => fs.closeSync(h),
  read: (h, into, pos) => fs.readSync(h, into, 0, into.length, pos),
  write: (h, from, pos) => fs.writeSync(h, from, 0, from.length, pos),
  fstat: (h) => toStat(fs.fstatSync(h, { bigint: true })),
  readdir: (path) => fs.readdirSync(path, { withFileTypes: true }).map((d) => ({ name: d.name, filetype: filetypeOf(d) })),
  unlink: (path) => fs.unlinkSync(path),
  mkdir: (path) => fs.mkdirSync(path),
  rmdir: (path) => fs.rmdirSync(path),
};
