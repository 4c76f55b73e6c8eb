/**
 * Outbound TCP sockets for Python on node:net, behind the network allowlist.
 *
 * Pyodide 314's socket syscall wrappers (socket_syscalls.c) hand connect,
 * recvfrom, sendto, poll, fcntl and shutdown on socket fds to JS: the
 * socket's `sock_ops.{connectAsync, recvmsgAsync, sendmsgAsync, fcntl64,
 * shutdown}` and `SOCKFS.pollAsync`. A returned promise suspends only the
 * calling wasm stack (`syscall_syncify`, JSPI), so blocking calls wait
 * without blocking the event loop. greenwasm fills these hooks with the
 * sockets below (the slots Pyodide's experimental `useNodeSockFS` fills);
 * `API._nodeSock` (connect/recv/send/startTls) serves Pyodide's ssl stub.
 *
 * Contracts with the C side:
 * - Every `*Async` op resolves, never rejects, to a count, 0, or a negative
 *   errno in Emscripten's numbering (`ERRNO_CODES`).
 * - `SOCKFS.pollAsync` touches linear memory only before its first await:
 *   the pollfd array often lives on the C stack (CPython's socket timeouts,
 *   Emscripten's select), which Pyodide may copy away and back while the
 *   stack is suspended. After a wait it returns -EINTR and CPython (PEP 475)
 *   polls again with the remaining timeout; that second poll finds the fd
 *   ready and writes `revents` synchronously.
 * - Waits are wake-ups, never timers polling state: data, EOF, errors,
 *   connect, drain and close wake every waiter of the socket.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import { isIP, Socket, connect as netConnect, type LookupFunction } from "node:net";
import { connect as tlsConnect, rootCertificates, type TLSSocket } from "node:tls";
import { hostPort, type NetPolicy } from "./netpolicy.ts";
import type { FSStream, PyodideInternals } from "./pyodide.ts";

// musl / Emscripten ABI constants (the values Pyodide's own NodeSockFS uses).
const AF_INET = 2;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const IPPROTO_TCP = 6;
const O_NONBLOCK = 0o4000;
const S_IFSOCK = 0o140000;
const POLLIN = 0x1;
const POLLOUT = 0x4;
const POLLERR = 0x8;
const POLLHUP = 0x10;
const POLLNVAL = 0x20;
const POLLRDNORM = 0x40;
const F_GETFL = 3;
const F_SETFL = 4;
const FIONREAD = 0x541b;
const FIONBIO = 0x5421;
const SHUT_RD = 0;
const SHUT_WR = 1;
const SHUT_RDWR = 2;
/** Bytes buffered in either direction before reads pause / sends wait. */
const HIGH_WATER = 1 << 20;

/** The flag that grants what was refused (named in every refusal). */
export const ALLOW_NET_FLAG = "--allow-net";

type State = "new" | "connecting" | "connected" | "failed" | "closed";

/** Why the last connect or TLS start of a socket failed, for the guest's messages. */
type Detail = ["denied" | "dns" | "tls", string];

interface SockOps {
  [op: string]: (...args: never[]) => unknown;
}

/** One socket; the fields Emscripten's own syscalls read are marked. */
interface GSock {
  /** Emscripten: family/type/protocol (getsockopt), error (SO_ERROR, read-and-clear). */
  family: number;
  type: number;
  protocol: number;
  error: number | null;
  /** Emscripten: peer and local address for getpeername/getsockname. */
  daddr?: string;
  dport?: number;
  saddr?: string;
  sport?: number;
  stream: FSStream & { fd: number };
  sock_ops: SockOps;
  state: State;
  /** Host and port as the program named them (TLS checks the certificate against `host`). */
  host: string;
  port: number;
  conn: Socket | TLSSocket | null;
  rq: Uint8Array[];
  rbytes: number;
  /** No more bytes will arrive (peer FIN or SHUT_RD). */
  eof: boolean;
  /** Errno of a transport error after connect, reported once by recv, then EOF. */
  rerr: number;
  /** Errno every later send reports (EPIPE, ECONNRESET). */
  werr: number;
  /** The transport is fully closed. */
  hup: boolean;
  waiters: Set<() => void>;
  detail: Detail | null;
  unhook: (() => void) | null;
}

