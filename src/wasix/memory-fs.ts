/**
 * An in-memory `FsBackend`, for browsers (or tests): pass it as `runWasix`'s `fs`
 * and mount its directories like host directories.
 *
 *   const fs = createMemoryFs({ "/data/in.txt": "hello\n", "/out": null });  // null = directory
 *   await runWasix(bytes, { fs, mounts: [{ host: "/data", guest: "/data" }, { host: "/out", guest: "/out", writable: true }] });
 *   fs.readFile("/out/result.txt");
 *
 * Paths are absolute, `/`-separated; parent directories are created implicitly. No symlinks.
 */
import { Filetype } from "./defs.ts";
import type { FsBackend, HostStat } from "./wasi-fs.ts";

type Node = { kind: "dir"; children: Map<string, Node>; ino: bigint; mtimNs: bigint } | { kind: "file"; data: Uint8Array; size: number; ino: bigint; mtimNs: bigint };

function fsError(code: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${path}`), { code });
}

export interface MemoryFs extends FsBackend {
  /** Contents of a file, or undefined if there is none. */
  readFile(path: string): Uint8Array | undefined;
}

export function createMemoryFs(files: Record<string, string | Uint8Array | null> = {}): MemoryFs {
  let nextIno = 1n;
  const now = () => BigInt(Date.now()) * 1_000_000n;
  const dir = (): Node => ({ kind: "dir", children: new Map(), ino: nextIno++, mtimNs: now() });
  const root = dir();
  const handles = new Map<number, Node & { kind: "file" }>();
  let nextHandle = 1;
  const parts = (path: string) => path.split("/").filter((p) => p !== "" && p !== ".");

  function lookup(path: string): Node | undefined {
    let n: Node | undefined = root;
    for (const p of parts(path)) n = n?.kind === "dir" ? n.children.get(p) : undefined;
    return n;
  }
  function parentOf(path: string, create: boolean): { parent: Node & { kind: "dir" }; name: string } {
    const ps = parts(path);
    const name = ps.pop();
    if (name === undefined) throw fsError("EEXIST", path);
    let n: Node = root;
    for (const p of ps) {
      if (n.kind !== "dir") throw fsError("ENOTDIR", path);
      let next = n.children.get(p);
      if (!next) {
        if (!create) throw fsError("ENOENT", path);
        n.children.set(p, (next = dir()));
      }
      n = next;
    }
    if (n.kind !== "dir") throw fsError("ENOTDIR", path);
    return { parent: n, name };
  }
  const get = (path: string): Node => lookup(path) ?? (() => { throw fsError("ENOENT", path); })();
  const statOf = (n: Node): HostStat => ({
    filetype: n.kind === "dir" ? Filetype.DIRECTORY : Filetype.REGULAR_FILE,
    dev: 1n, ino: n.ino, nlink: 1n, size: BigInt(n.kind === "dir" ? 4096 : n.size),
    atimNs: n.mtimNs, mtimNs: n.mtimNs, ctimNs: n.mtimNs,
  });
  const handle = (h: number) => handles.get(h) ?? (() => { throw fsError("EBADF", String(h)); })();

  for (const [path, content] of Object.entries(files)) {
    const { parent, name } = parentOf(path, true);
    if (content === null) parent.children.set(name, dir());
    else {
      const data = typeof content === "string" ? new TextEncoder().encode(content) : content.slice();
      parent.children.set(name, { kind: "file", data, size: data.length, ino: nextIno++, mtimNs: now() });
    }
  }

  return {
    stat: (path) => statOf(get(path)),
    realpath: (path) => (get(path), "/" + parts(path).join("/")),
    open(path, f) {
      let n = lookup(path);
      if (n && f.create && f.exclusive) throw fsError("EEXIST", path);
      if (!n) {
        if (!f.create) throw fsError("ENOENT", path);
        const { parent, name } = parentOf(path, false);
        parent.children.set(name, (n = { kind: "file", data: new Uint8Array(0), size: 0, ino: nextIno++, mtimNs: now() }));
      }
      if (n.kind !== "file") throw fsError("EISDIR", path);
      if (f.truncate) n.size = 0;
      handles.set(nextHandle, n);
      return nextHandle++;
    },
    close: (h) => void handles.delete(h),
    read(h, into, pos) {
      const n = handle(h);
      const k = Math.max(0, Math.min(into.length, n.size - pos));
      into.set(n.data.subarray(pos, pos + k));
      return k;
    },
    write(h, from, pos) {
      const n = handle(h);
      const end = pos + from.length;
      if (end > n.data.length) {
        const grown = new Uint8Array(Math.max(end, n.data.length * 2));
        grown.set(n.data.subarray(0, n.size));
        n.data = grown;
      }
      n.data.set(from, pos);
      n.size = Math.max(n.size, end);
      n.mtimNs = now();
      return from.length;
    },
    fstat: (h) => statOf(handle(h)),
    readdir(path) {
      const n = get(path);
      if (n.kind !== "dir") throw fsError("ENOTDIR", path);
      return [...n.children].map(([name, c]) => ({ name, filetype: c.kind === "dir" ? Filetype.DIRECTORY : Filetype.REGULAR_FILE }));
    },
    unlink(path) {
      const { parent, name } = parentOf(path, false);
      const n = parent.children.get(name);
      if (!n) throw fsError("ENOENT", path);
      if (n.kind === "dir") throw fsError("EISDIR", path);
      parent.children.delete(name);
    },
    mkdir(path) {
      const { parent, name } = parentOf(path, false);
      if (parent.children.has(name)) throw fsError("EEXIST", path);
      parent.children.set(name, dir());
    },
    rmdir(path) {
      const { parent, name } = parentOf(path, false);
      const n = parent.children.get(name);
      if (!n) throw fsError("ENOENT", path);
      if (n.kind !== "dir") throw fsError("ENOTDIR", path);
      if (n.children.size) throw fsError("ENOTEMPTY", path);
      parent.children.delete(name);
    },
    readFile(path) {
      const n = lookup(path);
      return n?.kind === "file" ? n.data.slice(0, n.size) : undefined;
    },
  };
}
