/**
 * One guest TCP socket on a node:net (or node:tls) socket: the state machine
 * behind the syscall hooks of net.ts. Knows nothing of linear memory.
 *
 * Invariants:
 * - Operations resolve, never reject, to a count / 0 or a negative errno in
 *   Emscripten's numbering ({@link Errnos}).
 * - Waits are wake-ups, never timers polling state: data, EOF, errors,
 *   connect, drain and close wake every waiter of the socket.
 * - connect() consults the allowlist before any packet leaves; when a name
 *   has to be resolved to decide, the connection goes only to the resolved
 *   addresses that were checked (no second lookup).
 */
import { lookup as dnsLookup } from "node:dns/promises";
import { isIP, connect as netConnect, type LookupFunction, type Socket } from "node:net";
import { connect as tlsConnect, rootCertificates, type TLSSocket } from "node:tls";
import { hostPort, type NetPolicy } from "./netpolicy.ts";
import type { FSStream } from "./pyodide.ts";

/** The flag that grants what was refused (named in every refusal). */
export const ALLOW_NET_FLAG = "--allow-net";

/** musl's O_NONBLOCK, as kept in the socket's stream flags. */
export const O_NONBLOCK = 0o4000;
export const POLLIN = 0x1;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;
const POLLRDNORM = 0x40;
const SHUT_RD = 0;
const SHUT_WR = 1;
const SHUT_RDWR = 2;
/** Bytes buffered in either direction before reads pause / sends wait. */
const HIGH_WATER = 1 << 20;

const ERRNO_NAMES = [
  "EAGAIN", "EINPROGRESS", "EALREADY", "EISCONN", "ENOTCONN", "ECONNREFUSED", "ECONNRESET", "EPIPE", "EACCES",
  "EHOSTUNREACH", "EINVAL", "EINTR", "EBADF", "EIO", "EAFNOSUPPORT", "EOPNOTSUPP", "EPROTONOSUPPORT",
] as const;

/** Emscripten errno values by name (plus every other name Node may report, for `errnoOf`). */
export type Errnos = Readonly<Record<(typeof ERRNO_NAMES)[number], number>> & { readonly all: Readonly<Record<string, number>> };

/** Pick the errnos sockets use from Emscripten's `ERRNO_CODES`; throws if one is missing. */
export function errnosFrom(codes: Readonly<Record<string, number>>): Errnos {
  const out: Record<string, unknown> = { all: codes };
  for (const name of ERRNO_NAMES) {
    const v = codes[name];
    if (v === undefined) throw new Error(`greenwasm net: Emscripten has no errno ${name}`);
    out[name] = v;
  }
  return out as Errnos;
}

type State = "new" | "connecting" | "connected" | "failed" | "closed";

/** Why the last connect or TLS start failed, for the guest's messages: [kind, message]. */
export type Detail = ["denied" | "dns" | "tls", string];

/** Options of {@link TcpSocket.startTls}. */
export interface TlsOptions {
  /** Name to send as SNI and check the certificate against. Default: the host the program connected to. */
  servername?: string;
  /** Verify the certificate chain (Python's verify_mode != CERT_NONE). Default: true. */
  verify?: boolean;
  /** Check the certificate names `servername` (Python's check_hostname). Default: true. */
  checkHostname?: boolean;
  /** Extra trusted CA certificates, PEM (Python's load_verify_locations), on top of Node's roots. */
  ca?: string;
}

/** Shared by the sockets of one runtime. */
export interface NetContext {
  readonly policy: NetPolicy;
  readonly e: Errnos;
  /** Open sockets (closing removes them). */
  readonly live: Set<TcpSocket>;
}

/** Resolves on the next change of any of `socks`, or after `ms` (never if ms < 0). */
export function change(socks: readonly TcpSocket[], ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      if (timer) clearTimeout(timer);
      for (const s of socks) s.waiters.delete(done);
      resolve();
    };
    for (const s of socks) s.waiters.add(done);
    if (ms >= 0) timer = setTimeout(done, ms);
  });
}

/** Errno for a Node socket error (its codes are POSIX names), else `fallback`. */
function errnoOf(e: Errnos, err: unknown, fallback: number): number {
  const x = err as { code?: unknown; errors?: { code?: unknown }[] };
  const code = typeof x?.code === "string" ? x.code : x?.errors?.[0]?.code;
  return (typeof code === "string" && e.all[code]) || fallback;
}

