/**
 * Outbound TCP sockets for Python: the hooks Pyodide's socket syscalls call.
 *
 * Pyodide 314's socket syscall wrappers (socket_syscalls.c) hand connect,
 * recvfrom, sendto, poll, fcntl and shutdown on socket fds to JS: the
 * socket's `sock_ops.{connectAsync, recvmsgAsync, sendmsgAsync, fcntl64,
 * shutdown}` and `SOCKFS.pollAsync`. A returned promise suspends only the
 * calling wasm stack (`syscall_syncify`, JSPI), so a blocking call waits
 * without blocking the event loop. Each suspension costs a full Pyodide
 * stack save and restore, so a call whose answer is known now does not
 * suspend: each socket's `recvmsgAsync` reads as undefined while the socket
 * can answer at once, and `pollAsync` returns null when some fd is ready,
 * which sends the call to Emscripten's synchronous syscall
 * (`sock_ops.recvmsg`, `stream_ops.poll`). greenwasm fills these slots (the ones
 * Pyodide's experimental `useNodeSockFS` fills) with netsock.ts sockets, and
 * `API._nodeSock` (connect/recv/send/startTls) serves Pyodide's ssl stub.
 *
 * Contract with the C side: `SOCKFS.pollAsync` touches linear memory only
 * before its first await. The pollfd array often lives on the C stack
 * (CPython's socket timeouts), which Pyodide may copy away and back while
 * the stack is suspended. After a wait it returns -EINTR and CPython
 * (PEP 475) polls again with the remaining timeout; that poll finds the fd
 * ready and writes `revents` synchronously. (Emscripten's select() loses
 * that errno, so greenwasm._net rebuilds select.select on poll.)
 */
import type { NetPolicy } from "./netpolicy.ts";
import { change, errnosFrom, O_NONBLOCK, POLLERR, POLLHUP, POLLNVAL, TcpSocket, type Detail, type NetContext } from "./netsock.ts";
import type { FSStream, PyodideInternals } from "./pyodide.ts";

export { ALLOW_NET_FLAG } from "./netsock.ts";

// musl / Emscripten ABI constants (the values Pyodide's own NodeSockFS uses).
const AF_INET = 2;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const IPPROTO_TCP = 6;
const O_RDWR = 2;
const S_IFSOCK = 0o140000;
const F_GETFL = 3;
const F_SETFL = 4;
const FIONREAD = 0x541b;
const FIONBIO = 0x5421;

/** What {@link installNet} returns to the runtime. */
export interface NetHost {
  /** Close every socket still open (the runtime is closing). */
  close(): void;
  /** Sockets currently open. */
  readonly open: number;
  /** Socket calls so far that suspended their stack (connect, recv or send through a hook, or a poll that waited). */
  readonly waits: number;
}

