/**
 * The shadow-stack trap (issue 4): many stacks suspended at once must never
 * see each other's C stack or interpreter state. 200 green threads keep data
 * in C-stack-allocated frames (deep Python and C recursion through json, re,
 * struct, sorting with key functions, greenlets) across random sleeps and
 * socket round trips to a native echo server, and every result is checked
 * against a value computed without threads.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createRuntime, type Runtime } from "../../src/python/index.ts";
import { checkInvariants, recordBaseline, settleThreads } from "../../src/python/testing.ts";
import { startEchoServer, type Peer } from "./net-peers.ts";
import { Capture } from "./support.ts";

const WORKLOAD = `
import json, re, struct, random, time, threading, hashlib, greenlet

def nest(depth, seed):
    v = seed
    for i in range(depth):
        v = [i, {"k": v}]
    return v

def recurse(n, acc, tick):
    # Python frames (and, through json/re below, C frames) live across sleeps.
    if n == 0:
        return acc
    if n % 25 == 0:
        tick()
    packed = struct.pack("<qd", n, acc * 0.5)
    a, b = struct.unpack("<qd", packed)
    return recurse(n - 1, acc + a + int(b) % 7, tick)

def job(i, tick):
    rnd = random.Random(i)
    depth = 40 + rnd.randrange(60)
    doc = nest(depth, f"seed-{i}")
    text = json.dumps(doc)
    tick()
    back = json.loads(text)
    assert back == doc
    m = re.fullmatch(r"(\\[\\d+, \\{\\"k\\": )+\\"seed-(\\d+)\\"(\\}\\])+", text)
    tick()
    words = sorted((f"w{(i * 7919 + k) % 1000:03d}" for k in range(200)), key=lambda w: (w[-1], w))
    def gen():
        for w in words[:50]:
            tick()
            yield w
    g = greenlet.greenlet(lambda: sum(len(w) for w in gen()))
    glen = g.switch()
    r = recurse(150, i, tick)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return [len(text), int(m.group(2)), words[0], glen, r, digest]
`;

describe("200 concurrent green threads with C-stack data across suspensions", { timeout: 240_000 }, () => {
  const out = new Capture();
  const err = new Capture();
  let rt: Runtime;
  let echo: Peer;

  before(async () => {
    echo = await startEchoServer();
    rt = await createRuntime({ allowNet: [`127.0.0.1:${echo.port}`], stdout: out.sink, stderr: err.sink });
    assert.equal(await rt.runCode("import json, re, struct, hashlib, greenlet"), 0, err.text);
    recordBaseline(rt);
  });
  after(async () => {
    await rt?.close();
    echo?.stop();
  });

  it("computes every result exactly as without threads, and leaks nothing", async () => {
    out.clear();
    err.clear();
    const status = await rt.runCode(`${WORKLOAD}
N = 200
expected = [job(i, lambda: None) for i in range(N)]
results = [None] * N
ticks = [0] * N
import socket
echoed = [0] * N
def worker(i):
    rnd = random.Random(1000 + i)
    conn = socket.create_connection(("127.0.0.1", ${echo.port}))
    def tick():
        ticks[i] += 1
        if rnd.random() < 0.2:
            msg = f"{i}:{ticks[i]};".encode()
            conn.sendall(msg)
            got = b""
            while len(got) < len(msg):
                got += conn.recv(len(msg) - len(got))
            assert got == msg, (got, msg)
            echoed[i] += 1
        else:
            time.sleep(rnd.choice((0, 0, 0.001, 0.003)))
    try:
        results[i] = job(i, tick)
    finally:
        conn.close()
threads = [threading.Thread(target=worker, args=(i,)) for i in range(N)]
t0 = time.monotonic()
for t in threads: t.start()
for t in threads: t.join()
bad = [i for i in range(N) if results[i] != expected[i]]
print(json.dumps({"bad": bad, "min_ticks": min(ticks), "done": sum(r is not None for r in results), "echoed": min(echoed),
                  "elapsed": time.monotonic() - t0}))
`);
    assert.equal(status, 0, err.text);
    const r = JSON.parse(out.text.trim().split("\n").pop()!) as { bad: number[]; min_ticks: number; done: number; echoed: number };
    assert.deepEqual(r.bad, []);
    assert.ok(r.echoed >= 1, `every thread made socket round trips (min ${r.echoed})`);
    assert.equal(r.done, 200);
    assert.ok(r.min_ticks >= 50, `every thread suspended many times (min ${r.min_ticks})`);
    await settleThreads(rt);
    checkInvariants(rt);
  });
});