const isDnsError = (err: unknown): boolean => /^(ENOTFOUND|EAI_)/.test(String((err as { code?: unknown })?.code ?? ""));

/**
 * A guest socket. Emscripten's own syscalls (getsockopt, getpeername,
 * getsockname) read `family`, `type`, `protocol`, `error` (SO_ERROR, read and
 * cleared), `daddr`/`dport`, `saddr`/`sport` and `stream`.
 */
export class TcpSocket {
  readonly family: number;
  readonly type: number;
  readonly protocol: number;
  error: number | null = null;
  daddr: string | undefined;
  dport: number | undefined;
  saddr: string | undefined;
  sport: number | undefined;
  /** Set right after construction by the creator (Emscripten opens the stream on the node). */
  stream!: FSStream & { fd: number };
  /** Per-socket operations table (see `installNet`: which paths suspend depends on this socket's state). */
  readonly sock_ops: object;
  /** Waiters to call on any change. */
  readonly waiters = new Set<() => void>();
  /** Why the last connect or TLS start failed. */
  detail: Detail | null = null;

  #ctx: NetContext;
  #state: State = "new";
  /** Host and port as the program named them (TLS checks the certificate against `host`). */
  #host = "";
  #conn: Socket | TLSSocket | null = null;
  #rq: Uint8Array[] = [];
  #rbytes = 0;
  /** No more bytes will arrive (peer FIN or SHUT_RD). */
  #eof = false;
  /** Errno of a transport error after connect, reported once by recv, then EOF. */
  #rerr = 0;
  /** Errno every later send reports (EPIPE, ECONNRESET). */
  #werr = 0;
  /** The transport is fully closed. */
  #hup = false;
  #unhook: (() => void) | null = null;

  constructor(ctx: NetContext, family: number, type: number, protocol: number, opsFor: (s: TcpSocket) => object) {
    this.#ctx = ctx;
    this.family = family;
    this.type = type;
    this.protocol = protocol;
    this.sock_ops = opsFor(this);
    ctx.live.add(this);
  }

  get nonblocking(): boolean {
    return (this.stream.flags & O_NONBLOCK) !== 0;
  }

  /** Bytes ready to read (FIONREAD). */
  get buffered(): number {
    return this.#rbytes;
  }

