/**
 * Python sockets inside greenwasm runtimes against real peers: a native
 * python3 echo server and http.server (tests/integration/net-peers.ts), and
 * Node servers where the test must control when bytes arrive.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, afterEach, before, describe, it } from "node:test";
import { createRuntime, RuntimeOptionsError, type Runtime } from "../../src/python/index.ts";
import { runtimeState } from "../../src/python/runtime.ts";
import { checkInvariants } from "../../src/python/testing.ts";
import { makeCertificate, startEchoServer, startHttpServer, startHttpsServer, type Peer } from "./net-peers.ts";
import { Capture, tempDir } from "./support.ts";

const BIN = fileURLToPath(new URL("../../bin/greenwasm.js", import.meta.url));

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** A Node TCP server whose accepted sockets the test drives by hand. */
async function manualServer(): Promise<{ port: number; server: Server; next: () => Promise<Socket> }> {
  const pending: Socket[] = [];
  const waiting: ((s: Socket) => void)[] = [];
  const server = createServer((s) => {
    const w = waiting.shift();
    if (w) w(s);
    else pending.push(s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const next = (): Promise<Socket> => {
    const s = pending.shift();
    return s ? Promise.resolve(s) : new Promise((r) => waiting.push(r));
  };
  return { port: (server.address() as AddressInfo).port, server, next };
}

describe("Python sockets", { timeout: 180_000 }, () => {
  const out = new Capture();
  const err = new Capture();
  const tmp = tempDir("net");
  const page = "<html><body>greenwasm net test " + "x".repeat(3000) + "</body></html>\n";
  let echo: Peer;
  let http: Peer;
  let https: Peer;
  let refused: number;
  let rt: Runtime;

  /** Run `code` (with {ECHO}, {HTTP}, {REFUSED} replaced); returns stdout, asserting exit 0. */
  async function py(code: string, runtime: Runtime = rt): Promise<string> {
    out.clear();
    err.clear();
    const src = code
      .replaceAll("{ECHO}", String(echo.port))
      .replaceAll("{HTTP}", String(http.port))
      .replaceAll("{HTTPS}", String(https.port))
      .replaceAll("{REFUSED}", String(refused));
    const status = await runtime.runCode(src);
    assert.equal(status, 0, `python failed:\n${err.text}`);
    return out.text;
  }

  before(async () => {
    writeFileSync(join(tmp.dir, "page.html"), page);
    const { cert, key } = makeCertificate(tmp.dir);
    [echo, http, https, refused] = await Promise.all([
      startEchoServer(), startHttpServer(tmp.dir), startHttpsServer(tmp.dir, cert, key), closedPort(),
    ]);
    rt = await createRuntime({
      stdout: out.sink,
      stderr: err.sink,
      mounts: [{ host: tmp.dir, guest: "/peer" }],
      allowNet: [`127.0.0.1:${echo.port}`, `localhost:${http.port}`, `127.0.0.1:${refused}`, "127.0.0.1:1", `localhost:${https.port}`, "nonexistent.invalid:80"],
    });
  });

  afterEach(() => checkInvariants(rt));

  after(async () => {
    await rt?.close();
    echo?.stop();
    http?.stop();
    https?.stop();
    tmp.remove();
  });

  it("connects, sends and receives with blocking calls and makefile", async () => {
    const text = await py(`
import socket
with socket.create_connection(("127.0.0.1", {ECHO})) as s:
    assert s.getpeername() == ("127.0.0.1", {ECHO}), s.getpeername()
    assert s.getsockname()[0] == "127.0.0.1" and s.getsockname()[1] > 0
    s.sendall(b"hello")
    got = b""
    while len(got) < 5:
        got += s.recv(100)
    print(got.decode())
    f = s.makefile("rwb")
    f.write(b"line one\\nline two\\n")
    f.flush()
    print(f.readline().decode().strip(), "|", f.readline().decode().strip())
    f.close()
`);
    assert.equal(text, "hello\nline one | line two\n");
  });

  it("moves half a megabyte each way through sendall and recv_into", async () => {
    const text = await py(`
import socket, hashlib, os
data = os.urandom(512 * 1024)
with socket.create_connection(("127.0.0.1", {ECHO})) as s:
    s.sendall(data)
    buf = bytearray(len(data))
    view = memoryview(buf)
    n = 0
    while n < len(data):
        k = s.recv_into(view[n:])
        assert k > 0
        n += k
print(hashlib.sha256(buf).hexdigest() == hashlib.sha256(data).hexdigest(), n)
`);
    assert.equal(text, `True ${512 * 1024}\n`);
  });

  it("answers recv and poll at once, without suspending, when the data is already buffered", async () => {
    const net = runtimeState(rt).net;
    await py(`
import socket, sys, time
s = socket.create_connection(("127.0.0.1", {ECHO}))
s.settimeout(5)
s.sendall(bytes(range(100)) * 10)
time.sleep(0.3)  # the echo is back in the socket's buffer
sys.greenwasm_test_socket = s
`);
    const before = net.waits;
    const text = await py(`
import select, sys
s = sys.greenwasm_test_socket
chunks = []
for _ in range(10):
    assert select.select([s], [], [], 5)[0] == [s]
    chunks.append(s.recv(100))  # a poll (timeout) then a recv, both ready
print(b"".join(chunks) == bytes(range(100)) * 10)
`);
    assert.equal(text, "True\n");
    assert.equal(net.waits, before, "a ready recv or poll suspended the stack");
    const late = await py(`
import socket, sys
s = sys.__dict__.pop("greenwasm_test_socket")
s.settimeout(0.05)
try:
    s.recv(100)
except TimeoutError:
    print("timed out")
s.close()
`);
    assert.equal(late, "timed out\n");
    assert.ok(net.waits > before, "a recv with nothing buffered must wait");
  });

  it("times out with TimeoutError, and a timeout that is not reached still returns data", async () => {
    const text = await py(`
import socket, time
s = socket.create_connection(("127.0.0.1", {ECHO}), timeout=5)
s.settimeout(0.2)
t = time.monotonic()
try:
    s.recv(10)
except socket.timeout as e:
    print(type(e).__name__, e, time.monotonic() - t >= 0.19)
s.settimeout(3)
s.sendall(b"SLOW data")
print(s.recv(100))
s.close()
`);
    assert.equal(text, "TimeoutError timed out True\nb'SLOW data'\n");
  });

  it("supports non-blocking sockets: EINPROGRESS, BlockingIOError, select for writability", async () => {
    const text = await py(`
import errno, select, socket
s = socket.socket()
s.setblocking(False)
print(errno.errorcode[s.connect_ex(("127.0.0.1", {ECHO}))])
r, w, x = select.select([], [s], [], 5)
print(w == [s], s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
print(errno.errorcode[s.connect_ex(("127.0.0.1", {ECHO}))])
try:
    s.recv(10)
except BlockingIOError as e:
    print("BlockingIOError", e.errno == errno.EAGAIN)
s.send(b"ping")
r, _, _ = select.select([s], [], [], 5)
print(r == [s], s.recv(10))
s.close()
`);
    assert.equal(text, "EINPROGRESS\nTrue 0\nEISCONN\nBlockingIOError True\nTrue b'ping'\n");
  });

  it("waits in select and selectors by suspending, so JS timers keep running", async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 20);
    try {
      const text = await py(`
import select, selectors, socket, time
s = socket.create_connection(("127.0.0.1", {ECHO}))
t = time.monotonic()
print(select.select([s], [], [], 0.3), time.monotonic() - t >= 0.29)
sel = selectors.DefaultSelector()
sel.register(s, selectors.EVENT_READ)
print(type(sel).__name__, sel.select(0.2))
s.sendall(b"SLOW wake")
events = sel.select(5)
print([(k.fileobj is s, ev) for k, ev in events], s.recv(100))
print(select.select([], [], [], 0.1))
sel.close()
s.close()
`);
      assert.equal(text, "([], [], []) True\nPollSelector []\n[(True, 1)] b'SLOW wake'\n([], [], [])\n");
    } finally {
      clearInterval(timer);
    }
    // 0.8 s of waiting: a spinning wait would have starved every timer.
    assert.ok(ticks >= 10, `only ${ticks} timer ticks while Python waited`);
  });

  it("reports a refused connection as ConnectionRefusedError", async () => {
    const text = await py(`
import socket
for port in ({REFUSED}, 1):
    try:
        socket.create_connection(("127.0.0.1", port))
    except ConnectionRefusedError as e:
        print("refused", e.errno == __import__("errno").ECONNREFUSED)
`);
    assert.equal(text, "refused True\nrefused True\n");
  });

  it("runs http.client and urllib.request against http.server", async () => {
    const text = await py(`
import http.client, urllib.request
c = http.client.HTTPConnection("localhost", {HTTP}, timeout=10)
c.request("GET", "/page.html")
r = c.getresponse()
body = r.read()
print(r.status, r.getheader("Content-Length"), len(body))
c.request("GET", "/missing")
r = c.getresponse()
r.read()
print(r.status)
c.close()
with urllib.request.urlopen("http://localhost:{HTTP}/page.html", timeout=10) as f:
    print(f.status, f.read().decode()[:30])
`);
    assert.equal(text, `200 ${page.length} ${page.length}\n404\n200 ${page.slice(0, 30)}\n`);
  });

  it("speaks TLS through Node: trusted CA file, verification failures, unverified contexts", async () => {
    const text = await py(`
import http.client, socket, ssl, urllib.error, urllib.request
url = "https://localhost:{HTTPS}/page.html"
try:
    urllib.request.urlopen(url, timeout=10)
except urllib.error.URLError as e:
    print(type(e.reason).__name__, "self-signed" in str(e.reason))
ctx = ssl.create_default_context(cafile="/peer/cert.pem")
with urllib.request.urlopen(url, context=ctx, timeout=10) as f:
    print(f.status, f.read().decode()[:30])
c = http.client.HTTPSConnection("localhost", {HTTPS}, context=ctx, timeout=10)
for _ in range(2):  # one TLS connection, kept alive
    c.request("GET", "/page.html")
    r = c.getresponse()
    print(r.status, len(r.read()))
c.close()
s = socket.create_connection(("localhost", {HTTPS}))
try:
    ctx.wrap_socket(s, server_hostname="wrong.example")
except ssl.SSLCertVerificationError as e:
    print("mismatch", "wrong.example" in str(e))
s.close()
with urllib.request.urlopen(url, context=ssl._create_unverified_context(), timeout=10) as f:
    print("unverified", f.status)
`);
    assert.equal(
      text,
      `SSLCertVerificationError True\n200 ${page.slice(0, 30)}\n200 ${page.length}\n200 ${page.length}\nmismatch True\nunverified 200\n`,
    );
  });

  it("serves asyncio streams (open_connection) with the same errors and allowlist", async () => {
    const text = await py(`
import asyncio
async def main():
    reader, writer = await asyncio.open_connection("127.0.0.1", {ECHO})
    writer.write(b"async hello")
    await writer.drain()
    print(await asyncio.wait_for(reader.readexactly(11), 5))
    writer.close()
    for port in ({REFUSED}, 9):
        try:
            await asyncio.open_connection("127.0.0.1", port)
        except OSError as e:
            print(type(e).__name__, "--allow-net 127.0.0.1:9" in str(e))
asyncio.run(main())
`);
    assert.equal(text, "b'async hello'\nConnectionRefusedError False\nPermissionError True\n");
  });

  it("blocks inside concurrent asyncio tasks (Pyodide's copied stacks) with timeouts", async () => {
    // Each task's blocking recv polls with a pollfd on its C stack while other tasks run.
    const text = await py(`
import asyncio, socket
def blocking(tag):
    with socket.create_connection(("127.0.0.1", {ECHO}), timeout=10) as s:
        s.sendall(b"SLOW " + tag)
        got = b""
        while len(got) < 5 + len(tag):
            got += s.recv(100)
        return got
async def task(tag):
    await asyncio.sleep(0)
    return blocking(tag)
async def main():
    return await asyncio.gather(*(task(str(i).encode() * (i + 1)) for i in range(6)))
print(asyncio.run(main()))
`);
    assert.equal(text, `[${Array.from({ length: 6 }, (_, i) => `b'SLOW ${String(i).repeat(i + 1)}'`).join(", ")}]\n`);
  });

  it("refuses hosts and ports outside the allowlist with a PermissionError naming the flag", async () => {
    const text = await py(`
import errno, socket, urllib.error, urllib.request
for host, port in [("127.0.0.1", {HTTP}), ("10.0.0.1", 80)]:
    try:
        socket.create_connection((host, port), timeout=5)
    except PermissionError as e:
        print(e)
s = socket.socket()
print(errno.errorcode[s.connect_ex(("127.0.0.1", 22))])
s.close()
try:
    urllib.request.urlopen("http://127.0.0.1:{HTTP}/page.html")
except urllib.error.URLError as e:
    print(type(e.reason).__name__)
`);
    const lines = text.trim().split("\n");
    // A name entry never grants the address: localhost:HTTP does not allow 127.0.0.1:HTTP.
    assert.match(lines[0]!, new RegExp(`^\\[Errno \\d+\\] greenwasm: network access to 127\\.0\\.0\\.1:${http.port} is not allowed; grant it with --allow-net 127\\.0\\.0\\.1:${http.port} `));
    assert.match(lines[1]!, /network access to 10\.0\.0\.1:80 is not allowed; grant it with --allow-net 10\.0\.0\.1:80/);
    assert.deepEqual(lines.slice(2), ["EACCES", "PermissionError"]);
  });

  it("raises socket.gaierror at connect for an allowed name that does not resolve", async () => {
    // getaddrinfo itself never resolves (placeholder addresses); the host resolves at connect.
    const text = await py(`
import socket
print(socket.getaddrinfo("nonexistent.invalid", 80)[0][4][0].startswith("172.29."))
try:
    socket.create_connection(("nonexistent.invalid", 80), timeout=20)
except socket.gaierror as e:
    print("gaierror", e.errno == socket.EAI_NONAME)
`);
    assert.equal(text, "True\ngaierror True\n");
  });

  it("lets a name through when it resolves to a granted address", async () => {
    // 127.0.0.1:ECHO is granted; localhost resolves to it (and maybe ::1, which is not granted).
    const text = await py(`
import socket
with socket.create_connection(("localhost", {ECHO})) as s:
    s.sendall(b"via name")
    print(s.recv(100), s.getpeername()[0])
`);
    assert.equal(text, "b'via name' 127.0.0.1\n");
  });

  it("keeps the event loop and other runtimes running while Python blocks in recv", async () => {
    const peer = await manualServer();
    const waiter = await createRuntime({ allowNet: [`127.0.0.1:${peer.port}`], stdout: out.sink, stderr: err.sink });
    const other = await createRuntime({ stdout: () => {}, stderr: err.sink });
    try {
      const blocked = py(`
import socket
s = socket.create_connection(("127.0.0.1", ${peer.port}))
s.sendall(b"ready")
print(s.recv(100))
s.close()
`, waiter);
      const conn = await peer.next();
      await new Promise<void>((r) => conn.once("data", () => r()));
      // Python is now suspended in recv: another runtime runs to completion meanwhile.
      assert.equal(await other.runCode("import json; json.dumps(list(range(1000)))"), 0);
      await new Promise((r) => setTimeout(r, 50));
      conn.end("released");
      assert.equal(await blocked, "b'released'\n");
      checkInvariants(waiter);
      checkInvariants(other);
    } finally {
      await waiter.close();
      await other.close();
      peer.server.close();
    }
  });

  it("blocks in recv inside greenlets and switches around it", async () => {
    const text = await py(`
import greenlet, socket
a = socket.create_connection(("127.0.0.1", {ECHO}))
b = socket.create_connection(("127.0.0.1", {ECHO}))
log = []
def one():
    a.sendall(b"SLOW from one")
    other = g2.switch()
    log.append(other)
    log.append(a.recv(100))
def two():
    b.sendall(b"two")
    got = b.recv(100)
    g1.switch(got)
    log.append(b"two done")
g1 = greenlet.greenlet(one)
g2 = greenlet.greenlet(two)
g1.switch()
g2.switch()
print(log, g1.dead, g2.dead)
a.close(); b.close()
`);
    assert.equal(text, "[b'two', b'SLOW from one', b'two done'] True True\n");
  });

  it("has no network unless allowNet grants it, and validates entries", async () => {
    const bare = await createRuntime({ stdout: out.sink, stderr: err.sink });
    try {
      const text = await py(`
import socket
try:
    socket.create_connection(("127.0.0.1", {ECHO}))
except PermissionError as e:
    print("denied", "--allow-net 127.0.0.1:{ECHO}" in str(e))
`, bare);
      assert.equal(text, "denied True\n");
      checkInvariants(bare);
    } finally {
      await bare.close();
    }
    await assert.rejects(createRuntime({ allowNet: ["localhost"] }), (e: unknown) => e instanceof RuntimeOptionsError && /allowNet\[0\].*missing port/.test(e.message));
  });

  it("closes the sockets a runtime leaves open when it closes", async () => {
    const own = await createRuntime({ allowNet: [`127.0.0.1:${echo.port}`], stdout: out.sink, stderr: err.sink });
    await py(`
import socket, sys
sys.kept = [socket.create_connection(("127.0.0.1", {ECHO})) for _ in range(3)]  # outlives the run
`, own);
    assert.equal(runtimeState(own).net.open, 3);
    const state = runtimeState(own);
    await own.close();
    assert.equal(state.net.open, 0);
  });

  describe("CLI --allow-net", { concurrency: 2 }, () => {
    const cli = (args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
        child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
        const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
        child.on("close", (status) => {
          clearTimeout(killer);
          resolve({ status, stdout, stderr });
        });
      });
    const code = () => `import socket\ns = socket.create_connection(("127.0.0.1", ${echo.port}))\ns.sendall(b"cli")\nprint(s.recv(10))`;

    it("connects where the flag allows", async () => {
      const r = await cli(["run", "--allow-net", `127.0.0.1:${echo.port}`, "-c", code()]);
      assert.equal(r.stderr, "");
      assert.equal(r.stdout, "b'cli'\n");
      assert.equal(r.status, 0);
    });

    it("refuses without it and names the flag", async () => {
      const r = await cli(["run", "--allow-net", `127.0.0.1:${echo.port + 1 > 65535 ? 1 : echo.port + 1}`, "-c", code()]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, new RegExp(`PermissionError: \\[Errno \\d+\\] greenwasm: network access to 127\\.0\\.0\\.1:${echo.port} is not allowed; grant it with --allow-net 127\\.0\\.0\\.1:${echo.port}`));
    });

    it("rejects a malformed entry as a usage error", async () => {
      const r = await cli(["run", "--allow-net", "::1:80", "-c", "pass"]);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /--allow-net: .*brackets/);
    });
  });
});
