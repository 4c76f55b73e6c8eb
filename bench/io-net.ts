// TCP rows of `npm run bench -- io` (bench/io.bench.ts calls tcpEchoRows).
//
//   TCP echo round trip      µs per `sendall(16 bytes)` + `recv()` against the same native
//                            python3 echo server (tests/integration/net-peers.ts, one thread
//                            per connection, TCP_NODELAY), a loop of ROUNDS timed inside Python
//                            with perf_counter after a warm-up loop. Same script everywhere.
//                            ours: a greenwasm runtime in this process (greenwasm's sockets,
//                            src/python/net.ts); native: one /usr/bin/python3 process per sample;
//                            Pyodide: a second runtime switched to Pyodide's own
//                            `useNodeSockFS()` sockets. Samples interleaved; median.
//   ... with settimeout(5)   the same loop on a socket with a timeout: CPython polls before each
//                            recv/send, and a poll that waited returns EINTR and polls again
//                            (see net.ts), so this costs more syscalls than the blocking loop.

import { createRuntime, type Runtime } from '../src/python/index.ts';
import { runtimeState } from '../src/python/runtime.ts';
import { startEchoServer } from '../tests/integration/net-peers.ts';
import { lastLineJSON, median, nativePythonJSON, nativePythonVersion, type BenchContext, type Row } from './lib.ts';

const ROUNDS = 5_000;

const ECHO_LOOP = (port: number): string => `
import json, socket, time
ROUNDS = ${ROUNDS}
msg = b"x" * 16
def rtt_us(timeout):
    s = socket.create_connection(("127.0.0.1", ${port}))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(timeout)
    for _ in range(ROUNDS // 10):
        s.sendall(msg); s.recv(64)
    t0 = time.perf_counter()
    for _ in range(ROUNDS):
        s.sendall(msg); s.recv(64)
    us = (time.perf_counter() - t0) / ROUNDS * 1e6
    s.close()
    return us
print(json.dumps({"blocking": rtt_us(None), "timeout": rtt_us(5.0)}))
`;

type Sample = Record<'blocking' | 'timeout', number>;

async function runIn(rt: Runtime, out: { text: string }, code: string): Promise<Sample> {
  out.text = '';
  const status = await rt.runCode(code);
  if (status !== 0) throw new Error(`greenwasm run exited ${status}: ${out.text}`);
  return lastLineJSON<Sample>(out.text);
}

/** TCP echo round trip rows: greenwasm vs native python3 (and vs Pyodide's useNodeSockFS). */
export async function tcpEchoRows(ctx: BenchContext): Promise<Row[]> {
  const echo = await startEchoServer();
  const out = { text: '' };
  const sink = (b: Uint8Array): void => {
    out.text += new TextDecoder().decode(b);
  };
  const options = { allowNet: [`127.0.0.1:${echo.port}`], stdout: sink, stderr: sink };
  const ours = await createRuntime(options);
  const theirs = await createRuntime(options);
  try {
    // Pyodide's experimental sockets replace greenwasm's in this runtime only.
    await runtimeState(theirs).pyodide.useNodeSockFS();
    const code = ECHO_LOOP(echo.port);
    const samples: { ours: Sample; native: Sample; pyodide: Sample }[] = [];
    ctx.log(`TCP echo: ${ROUNDS} round trips of 16 bytes per sample, native echo server on port ${echo.port}`);
    for (let i = 0; i < ctx.warmup + ctx.runs; i++) {
      const native = nativePythonJSON<Sample>(code);
      const o = await runIn(ours, out, code);
      const p = await runIn(theirs, out, code);
      if (i >= ctx.warmup) samples.push({ ours: o, native, pyodide: p });
      const f = (s: Sample) => `${s.blocking.toFixed(1)} / ${s.timeout.toFixed(1)}`;
      ctx.log(`  sample ${i}: ours ${f(o)} µs, native ${f(native)} µs, pyodide useNodeSockFS ${f(p)} µs (blocking / with timeout)`);
    }
    const med = (who: 'ours' | 'native' | 'pyodide', key: keyof Sample) => median(samples.map((s) => s[who][key]));
    const native = `CPython ${nativePythonVersion()} native`;
    const pyodide = "Pyodide 314.0.7 useNodeSockFS() (same runtime setup)";
    return [
      { metric: 'TCP echo round trip, blocking socket', unit: 'µs', better: 'lower', ours: med('ours', 'blocking'), peer: native, peerValue: med('native', 'blocking') },
      { metric: 'TCP echo round trip, socket with settimeout(5)', unit: 'µs', better: 'lower', ours: med('ours', 'timeout'), peer: native, peerValue: med('native', 'timeout') },
      { metric: 'TCP echo round trip, blocking socket', unit: 'µs', better: 'lower', ours: med('ours', 'blocking'), peer: pyodide, peerValue: med('pyodide', 'blocking') },
      { metric: 'TCP echo round trip, socket with settimeout(5)', unit: 'µs', better: 'lower', ours: med('ours', 'timeout'), peer: pyodide, peerValue: med('pyodide', 'timeout') },
    ];
  } finally {
    await ours.close();
    await theirs.close();
    echo.stop();
  }
}