  #wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** poll() events of the socket now. */
  mask(): number {
    let m = 0;
    if (this.#rbytes > 0 || this.#eof || this.#rerr) m |= POLLIN | POLLRDNORM;
    if (this.#rerr) m |= POLLERR;
    switch (this.#state) {
      case "connected": {
        const c = this.#conn;
        if (this.#werr) m |= POLLOUT | POLLERR;
        else if (c && c.writable && c.writableLength < HIGH_WATER) m |= POLLOUT;
        if (this.#hup) m |= POLLHUP;
        break;
      }
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
  }

  #take(len: number): Uint8Array {
    const first = this.#rq[0]!;
    let out: Uint8Array;
    if (first.length > len) {
      out = first.subarray(0, len);
      this.#rq[0] = first.subarray(len);
    } else if (first.length === len || this.#rq.length === 1) {
      out = first;
      this.#rq.shift();
    } else {
      out = new Uint8Array(Math.min(len, this.#rbytes));
      let at = 0;
      while (at < out.length) {
        const c = this.#rq[0]!;
        const n = Math.min(c.length, out.length - at);
        out.set(c.subarray(0, n), at);
        at += n;
        if (n === c.length) this.#rq.shift();
        else this.#rq[0] = c.subarray(n);
      }
    }
    this.#rbytes -= out.length;
    if (this.#conn?.isPaused() && this.#rbytes < HIGH_WATER / 2) this.#conn.resume();
    return out;
  }

  /** Attach this socket's handlers to a (plain or TLS) transport. */
  #hook(conn: Socket | TLSSocket): void {
    const e = this.#ctx.e;
    const onData = (chunk: Uint8Array): void => {
      if (this.#eof) return; // SHUT_RD: discard
      this.#rq.push(chunk);
      this.#rbytes += chunk.length;
      if (this.#rbytes >= HIGH_WATER) conn.pause();
      this.#wake();
    };
    const onEnd = (): void => {
      this.#eof = true;
      this.#wake();
    };
    const onError = (err: Error): void => {
      if (this.#state === "connecting") return this.#fail(err);
      const errno = errnoOf(e, err, e.ECONNRESET);
      if (!this.#eof) this.#rerr = errno;
      this.#werr = errno === e.ECONNRESET ? e.ECONNRESET : e.EPIPE;
      this.#wake();
    };
    const onClose = (): void => {
      this.#hup = true;
      if (this.#state === "connecting") this.#fail(Object.assign(new Error("connection closed"), { code: "ECONNRESET" }));
      this.#eof = true;
      this.#wake();
    };
    const onDrain = (): void => this.#wake();
    conn.on("data", onData).on("end", onEnd).on("error", onError).on("close", onClose).on("drain", onDrain);
    this.#unhook = () => {
      conn.off("data", onData).off("end", onEnd).off("error", onError).off("close", onClose).off("drain", onDrain);
    };
  }

  #fail(err: unknown): void {
    const e = this.#ctx.e;
    this.#state = "failed";
    this.error = isDnsError(err) ? e.EHOSTUNREACH : errnoOf(e, err, e.ECONNREFUSED);
    if (isDnsError(err)) this.detail = ["dns", `${this.#host}: ${(err as Error).message}`];
    this.#conn?.destroy();
    this.#wake();
  }

  /** The allowlist verdict: how to reach `host`, or why not. */
  async #route(host: string, port: number): Promise<{ lookup?: LookupFunction } | { denied: string }> {
    const policy = this.#ctx.policy;
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
    const lookup = ((_name: string, opts: { all?: boolean }, cb: (...a: unknown[]) => void) => {
      if (opts?.all) cb(null, ok);
      else cb(null, ok[0]!.address, ok[0]!.family);
    }) as unknown as LookupFunction;
    return { lookup };
  }

  /** connect(): 0, -EINPROGRESS (non-blocking), or -errno (-EACCES when the allowlist refuses). */
  async connect(host: string, port: number, blocking: boolean): Promise<number> {
    const e = this.#ctx.e;
    const busy = (): number => (this.#state === "connected" ? -e.EISCONN : this.#state === "connecting" ? -e.EALREADY : this.#state === "closed" ? -e.EBADF : 0);
    if (busy()) return busy();
    this.detail = null;
    this.error = null;
    this.#host = host;
    const route = await this.#route(host, port);
    if (busy()) return busy();
    if ("denied" in route) {
      this.detail = ["denied", route.denied];
      return -e.EACCES;
    }
    this.#state = "connecting";
    this.#eof = this.#hup = false;
    this.#rerr = this.#werr = 0;
    this.daddr = host;
    this.dport = port;
    const conn = netConnect({ host, port, noDelay: true, allowHalfOpen: true, ...route });
    this.#conn = conn;
    this.#hook(conn);
    conn.once("connect", () => {
      if (this.#state !== "connecting") return;
      this.#state = "connected";
      const remote = conn.remoteAddress?.replace(/^::ffff:/, "");
      if (remote && isIP(remote) === 4) this.daddr = remote;
      const local = conn.localAddress?.replace(/^::ffff:/, "");
      this.saddr = local && isIP(local) === 4 ? local : "0.0.0.0";
      this.sport = conn.localPort;
      this.#wake();
    });
    if (!blocking) return -e.EINPROGRESS;
    while (this.#state === "connecting") await change([this], -1);
    if (this.#state === "connected") return 0;
    const errno = this.error ?? e.EBADF;
    this.error = null;
    return -errno;
  }

  /**
   * Whether recv() has its answer now (bytes, EOF or an errno) rather than
   * waiting for a change. The synchronous path (`recvNow`) is taken only then.
   */
  canRecvNow(blocking: boolean): boolean {
    if (!blocking) return true;
    if (this.#state === "connecting") return false;
    return this.#state !== "connected" || this.#rbytes > 0 || !!this.#rerr || this.#eof;
  }

  /** recv() without waiting: bytes, 0 at EOF, or -errno; undefined when it must wait ({@link canRecvNow} false). */
  recvNow(len: number, blocking: boolean): Uint8Array | number | undefined {
    const e = this.#ctx.e;
    if (!this.canRecvNow(blocking)) return undefined;
    if (this.#rbytes > 0) return len > 0 ? this.#take(len) : new Uint8Array(0);
    if (this.#rerr) {
      const errno = this.#rerr;
      this.#rerr = 0;
      this.#eof = true;
      return -errno;
    }
    if (this.#state === "connecting") return -e.EAGAIN; // non-blocking
    if (this.#state !== "connected") return -(this.#state === "closed" ? e.EBADF : e.ENOTCONN);
    return this.#eof ? 0 : -e.EAGAIN;
  }

  /** recv(): bytes, 0 at EOF, or -errno. */
  async recv(len: number, blocking: boolean): Promise<Uint8Array | number> {
    for (;;) {
      const r = this.recvNow(len, blocking);
      if (r !== undefined) return r;
      await change([this], -1);
    }
  }

  /**
   * send() without waiting: bytes accepted (all of `data`, queued in Node like
   * a kernel send buffer) or -errno; undefined when a blocking send must wait
   * (still connecting, or Node's buffer is full). `data` must not be a view of
   * linear memory.
   */
  sendNow(data: Uint8Array, blocking: boolean): number | undefined {
    const e = this.#ctx.e;
    if (this.#state === "connecting") return blocking ? undefined : -e.EAGAIN;
    if (this.#state !== "connected") return -(this.#state === "closed" ? e.EBADF : e.ENOTCONN);
    const conn = this.#conn;
    if (this.#werr) return -this.#werr;
    if (!conn || !conn.writable) return -e.EPIPE;
    if (conn.writableLength >= HIGH_WATER) return blocking ? undefined : -e.EAGAIN;
    conn.write(data);
    return data.length;
  }

  /** send(): bytes accepted (all of `data`) or -errno. `data` must not be a view of linear memory. */
  async send(data: Uint8Array, blocking: boolean): Promise<number> {
    for (;;) {
      const r = this.sendNow(data, blocking);
      if (r !== undefined) return r;
      await change([this], -1);
    }
  }

  /** shutdown(how). */
  shutdown(how: number): number {
    const e = this.#ctx.e;
    if (how !== SHUT_RD && how !== SHUT_WR && how !== SHUT_RDWR) return -e.EINVAL;
    if (this.#state !== "connected" || !this.#conn) return -e.ENOTCONN;
    if (how !== SHUT_WR) {
      this.#eof = true;
      this.#rq = [];
      this.#rbytes = 0;
    }
    if (how !== SHUT_RD) this.#conn.end();
    this.#wake();
    return 0;
  }

  /** Upgrade a connected socket to TLS (Node's TLS client); 0 or -errno, `detail` says why. */
  async startTls(opts: TlsOptions): Promise<number> {
    const e = this.#ctx.e;
    const raw = this.#conn;
    if (this.#state !== "connected" || !raw) return -e.ENOTCONN;
    this.#unhook?.();
    this.#rq = [];
    this.#rbytes = 0;
    const name = opts.servername || this.#host;
    const tlsSock = tlsConnect({
      socket: raw as Socket,
      host: name,
      servername: isIP(name) ? undefined : name,
      rejectUnauthorized: opts.verify !== false,
      ca: opts.ca ? [...rootCertificates, opts.ca] : undefined,
      ...(opts.checkHostname === false ? { checkServerIdentity: () => undefined } : {}),
    });
    this.#conn = tlsSock;
    this.#hook(tlsSock);
    const failure = await new Promise<Error | null>((resolve) => {
      tlsSock.once("secureConnect", () => resolve(null));
      tlsSock.once("error", (err) => resolve(err));
      tlsSock.once("close", () => resolve(new Error("connection closed during the TLS handshake")));
    });
    if (!failure) return 0;
    this.detail = ["tls", `${(failure as { code?: string }).code ?? "TLS"}: ${failure.message}`];
    tlsSock.destroy();
    return -e.EIO;
  }

  /** Close for good (idempotent); wakes every waiter. */
  close(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#ctx.live.delete(this);
    this.#conn?.destroy();
    this.#unhook?.();
    this.#conn = null;
    this.#rq = [];
    this.#rbytes = 0;
    this.#wake();
  }
}
