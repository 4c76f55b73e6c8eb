/**
 * Host directory mounts for the guest filesystem.
 *
 * Emscripten's NODEFS has no read-only flag. A read-only mount here is NODEFS
 * with every node's operation tables replaced by wrappers that:
 * - fail every mutating operation (create, mkdir, rename, unlink, rmdir,
 *   symlink, chmod/utime/truncate, write, msync) with EROFS;
 * - refuse to open a file for writing or truncation (EROFS);
 * - answer every write-permission check on their nodes with EROFS, before
 *   mode bits are considered (as Linux does), through a wrapper around this
 *   Module's `FS.nodePermissions`; so `os.access(p, os.W_OK)` is False.
 * Nodes get the wrapped tables when created by `lookup`, so every node reached
 * below a read-only mount point is wrapped.
 *
 * Symlinks inside a mount are resolved by Emscripten in the guest namespace,
 * so a link cannot lead to host files outside the mounted directory.
 */
import type { EmscriptenFS, FSNode, FSOps, FSStream, FSType, PyodideInternals } from "./pyodide.ts";

const O_ACCMODE = 3;
const O_TRUNC = 512;
const O_APPEND = 1024;

/** A resolved mount: absolute host directory, normalized guest path. */
export interface MountSpec {
  host: string;
  guest: string;
  writable: boolean;
}

type AnyFn = (...args: unknown[]) => unknown;

function op(table: FSOps, name: string): AnyFn {
  const fn = table[name];
  if (typeof fn !== "function") throw new Error(`NODEFS lacks operation ${name}`);
  return fn as unknown as AnyFn;
}

/** Build the read-only filesystem type wrapping `FS.filesystems.NODEFS`. */
export function createReadOnlyNodeFS(mod: PyodideInternals): FSType {
  const FS = mod.FS;
  const NODEFS = FS.filesystems.NODEFS;
  const EROFS = mod.ERRNO_CODES["EROFS"] ?? 69;
  const erofs = (): never => {
    throw new FS.ErrnoError(EROFS);
  };
  const nodeOps: FSOps = { ...NODEFS.node_ops };
  const streamOps: FSOps = { ...NODEFS.stream_ops };
  const wrap = (node: FSNode): FSNode => {
    node.node_ops = nodeOps;
    node.stream_ops = streamOps;
    return node;
  };
  const baseLookup = op(NODEFS.node_ops, "lookup");
  const baseOpen = op(NODEFS.stream_ops, "open");
  const basePermissions = FS.nodePermissions.bind(FS);
  FS.nodePermissions = (node: FSNode, perms: string): number =>
    node.node_ops === nodeOps && perms.includes("w") ? EROFS : basePermissions(node, perms);

  Object.assign(nodeOps, {
    lookup: (parent: FSNode, name: string) => wrap(baseLookup(parent, name) as FSNode),
    setattr: erofs,
    mknod: erofs,
    rename: erofs,
    unlink: erofs,
    rmdir: erofs,
    symlink: erofs,
  });
  Object.assign(streamOps, {
    open: (stream: FSStream) => {
      if ((stream.flags & O_ACCMODE) !== 0 || (stream.flags & (O_TRUNC | O_APPEND)) !== 0) erofs();
      return baseOpen(stream);
    },
    setattr: erofs,
    write: erofs,
    msync: erofs,
  });

  return {
    ...NODEFS,
    node_ops: nodeOps,
    stream_ops: streamOps,
    mount: (mount: unknown) => wrap(NODEFS.mount(mount)),
  };
}

/**
 * Mount each spec, parents before children. Guest mount points are created in
 * MEMFS as needed. Throws if a mount point cannot be created (e.g. it lies
 * inside a read-only mount and does not exist on the host).
 */
export function mountAll(mod: PyodideInternals, specs: readonly MountSpec[]): void {
  const FS: EmscriptenFS = mod.FS;
  const readOnly = createReadOnlyNodeFS(mod);
  const ordered = [...specs].sort((a, b) => a.guest.split("/").length - b.guest.split("/").length);
  for (const spec of ordered) {
    const existing = FS.analyzePath(spec.guest);
    if (!existing.exists) FS.mkdirTree(spec.guest);
    else if (!existing.object || !FS.isDir(existing.object.mode)) throw new Error(`guest path ${spec.guest} exists and is not a directory`);
    FS.mount(spec.writable ? FS.filesystems.NODEFS : readOnly, { root: spec.host }, spec.guest);
  }
}