/** Install greenwasm's sockets into a booted Pyodide. Call once, before any Python socket exists. */
export function installNet(mod: PyodideInternals, policy: NetPolicy): NetHost {
  const { FS, SOCKFS } = mod;
  const e = errnosFrom(mod.ERRNO_CODES);
  const ctx: NetContext = { policy, e, live: new Set() };
  let counter = 0;
  let waits = 0;

  const sockOf = (fd: number): TcpSocket | null => {
    const stream = FS.getStream(fd);
    const sock = stream && FS.isSocket(stream.node.mode) ? stream.node.sock : null;
    return sock instanceof TcpSocket && ctx.live.has(sock) ? sock : null;
  };
  /** The C side must get a number: an unexpected JS error becomes -EIO. */
  const guard = <T>(p: Promise<T>): Promise<T | number> => {
    waits++;
    return p.catch(() => -e.EIO);
  };
  const ioctl = (s: TcpSocket, request: number, argp: number): number => {
    if (request === FIONREAD) {
      mod.HEAP32[argp >>> 2] = s.buffered;
      return 0;
    }
    if (request === FIONBIO) {
      s.stream.flags = mod.HEAP32[argp >>> 2] ? s.stream.flags | O_NONBLOCK : s.stream.flags & ~O_NONBLOCK;
      return 0;
    }
    return -e.EINVAL;
  };
  const unsupported = (): never => {
    throw new FS.ErrnoError(e.EOPNOTSUPP); // outbound only: no bind, listen, accept
  };

  /** Emscripten's synchronous syscalls take a result or an ErrnoError; only taken when the socket can answer now. */
  const now = <T>(call: () => T | number | undefined): T | number => {
    let r: T | number | undefined;
    try {
      r = call();
    } catch {
      r = -e.EIO; // as `guard` does for the async path: never a JS exception into the syscall
    }
    if (r === undefined) r = -e.EAGAIN; // only if a sync syscall is reached while the call must wait
    if (typeof r === "number" && r < 0) throw new FS.ErrnoError(-r);
    return r;
  };
  const recvmsgAsync = (s: TcpSocket, len: number) => guard(s.recv(len, !s.nonblocking));
  // Emscripten's sendto/write syscalls (reached when a hook is absent, e.g. write(2) on a socket fd).
  const sendmsg = (s: TcpSocket, buffer: Int8Array | Uint8Array, offset: number, length: number): number =>
    now(() => s.sendNow(new Uint8Array(buffer.buffer, buffer.byteOffset + offset, length).slice(), !s.nonblocking)) as number;
  const sockOps = {
    poll: (s: TcpSocket) => s.mask(),
    // Present so that Pyodide routes poll() on our fds to SOCKFS.pollAsync.
    pollAsync: () => Promise.resolve(0),
    connectAsync: (s: TcpSocket, addr: string, port: number) => guard(s.connect(addr, port, !s.nonblocking)),
    // Pyodide copies the bytes out of linear memory before calling this.
    sendmsgAsync: (s: TcpSocket, data: Uint8Array) => guard(s.send(data, !s.nonblocking)),
    recvmsg: (s: TcpSocket, len: number) => {
      const r = now(() => s.recvNow(len, !s.nonblocking));
      return r === 0 ? null : { buffer: r, addr: s.daddr, port: s.dport };
    },
    sendmsg,
    fcntl64: (s: TcpSocket, cmd: number, varargs: number) => {
      if (cmd === F_GETFL) return s.stream.flags;
      if (cmd === F_SETFL) {
        const arg = mod.HEAP32[varargs >>> 2]!;
        s.stream.flags = (s.stream.flags & ~O_NONBLOCK) | (arg & O_NONBLOCK);
        return 0;
      }
      return -e.EINVAL; // Emscripten's own fcntl handles the other commands
    },
    ioctl,
    shutdown: (s: TcpSocket, how: number) => s.shutdown(how),
    close: (s: TcpSocket) => (s.close(), 0),
    bind: unsupported,
    listen: unsupported,
    accept: unsupported,
  };
  /**
   * This socket's table. `recvmsgAsync` is visible only while a recv would
   * have to wait. Sends always take the async hook: a synchronous send saves
   * ~3 µs per call but made a blocking request/response round trip ~6 µs
   * slower here (measured with bench/io-net.ts's loop): the stack then
   * reaches its wait for the reply sooner and the process sleeps in epoll
   * and pays the wake-up, where the suspension's extra turn found the reply
   * already arrived.
   */
  const opsFor = (s: TcpSocket): object =>
    Object.create(sockOps, {
      recvmsgAsync: { get: () => (s.canRecvNow(!s.nonblocking) ? undefined : recvmsgAsync) },
    }) as object;
  const streamOps = {
    poll: (stream: FSStream) => (stream.node.sock as TcpSocket).mask(),
    write: (stream: FSStream, buffer: Int8Array, offset: number, length: number) => sendmsg(stream.node.sock as TcpSocket, buffer, offset, length),
    ioctl: (stream: FSStream, request: number, argp: number) => ioctl(stream.node.sock as TcpSocket, request, argp),
    close: (stream: FSStream) => (stream.node.sock as TcpSocket).close(),
  };

  SOCKFS.createSocket = (family: number, type: number, protocol: number): TcpSocket => {
    if (family !== AF_INET) throw new FS.ErrnoError(e.EAFNOSUPPORT);
    const kind = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (kind !== SOCK_STREAM) throw new FS.ErrnoError(kind === SOCK_DGRAM ? e.EOPNOTSUPP : e.EINVAL);
    if (protocol && protocol !== IPPROTO_TCP) throw new FS.ErrnoError(e.EPROTONOSUPPORT);
    const name = `greenwasm-socket[${counter++}]`;
    const node = FS.createNode(SOCKFS.root, name, S_IFSOCK, 0);
    const s = new TcpSocket(ctx, family, kind, IPPROTO_TCP, opsFor);
    node.sock = s;
    const flags = O_RDWR | (type & SOCK_NONBLOCK ? O_NONBLOCK : 0);
    s.stream = FS.createStream({ path: name, node, flags, seekable: false, stream_ops: streamOps });
    return s;
  };

  SOCKFS.pollAsync = (fds: number, nfds: number, timeout: number): Promise<number> | null => {
    // Linear memory is read and written only in this synchronous part (see the contract above).
    const polled: { s: TcpSocket; events: number }[] = [];
    let count = 0;
    for (let i = 0; i < nfds; i++) {
      const at = fds + 8 * i;
      const fd = mod.HEAP32[at >>> 2]!;
      const events = mod.HEAP16[(at + 4) >>> 1]!;
      const s = fd < 0 ? null : sockOf(fd);
      const revents = fd < 0 ? 0 : s ? s.mask() & (events | POLLERR | POLLHUP) : POLLNVAL;
      mod.HEAP16[(at + 6) >>> 1] = revents;
      if (revents) count++;
      if (s) polled.push({ s, events });
    }
    // Ready now: Emscripten's synchronous poll answers the same through stream_ops.poll, without suspending.
    if (count > 0 || timeout === 0) return null;
    return waitPoll(polled, timeout);
  };
  const waitPoll = async (polled: { s: TcpSocket; events: number }[], timeout: number): Promise<number> => {
    waits++;
    try {
      const deadline = timeout > 0 ? performance.now() + timeout : Infinity;
      const socks = polled.map((p) => p.s);
      for (;;) {
        const left = deadline - performance.now();
        if (left <= 0) return 0;
        await change(socks, Number.isFinite(left) ? Math.ceil(left) : -1);
        if (polled.some((p) => p.s.mask() & (p.events | POLLERR | POLLHUP))) return -e.EINTR;
      }
    } catch {
      return -e.EIO;
    }
  };

  // Pyodide's ssl stub (SSLSocket.do_handshake) and webloop (asyncio) reach
  // sockets here. Calls block regardless of O_NONBLOCK; failures reject with an
  // Error carrying `errno`, which greenwasm._net turns back into OSError.
  const fail = (errno: number, s?: TcpSocket | null): never => {
    const name = Object.keys(e.all).find((k) => e.all[k] === errno) ?? String(errno);
    throw Object.assign(new Error(s?.detail?.[1] ?? name), { name: "OSError", errno });
  };
  const byFd = (fd: number): TcpSocket => sockOf(fd) ?? fail(e.EBADF);
  const check = (r: number, s: TcpSocket): number => (r < 0 ? fail(-r, s) : r);
  mod.API["_nodeSock"] = {
    connect: async (fd: number, host: string, port: number) => {
      const s = byFd(fd);
      check(await s.connect(host, port, true), s);
    },
    recv: async (fd: number, n: number) => {
      const s = byFd(fd);
      const r = await s.recv(n, true);
      if (typeof r === "number") return (check(r, s), new Uint8Array(0));
      // A plain Uint8Array: Pyodide's converter rejects Node's Buffer subclass.
      return new Uint8Array(r.buffer, r.byteOffset, r.byteLength);
    },
    send: async (fd: number, data: Uint8Array | { toJs(): Uint8Array }) => {
      const s = byFd(fd);
      return check(await s.send(data instanceof Uint8Array ? data : data.toJs(), true), s);
    },
    /** Pyodide's stub passes only `fd`; greenwasm._net adds the SSL context's settings. */
    startTls: (fd: number, servername?: string, verify?: boolean, ca?: string | null, checkHostname?: boolean) => {
      const s = sockOf(fd);
      const opts = { servername: servername || undefined, verify: verify !== false, ca: ca ?? undefined, checkHostname: checkHostname !== false };
      return s ? guard(s.startTls(opts)) : Promise.resolve(-e.EBADF);
    },
    /** greenwasm: why the last connect or TLS start on `fd` failed, or null. */
    explain: (fd: number): Detail | null => sockOf(fd)?.detail ?? null,
  };

  return {
    close() {
      for (const s of [...ctx.live]) s.close();
    },
    get open() {
      return ctx.live.size;
    },
    get waits() {
      return waits;
    },
  };
}
