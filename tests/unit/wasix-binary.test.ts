// src/wasix/binary.ts: finding and exporting the C stack pointer, table and memory of a module.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeModule } from '../../src/engine/index.ts';
import { exposeGuest, inspectGuest, SP_EXPORT, TABLE_EXPORT, MEMORY_EXPORT, WasmBinaryError } from '../../src/wasix/binary.ts';

// (module (memory 1) (table 2 funcref) (global (mut i32) (i32.const 4096)) (global i32 (i32.const 7))
//         (func (export "_start")) + optional name section naming global 1 "__stack_pointer")
function guest(opts: { nameSecondGlobal?: boolean; exportMemory?: boolean } = {}): Uint8Array {
  const base = encodeModule([], [{ type: { params: [], results: [] }, body: [], export: '_start' }]);
  // encodeModule emits type(1), import(2), function(3), export(7), code(10); splice sections in.
  const sec = (id: number, payload: number[]) => [id, payload.length, ...payload];
  const table = sec(4, [1, 0x70, 0x00, 2]);
  const memory = sec(5, [1, 0x00, 1]);
  const globals = sec(6, [2, 0x7f, 1, 0x41, 0x80, 0x20, 0x0b, 0x7f, 0x00, 0x41, 7, 0x0b]);
  const bytes = [...base];
  // Section offsets (every section here is < 128 bytes, so sizes are one LEB byte).
  let at = 8;
  const starts: Record<number, number> = {};
  while (at < bytes.length) {
    starts[bytes[at]!] = at;
    at += 2 + bytes[at + 1]!;
  }
  let exportSec = bytes.slice(starts[7]!, starts[10]!);
  if (opts.exportMemory) {
    // Export section with "_start" (func 0) and "mem" (memory 0).
    const entries = [6, ...new TextEncoder().encode('_start'), 0, 0, 3, ...new TextEncoder().encode('mem'), 2, 0];
    exportSec = sec(7, [2, ...entries]);
  }
  const head = bytes.slice(0, starts[7]!);
  const tail = bytes.slice(starts[10]!);
  const out = [...head, ...table, ...memory, ...globals, ...exportSec, ...tail];
  if (opts.nameSecondGlobal) {
    const name = [...new TextEncoder().encode('__stack_pointer')];
    const sub = [1, 1, name.length, ...name]; // one entry: global 1
    const payload = [4, ...new TextEncoder().encode('name'), 7, sub.length, ...sub];
    out.push(...sec(0, payload));
  }
  return new Uint8Array(out);
}

test('without names, the first mutable i32 global is the stack pointer', () => {
  const info = inspectGuest(guest());
  assert.equal(info.stackPointer, 0);
  assert.equal(info.tableDefined && info.memoryDefined, true);
  const { bytes, sp, table, memory } = exposeGuest(guest(), info);
  assert.deepEqual([sp, table, memory], [SP_EXPORT, TABLE_EXPORT, MEMORY_EXPORT]);
  const names = WebAssembly.Module.exports(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>)).map((e) => `${e.name}:${e.kind}`);
  assert.deepEqual(names.sort(), [`${MEMORY_EXPORT}:memory`, `${SP_EXPORT}:global`, `${TABLE_EXPORT}:table`, '_start:function'].sort());
});

test('the name section wins, and existing exports are reused', () => {
  const b = guest({ nameSecondGlobal: true, exportMemory: true });
  const info = inspectGuest(b);
  assert.equal(info.stackPointer, 1);
  assert.equal(info.memoryExport, 'mem');
  const out = exposeGuest(b, info);
  assert.equal(out.memory, 'mem');
  const inst = new WebAssembly.Instance(new WebAssembly.Module(out.bytes as Uint8Array<ArrayBuffer>));
  assert.equal((inst.exports[out.sp!] as WebAssembly.Global).value, 7);
});

test('garbage is rejected with WasmBinaryError', () => {
  assert.throws(() => inspectGuest(new Uint8Array([0, 1, 2])), WasmBinaryError);
  assert.throws(() => inspectGuest(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 50, 1])), WasmBinaryError);
});
