/**
 * One mapping from host errors to WASI errno values. Host file-system code
 * (Node's `fs`, or any backend) throws errors with a POSIX `code` string; the
 * WASI host throws `WasiErrnoError` for conditions it detects itself. Anything
 * else (a bug, an unexpected exception) becomes `EIO`, never a thrown string.
 */
import { Errno } from "./defs.ts";

/** A WASI call failed with a specific errno (internal control flow of the host). */
export class WasiErrnoError extends Error {
  override name = "WasiErrnoError";
  readonly errno: number;
  constructor(errno: number, message = `WASI errno ${errno}`) {
    super(message);
    this.errno = errno;
  }
}

/** POSIX error code names (as in Node's `err.code`) to WASI errno. */
const BY_CODE: Readonly<Record<string, number>> = {
  E2BIG: Errno.TOOBIG, EACCES: Errno.ACCES, EAGAIN: Errno.AGAIN, EWOULDBLOCK: Errno.AGAIN,
  EBADF: Errno.BADF, EBUSY: Errno.BUSY, ECANCELED: Errno.CANCELED, EEXIST: Errno.EXIST,
  EFAULT: Errno.FAULT, EFBIG: Errno.FBIG, EINTR: Errno.INTR, EINVAL: Errno.INVAL, EIO: Errno.IO,
  EISDIR: Errno.ISDIR, ELOOP: Errno.LOOP, EMFILE: Errno.MFILE, EMLINK: Errno.MLINK,
  ENAMETOOLONG: Errno.NAMETOOLONG, ENFILE: Errno.NFILE, ENODEV: Errno.NODEV, ENOENT: Errno.NOENT,
  ENOMEM: Errno.NOMEM, ENOSPC: Errno.NOSPC, ENOSYS: Errno.NOSYS, ENOTDIR: Errno.NOTDIR,
  ENOTEMPTY: Errno.NOTEMPTY, ENOTSUP: Errno.NOTSUP, EOPNOTSUPP: Errno.NOTSUP, ENXIO: Errno.NXIO,
  EOVERFLOW: Errno.OVERFLOW, EPERM: Errno.PERM, EPIPE: Errno.PIPE, ERANGE: Errno.RANGE,
  EROFS: Errno.ROFS, ESPIPE: Errno.SPIPE, ETIMEDOUT: Errno.TIMEDOUT, ETXTBSY: Errno.TXTBSY,
  EXDEV: Errno.XDEV, EDQUOT: Errno.DQUOT, ENOTCAPABLE: Errno.NOTCAPABLE,
};

/** The WASI errno for a host error. Default: `EIO`. */
export function errnoOf(e: unknown): number {
  if (e instanceof WasiErrnoError) return e.errno;
  if (e instanceof RangeError) return Errno.FAULT; // out-of-bounds guest pointer (DataView access)
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === "string" && code in BY_CODE) return BY_CODE[code]!;
  return Errno.IO;
}
