/**
 * A minimal WebAssembly binary encoder, enough for the trampolines of the engine,
 * the WASIX host and greenlet: type, import (functions, globals, funcref tables, memory),
 * function, export and code sections. No validation beyond what
 * `WebAssembly.Module` does.
 */

export const ValType = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, externref: 0x6f } as const;
export type ValType = (typeof ValType)[keyof typeof ValType];

export interface FuncType {
  params: readonly ValType[];
  results: readonly ValType[];
}
export interface FuncImport {
  module: string;
  name: string;
  type: FuncType;
}
/** An imported global (e.g. a flag JS flips and wasm reads with `global.get`). */
export interface GlobalImport {
  module: string;
  name: string;
  global: { type: ValType; mutable: boolean };
}
/** An imported funcref table (e.g. a guest's indirect function table). */
export interface TableImport {
  module: string;
  name: string;
}
/** Optional parts of {@link encodeModule}. */
export interface ModuleExtras {
  /** Function types placed first, at indices 0.., for `call_indirect` / `ref.test`. Default: none. */
  types?: readonly FuncType[];
  /** Imported funcref tables, numbered from 0 in the order given. Default: none. */
  tables?: readonly TableImport[];
  /** An imported linear memory (memory 0, no minimum or maximum required), for loads and stores. Default: none. */
  memory?: { module: string; name: string };
}
export interface FuncDef {
  type: FuncType;
  locals?: readonly ValType[];
  /** Instruction bytes, without the final `end`. */
  body: readonly number[];
  /** Export name, if exported. */
  export?: string;
}

export function uleb(n: number | bigint): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return out;
}

export function sleb(n: number | bigint): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  for (;;) {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    const done = (v === 0n && (byte & 0x40) === 0) || (v === -1n && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

const utf8 = new TextEncoder();
function name(s: string): number[] {
  const b = [...utf8.encode(s)];
  return [...uleb(b.length), ...b];
}
function vec(items: readonly (readonly number[])[]): number[] {
  return [...uleb(items.length), ...items.flat()];
}
function section(id: number, bytes: readonly number[]): number[] {
  return [id, ...uleb(bytes.length), ...bytes];
}

/** Instruction helpers (only the ones trampolines use). */
export const op = {
  localGet: (i: number) => [0x20, ...uleb(i)],
  localSet: (i: number) => [0x21, ...uleb(i)],
  localTee: (i: number) => [0x22, ...uleb(i)],
  call: (f: number) => [0x10, ...uleb(f)],
  globalGet: (g: number) => [0x23, ...uleb(g)],
  globalSet: (g: number) => [0x24, ...uleb(g)],
  /** `i32.load` / `i32.store` of memory 0 with a constant byte offset (4-byte aligned). */
  i32Load: (offset = 0) => [0x28, 2, ...uleb(offset)],
  i32Store: (offset = 0) => [0x36, 2, ...uleb(offset)],
  i32Const: (v: number) => [0x41, ...sleb(v)],
  i64Const: (v: bigint) => [0x42, ...sleb(v)],
  drop: () => [0x1a],
  tableGet: (table: number) => [0x25, ...uleb(table)],
  callIndirect: (typeIndex: number, table: number) => [0x11, ...uleb(typeIndex), ...uleb(table)],
  /** `ref.test (ref typeIndex)` (GC proposal encoding, shipped with JSPI engines). */
  refTest: (typeIndex: number) => [0xfb, 0x14, ...sleb(typeIndex)],
} as const;

/**
 * Encode a module whose function index space is: imports first (in order),
 * then `funcs` (in order). Callers compute call targets with that rule.
 * Imported globals and tables are each numbered from 0 in the order given.
 */
export function encodeModule(
  imports: readonly FuncImport[],
  funcs: readonly FuncDef[],
  globals: readonly GlobalImport[] = [],
  extras: ModuleExtras = {},
): Uint8Array<ArrayBuffer> {
  const types: FuncType[] = [...(extras.types ?? [])];
  const typeKey = (t: FuncType) => `${t.params.join(",")}->${t.results.join(",")}`;
  const typeIndex = (t: FuncType): number => {
    const k = typeKey(t);
    const i = types.findIndex((x) => typeKey(x) === k);
    if (i >= 0) return i;
    types.push(t);
    return types.length - 1;
  };
  const importBytes = [
    ...imports.map((im) => [...name(im.module), ...name(im.name), 0x00, ...uleb(typeIndex(im.type))]),
    ...globals.map((g) => [...name(g.module), ...name(g.name), 0x03, g.global.type, g.global.mutable ? 1 : 0]),
    ...(extras.tables ?? []).map((t) => [...name(t.module), ...name(t.name), 0x01, 0x70, 0x00, 0x00]),
    ...(extras.memory ? [[...name(extras.memory.module), ...name(extras.memory.name), 0x02, 0x00, 0x00]] : []),
  ];
  const funcTypeIdx = funcs.map((f) => uleb(typeIndex(f.type)));
  const exportBytes = funcs.flatMap((f, i) =>
    f.export ? [[...name(f.export), 0x00, ...uleb(imports.length + i)]] : [],
  );
  const codeBytes = funcs.map((f) => {
    const locals = (f.locals ?? []).map((t) => [1, t]);
    const body = [...vec(locals), ...f.body, 0x0b];
    return [...uleb(body.length), ...body];
  });
  const typeBytes = types.map((t) => [0x60, ...vec(t.params.map((p) => [p])), ...vec(t.results.map((r) => [r]))]);
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(typeBytes)),
    ...section(2, vec(importBytes)),
    ...section(3, vec(funcTypeIdx)),
    ...section(7, vec(exportBytes)),
    ...section(10, vec(codeBytes)),
  ]);
}