/** Options of the TLS upgrade (`_nodeSock.startTls`). */
interface TlsOptions {
  servername?: string;
  verify?: boolean;
  ca?: string;
}

/** What {@link installNet} returns to the runtime. */
export interface NetHost {
  /** Close every socket still open (the runtime is closing). */
  close(): void;
  /** Sockets currently open. */
  readonly open: number;
}

/** Install greenwasm's sockets into a booted Pyodide. Call once, before any Python socket exists. */
export function installNet(mod: PyodideInternals, policy: NetPolicy): NetHost {
  const { FS, SOCKFS, ERRNO_CODES } = mod;
  const E = (name: string): number => {
    const v = ERRNO_CODES[name];
    if (v === undefined) throw new Error(`greenwasm net: Emscripten has no errno ${name}`);
    return v;
  };
  const EAGAIN = E("EAGAIN");
  const EINPROGRESS = E("EINPROGRESS");
  const EALREADY = E("EALREADY");
  const EISCONN = E("EISCONN");
  const ENOTCONN = E("ENOTCONN");
  const ECONNREFUSED = E("ECONNREFUSED");
  const ECONNRESET = E("ECONNRESET");
  const EPIPE = E("EPIPE");
  const EACCES = E("EACCES");
  const EHOSTUNREACH = E("EHOSTUNREACH");
  const EINVAL = E("EINVAL");
  const EINTR = E("EINTR");
  const EBADF = E("EBADF");
  const EIO = E("EIO");
  const EAFNOSUPPORT = E("EAFNOSUPPORT");
  const EOPNOTSUPP = E("EOPNOTSUPP");
  const EPROTONOSUPPORT = E("EPROTONOSUPPORT");
  const live = new Set<GSock>();
  let counter = 0;

  /** Errno for a Node socket error (codes are POSIX names). */
  const errnoOf = (err: unknown, fallback: number): number => {
    const e = err as { code?: unknown; errors?: { code?: unknown }[] };
    const code = typeof e?.code === "string" ? e.code : e?.errors?.[0]?.code;
    return (typeof code === "string" && ERRNO_CODES[code]) || fallback;
  };
  const isDnsError = (err: unknown): boolean => /^(ENOTFOUND|EAI_)/.test(String((err as { code?: unknown })?.code ?? ""));

  const wake = (s: GSock): void => {
    for (const w of [...s.waiters]) w();
  };

  /** Resolves on the next change of any of `socks`, or after `ms` (never if ms < 0). */
  const change = (socks: readonly GSock[], ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        if (timer) clearTimeout(timer);
        for (const s of socks) s.waiters.delete(done);
        resolve();
      };
      for (const s of socks) s.waiters.add(done);
      if (ms >= 0) timer = setTimeout(done, ms);
    });

  const nonblocking = (s: GSock): boolean => (s.stream.flags & O_NONBLOCK) !== 0;

  const mask = (s: GSock): number => {
    let m = 0;
    if (s.rbytes > 0 || s.eof || s.rerr) m |= POLLIN | POLLRDNORM;
    if (s.rerr) m |= POLLERR;
    switch (s.state) {
      case "connected":
        if (!s.werr && s.conn && s.conn.writable && s.conn.writableLength < HIGH_WATER) m |= POLLOUT;
        if (s.werr) m |= POLLOUT | POLLERR;
        if (s.hup) m |= POLLHUP;
        break;
      case "failed":
        m |= POLLIN | POLLOUT | POLLERR | POLLHUP;
        break;
      case "new":
      case "closed":
        m |= POLLHUP;
        break;
      case "connecting":
        break;
    }
    return m;
  };

  const sockOf = (fd: number): GSock | null => {
    const stream = FS.getStream(fd);
    if (!stream || !FS.isSocket(stream.node.mode)) return null;
    const sock = (stream.node as unknown as { sock?: GSock }).sock;
    return sock && live.has(sock) ? sock : null;
  };

  // ---- receiving -----------------------------------------------------------

  const take = (s: GSock, len: number): Uint8Array => {
    const first = s.rq[0]!;
    let out: Uint8Array;
    if (first.length <= len) {
      s.rq.shift();
      if (first.length === len || s.rq.length === 0) {
        out = first;
      } else {
        out = new Uint8Array(Math.min(len, s.rbytes));
        out.set(first);
        let at = first.length;
        while (at < out.length) {
          const c = s.rq[0]!;
          const n = Math.min(c.length, out.length - at);
          out.set(c.subarray(0, n), at);
          at += n;
          if (n === c.length) s.rq.shift();
          else s.rq[0] = c.subarray(n);
        }
      }
    } else {
      out = first.subarray(0, len);
      s.rq[0] = first.subarray(len);
    }
    s.rbytes -= out.length;
    if (s.conn?.isPaused() && s.rbytes < HIGH_WATER / 2) s.conn.resume();
    return out;
  };

  /** Attach the socket's handlers to a (plain or TLS) transport. */
  const hook = (s: GSock, conn: Socket | TLSSocket): void => {
    const onData = (chunk: Uint8Array): void => {
      if (s.eof) return; // SHUT_RD: discard
      s.rq.push(chunk);
      s.rbytes += chunk.length;
      if (s.rbytes >= HIGH_WATER) conn.pause();
      wake(s);
    };
    const onEnd = (): void => {
      s.eof = true;
      wake(s);
    };
    const onError = (err: Error): void => {
      if (s.state === "connecting") {
        fail(s, err);
        return;
      }
      const errno = errnoOf(err, ECONNRESET);
      if (!s.eof) s.rerr = errno;
      s.werr = errno === ECONNRESET ? ECONNRESET : EPIPE;
      wake(s);
    };
    const onClose = (): void => {
      s.hup = true;
      if (s.state === "connecting") fail(s, Object.assign(new Error("connection closed"), { code: "ECONNRESET" }));
      s.eof = true;
      wake(s);
    };
    const onDrain = (): void => wake(s);
    conn.on("data", onData);
    conn.on("end", onEnd);
    conn.on("error", onError);
    conn.on("close", onClose);
    conn.on("drain", onDrain);
    s.unhook = () => {
      conn.off("data", onData);
      conn.off("end", onEnd);
      conn.off("error", onError);
      conn.off("close", onClose);
      conn.off("drain", onDrain);
    };
  };

  const fail = (s: GSock, err: unknown): void => {
    s.state = "failed";
    s.error = isDnsError(err) ? EHOSTUNREACH : errnoOf(err, ECONNREFUSED);
    if (isDnsError(err)) s.detail = ["dns", `${s.host}: ${(err as Error).message}`];
    s.conn?.destroy();
    wake(s);
  };

  // ---- connecting ----------------------------------------------------------

  /** The allowlist verdict: how to reach `host`, or why not. */
  const target = async (host: string, port: number): Promise<{ lookup?: LookupFunction } | { denied: string }> => {
    const refuse = (extra = ""): { denied: string } => ({
      denied:
        `greenwasm: network access to ${hostPort(host, port)} is not allowed${extra}; ` +
        `grant it with ${ALLOW_NET_FLAG} ${hostPort(host, port)} (runtime option allowNet)`,
    });
    const decision = policy.decide(host, port);
    if (decision === "allow") return {};
    if (decision === "deny") return refuse();
    let found: { address: string; family: number }[];
    try {
      found = await dnsLookup(host, { all: true });
    } catch (err) {
      return refuse(` (it does not resolve: ${String((err as { code?: unknown }).code ?? err)})`);
    }
    const ok = found.filter((a) => policy.allowsAddress(a.address, port));
    if (ok.length === 0) return refuse(` (it resolves to ${found.map((a) => a.address).join(", ")})`);
    // Connect only to the addresses just checked: no second lookup.
    const lookup = ((_name: string, opts: { all?: boolean }, cb: (...a: unknown[]) => void) => {
      if (opts?.all) cb(null, ok);
      else cb(null, ok[0]!.address, ok[0]!.family);
    }) as unknown as LookupFunction;
    return { lookup };
  };

  const connect = async (s: GSock, host: string, port: number, blocking: boolean): Promise<number> => {
    if (s.state === "connected") return -EISCONN;
    if (s.state === "connecting") return -EALREADY;
    if (s.state === "closed") return -EBADF;
    s.detail = null;
    s.error = null;
    s.host = host;
    s.port = port;
    const route = await target(host, port);
    if (s.state !== "new" && s.state !== "failed") return s.state === "closed" ? -EBADF : -EALREADY;
    if ("denied" in route) {
      s.detail = ["denied", route.denied];
      return -EACCES;
    }
    s.state = "connecting";
    s.eof = false;
    s.hup = false;
    s.rerr = 0;
    s.werr = 0;
    s.daddr = host;
    s.dport = port;
    const conn = netConnect({ host, port, noDelay: true, allowHalfOpen: true, ...route });
    s.conn = conn;
    hook(s, conn);
    conn.once("connect", () => {
      if (s.state !== "connecting") return;
      s.state = "connected";
      const remote = conn.remoteAddress?.replace(/^::ffff:/, "");
      if (remote && isIP(remote) === 4) s.daddr = remote;
      const local = conn.localAddress?.replace(/^::ffff:/, "");
      s.saddr = local && isIP(local) === 4 ? local : "0.0.0.0";
      s.sport = conn.localPort;
      wake(s);
    });
    if (!blocking) return -EINPROGRESS;
    while (s.state === "connecting") await change([s], -1);
    if (s.state === "connected") return 0;
    const errno = s.error ?? EBADF;
    s.error = null;
    return -errno;
  };

  /** Connected, or an errno to report; waits through "connecting" when blocking. */
  const ready = async (s: GSock, blocking: boolean): Promise<number> => {
    while (s.state === "connecting") {
      if (!blocking) return EAGAIN;
      await change([s], -1);
    }
    if (s.state === "connected") return 0;
    return s.state === "closed" ? EBADF : ENOTCONN;
  };

  const recv = async (s: GSock, len: number, blocking: boolean): Promise<Uint8Array | number> => {
    for (;;) {
      if (s.rbytes > 0) return len > 0 ? take(s, len) : new Uint8Array(0);
      if (s.rerr) {
        const e = s.rerr;
        s.rerr = 0;
        s.eof = true;
        return -e;
      }
      if (s.eof && s.state === "connected") return 0;
      const notReady = await ready(s, blocking);
      if (notReady) return -notReady;
      if (s.rbytes > 0 || s.eof || s.rerr) continue;
      if (!blocking) return -EAGAIN;
      await change([s], -1);
    }
  };

  const send = async (s: GSock, data: Uint8Array, blocking: boolean): Promise<number> => {
    const notReady = await ready(s, blocking);
    if (notReady) return -notReady;
    for (;;) {
      const conn = s.conn;
      if (s.werr) return -s.werr;
      if (!conn || !conn.writable) return -EPIPE;
      if (conn.writableLength < HIGH_WATER) {
        conn.write(data);
        return data.length;
      }
      if (!blocking) return -EAGAIN;
      await change([s], -1);
    }
  };

  const startTls = async (s: GSock, opts: TlsOptions): Promise<number> => {
    const raw = s.conn;
    if (s.state !== "connected" || !raw) return -ENOTCONN;
    s.unhook?.();
    s.rq = [];
    s.rbytes = 0;
    const name = opts.servername || s.host;
    const tlsSock = tlsConnect({
      socket: raw,
      host: name,
      servername: isIP(name) ? undefined : name,
      rejectUnauthorized: opts.verify !== false,
      ca: opts.ca ? [...rootCertificates, opts.ca] : undefined,
    });
    s.conn = tlsSock;
    hook(s, tlsSock);
    const outcome = await new Promise<Error | null>((resolve) => {
      tlsSock.once("secureConnect", () => resolve(null));
      tlsSock.once("error", (err) => resolve(err));
      tlsSock.once("close", () => resolve(new Error("connection closed during the TLS handshake")));
    });
    if (!outcome) return 0;
    s.detail = ["tls", `${(outcome as { code?: string }).code ?? "TLS"}: ${outcome.message}`];
    tlsSock.destroy();
    return -EIO;
  };

  const close = (s: GSock): void => {
    if (s.state === "closed") return;
    s.state = "closed";
    live.delete(s);
    s.conn?.destroy();
    s.unhook?.();
    s.conn = null;
    s.rq = [];
    s.rbytes = 0;
    wake(s);
  };

  // ---- the hooks Pyodide's syscall wrappers call -----------------------------

  const guard = async <T>(fn: () => Promise<T>): Promise<T | number> => {
    try {
      return await fn();
    } catch {
      return -EIO;
    }
  };

  const sockOps: SockOps = {
    poll: (s: GSock) => mask(s),
    // Present so Pyodide routes poll() on our fds to SOCKFS.pollAsync.
    pollAsync: () => Promise.resolve(0),
    connectAsync: (s: GSock, addr: string, port: number) => guard(() => connect(s, addr, port, !nonblocking(s))),
    recvmsgAsync: (s: GSock, len: number) => guard(() => recv(s, len, !nonblocking(s))),
    sendmsgAsync: (s: GSock, data: Uint8Array) => guard(() => send(s, data, !nonblocking(s))),
    fcntl64: (s: GSock, cmd: number, varargs: number) => {
      if (cmd === F_GETFL) return s.stream.flags;
      if (cmd === F_SETFL) {
        const arg = mod.HEAP32[varargs >>> 2]!;
        s.stream.flags = (s.stream.flags & ~O_NONBLOCK) | (arg & O_NONBLOCK);
        return 0;
      }
      return -EINVAL; // Emscripten's own fcntl handles the rest
    },
    ioctl: (s: GSock, request: number, argp: number) => {
      if (request === FIONREAD) {
        mod.HEAP32[argp >>> 2] = s.rbytes;
        return 0;
      }
      if (request === FIONBIO) {
        s.stream.flags = mod.HEAP32[argp >>> 2] ? s.stream.flags | O_NONBLOCK : s.stream.flags & ~O_NONBLOCK;
        return 0;
      }
      return -EINVAL;
    },
    shutdown: (s: GSock, how: number) => {
      if (how !== SHUT_RD && how !== SHUT_WR && how !== SHUT_RDWR) return -EINVAL;
      if (s.state !== "connected" || !s.conn) return -ENOTCONN;
      if (how !== SHUT_WR) {
        s.eof = true;
        s.rq = [];
        s.rbytes = 0;
      }
      if (how !== SHUT_RD) s.conn.end();
      wake(s);
      return 0;
    },
    close: (s: GSock) => {
      close(s);
      return 0;
    },
    bind: () => {
      throw new FS.ErrnoError(EOPNOTSUPP);
    },
    listen: () => {
      throw new FS.ErrnoError(EOPNOTSUPP);
    },
    accept: () => {
      throw new FS.ErrnoError(EOPNOTSUPP);
    },
  };

  const streamOps = {
    poll: (stream: FSStream) => mask(stream.node.sock as GSock),
    ioctl: (stream: FSStream, request: number, argp: number) => sockOps["ioctl"]!(stream.node.sock as never, request as never, argp as never),
    close: (stream: FSStream) => close(stream.node.sock as GSock),
  };

  SOCKFS.createSocket = (family: number, type: number, protocol: number): GSock => {
    if (family !== AF_INET) throw new FS.ErrnoError(EAFNOSUPPORT);
    const flags = type & SOCK_NONBLOCK ? O_NONBLOCK : 0;
    const kind = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (kind !== SOCK_STREAM) throw new FS.ErrnoError(kind === 2 ? EOPNOTSUPP : EINVAL); // 2: SOCK_DGRAM (UDP)
    if (protocol && protocol !== IPPROTO_TCP) throw new FS.ErrnoError(EPROTONOSUPPORT);
    const name = `greenwasm-socket[${counter++}]`;
    const node = FS.createNode(SOCKFS.root, name, S_IFSOCK, 0);
    const s = {
      family, type: kind, protocol: protocol || IPPROTO_TCP, error: null, sock_ops: sockOps,
      state: "new", host: "", port: 0, conn: null, rq: [], rbytes: 0, eof: false, rerr: 0, werr: 0, hup: false,
      waiters: new Set(), detail: null, unhook: null,
    } as unknown as GSock;
    node.sock = s;
    s.stream = FS.createStream({ path: name, node, flags: 2 /* O_RDWR */ | flags, seekable: false, stream_ops: streamOps });
    live.add(s);
    return s;
  };

  SOCKFS.pollAsync = async (fds: number, nfds: number, timeout: number): Promise<number> => {
    // Read and write memory only in this synchronous first part (see the contract above).
    const polled: { s: GSock; events: number }[] = [];
    let count = 0;
    for (let i = 0; i < nfds; i++) {
      const at = fds + 8 * i;
      const fd = mod.HEAP32[at >>> 2]!;
      const events = mod.HEAP16[(at + 4) >>> 1]!;
      const s = fd < 0 ? null : sockOf(fd);
      const revents = fd < 0 ? 0 : s ? mask(s) & (events | POLLERR | POLLHUP) : POLLNVAL;
      mod.HEAP16[(at + 6) >>> 1] = revents;
      if (revents) count++;
      if (s) polled.push({ s, events });
    }
    if (count > 0 || timeout === 0) return count;
    try {
      const deadline = timeout > 0 ? performance.now() + timeout : Infinity;
      const socks = polled.map((p) => p.s);
      for (;;) {
        const left = deadline - performance.now();
        if (left <= 0) return 0;
        await change(socks, Number.isFinite(left) ? Math.ceil(left) : -1);
        if (polled.some((p) => mask(p.s) & (p.events | POLLERR | POLLHUP))) return -EINTR;
      }
    } catch {
      return -EIO;
    }
  };

  // Pyodide's ssl stub (SSLSocket.do_handshake) and webloop reach sockets through this.
  const byFd = (fd: number): GSock => {
    const s = sockOf(fd);
    if (!s) throw new FS.ErrnoError(EBADF);
    return s;
  };
  const check = (r: number): number => {
    if (r < 0) throw new FS.ErrnoError(-r);
    return r;
  };
  mod.API["_nodeSock"] = {
    connect: async (fd: number, host: string, port: number) => {
      check(await connect(byFd(fd), host, port, true));
    },
    recv: async (fd: number, n: number) => {
      const r = await recv(byFd(fd), n, true);
      return typeof r === "number" ? (check(r), new Uint8Array(0)) : r;
    },
    send: async (fd: number, data: Uint8Array | { toJs(): Uint8Array }) => {
      const bytes = data instanceof Uint8Array ? data : data.toJs();
      return check(await send(byFd(fd), bytes, true));
    },
    startTls: (fd: number, opts?: TlsOptions) => guard(() => startTls(byFd(fd), opts ?? {})),
    /** greenwasm: why the last connect or TLS start on `fd` failed: [kind, message] or null. */
    explain: (fd: number): Detail | null => sockOf(fd)?.detail ?? null,
  };

  return {
    close() {
      for (const s of [...live]) close(s);
    },
    get open() {
      return live.size;
    },
  };
}
