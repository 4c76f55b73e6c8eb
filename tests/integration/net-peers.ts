/**
 * Native network peers for the socket tests and the io benchmark (not a test
 * file): Debian's python3 runs a TCP echo server or `http.server` on a free
 * loopback port; each prints a ready line the helper waits for.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

export const NATIVE_PYTHON = process.env.GREENWASM_NATIVE_PYTHON ?? "/usr/bin/python3";

/**
 * Echo server: every connection gets its own thread echoing what it receives;
 * a chunk starting with `SLOW` is echoed after 200 ms (so a client really
 * waits). Prints `READY <port>`.
 */
const ECHO_SERVER = `
import socket, sys, threading, time
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(128)
print("READY", srv.getsockname()[1], flush=True)
def serve(c):
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with c:
        while True:
            try:
                d = c.recv(65536)
            except OSError:
                return
            if not d:
                return
            if d.startswith(b"SLOW"):
                time.sleep(0.2)
            c.sendall(d)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

/** A spawned native peer. */
export interface Peer {
  port: number;
  proc: ChildProcess;
  stop(): void;
}

function startPeer(args: string[], ready: RegExp): Promise<Peer> {
  if (!existsSync(NATIVE_PYTHON)) throw new Error(`${NATIVE_PYTHON} missing: run \`npm run setup\``);
  const proc = spawn(NATIVE_PYTHON, args, { stdio: ["ignore", "pipe", "pipe"] });
  const stop = (): void => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
  };
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`native peer ${args.join(" ")} printed no ready line within 10 s: ${JSON.stringify(seen)}`));
    }, 10_000);
    const onData = (d: Buffer): void => {
      seen += d.toString("utf8");
      const m = ready.exec(seen);
      if (!m) return;
      clearTimeout(timer);
      proc.stdout!.off("data", onData);
      proc.stderr!.off("data", onData);
      proc.stdout!.resume();
      proc.stderr!.resume();
      resolve({ port: Number(m[1]), proc, stop });
    };
    proc.stdout!.on("data", onData);
    proc.stderr!.on("data", onData);
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`native peer ${args.join(" ")} exited with ${code}: ${JSON.stringify(seen)}`));
    });
  });
}

/** Start the native echo server (see {@link ECHO_SERVER}). */
export function startEchoServer(): Promise<Peer> {
  return startPeer(["-u", "-c", ECHO_SERVER], /READY (\d+)\n/);
}

/** Start `python3 -m http.server` serving `dir` on a free loopback port. */
export function startHttpServer(dir: string): Promise<Peer> {
  return startPeer(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", dir], /port (\d+)/);
}

const HTTPS_SERVER = `
import functools, http.server, ssl, sys
directory, cert, key = sys.argv[1:4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("READY", srv.server_address[1], flush=True)
srv.serve_forever()
`;

/**
 * Write a fresh self-signed certificate for `localhost` and 127.0.0.1 into
 * `dir` (cert.pem, key.pem) with the openssl CLI; returns their paths.
 */
export function makeCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  const r = spawnSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", key, "-out", cert,
    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
  ], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl failed (run \`npm run setup\`): ${r.error?.message ?? r.stderr}`);
  return { cert, key };
}

/** Start a native HTTPS server (http.server behind Python's ssl) serving `dir`. */
export function startHttpsServer(dir: string, cert: string, key: string): Promise<Peer> {
  return startPeer(["-u", "-c", HTTPS_SERVER, dir, cert, key], /READY (\d+)\n/);
}
