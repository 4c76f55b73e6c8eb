/**
 * Native network peers for the socket tests and the io benchmark (not a test
 * file): Debian's python3 runs a TCP echo server or `http.server` on a free
 * loopback port; each prints a ready line the helper waits for.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";

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
