// io: blocking I/O that suspends instead of blocking. Rows so far: TCP echo round trip
// (bench/io-net.ts). run_sync and green-thread switch rows are to be added next to it.

import { tcpEchoRows } from './io-net.ts';
import type { Bench } from './lib.ts';

const bench: Bench = {
  name: 'io',
  description: 'sync-over-async I/O: TCP echo round trip (greenwasm vs native python3 client and vs Pyodide useNodeSockFS)',
  async run(ctx) {
    return [...(await tcpEchoRows(ctx))];
  },
};
export default bench;
