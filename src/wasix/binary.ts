/**
 * Just enough WebAssembly binary reading and writing for the WASIX host:
 *
 * - `inspectGuest` finds what the host must reach from JS in a clang/wasm-ld
 *   program: the C stack pointer global (`__stack_pointer`), the indirect
 *   function table and the memory, whether exported, imported or private;
 * - `exposeGuest` rewrites the binary so the private ones are exported under
 *   `__greenwasm_*` names (appending to, or adding, the export section).
 *
 * The host's own trampoline modules are built with the engine's `encodeModule`.
 *
 * Only the MVP type-section form (`0x60` function types) is accepted: that is
 * what C toolchains emit. Anything else raises `WasmBinaryError`.
 */
import { uleb } from "../engine/index.ts";
import { GreenwasmError } from "../common/errors.ts";

export class WasmBinaryError extends GreenwasmError {
  constructor(message: string) {
    super(message);
    this.name = "WasmBinaryError";
  }
}

export const ExternKind = { func: 0, table: 1, memory: 2, global: 3, tag: 4 } as const;
const utf8 = new TextDecoder();

class Reader {
  pos: number;
  readonly b: Uint8Array;
  readonly end: number;
  constructor(b: Uint8Array, pos = 0, end = b.length) {
    this.b = b;
    this.pos = pos;
    this.end = end;
  }
  u8(): number {
    if (this.pos >= this.end) throw new WasmBinaryError(`unexpected end of module at byte ${this.pos}`);
    return this.b[this.pos++]!;
  }
  uleb(): number {
    let result = 0, shift = 0, byte: number;
    do {
      byte = this.u8();
      result += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return result;
  }
  /** Skip a signed LEB128 of any width. */
  skipLeb(): void {
    while (this.u8() & 0x80);
  }
  name(): string {
    const n = this.uleb();
    const s = utf8.decode(this.b.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
  limits(): { min: number; max: number | undefined } {
    const flags = this.u8();
    const min = this.uleb();
    return { min, max: flags & 1 ? this.uleb() : undefined };
  }
  /** Skip a constant expression up to and including its `end`. */
  constExpr(): void {
    for (;;) {
      const op = this.u8();
      if (op === 0x0b) return;
      if (op === 0x41 || op === 0x42) this.skipLeb();
      else if (op === 0x43) this.pos += 4;
      else if (op === 0x44) this.pos += 8;
      else if (op === 0x23 || op === 0xd2) this.uleb();
      else if (op === 0xd0) this.skipLeb();
      else if ((op >= 0x6a && op <= 0x6c) || (op >= 0x7c && op <= 0x7e)) continue;
      else throw new WasmBinaryError(`unsupported constant expression opcode 0x${op.toString(16)}`);
    }
  }
}

export interface Section {
  id: number;
  /** Offset of the section id byte. */
  start: number;
  /** Offset of the payload. */
  payload: number;
  /** Offset just past the payload. */
  end: number;
  /** Custom sections only. */
  name?: string;
}

export interface ImportEntry {
  module: string;
  name: string;
  kind: number;
  /** For functions: the type index. */
  typeIndex?: number;
  limits?: { min: number; max: number | undefined };
}

export interface FuncSig {
  params: number[];
  results: number[];
}

export interface GuestInfo {
  sections: Section[];
  types: FuncSig[];
  imports: ImportEntry[];
  exports: { name: string; kind: number; index: number }[];
  /** Index of the C stack pointer global; undefined for a program that never uses a C stack. */
  stackPointer: number | undefined;
  /** Export name of the stack pointer, if exported. */
  stackPointerExport: string | undefined;
  /** True when the module defines (rather than imports) table 0 / memory 0. */
  tableDefined: boolean;
  memoryDefined: boolean;
  tableExport: string | undefined;
  memoryExport: string | undefined;
  hasTable: boolean;
  hasMemory: boolean;
}

function readSections(b: Uint8Array): Section[] {
  const magic = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  if (b.length < 8 || magic.some((m, i) => b[i] !== m)) throw new WasmBinaryError("not a WebAssembly module (bad magic or version)");
  const r = new Reader(b, 8);
  const out: Section[] = [];
  while (r.pos < b.length) {
    const start = r.pos;
    const id = r.u8();
    const size = r.uleb();
    const payload = r.pos;
    const end = payload + size;
    if (end > b.length) throw new WasmBinaryError(`section ${id} runs past the end of the module`);
    const s: Section = { id, start, payload, end };
    if (id === 0) s.name = new Reader(b, payload, end).name();
    out.push(s);
    r.pos = end;
  }
  return out;
}

/** Global names from the name section (subsection 7 of the extended name section). */
function globalNames(b: Uint8Array, s: Section | undefined): Map<number, string> {
  const names = new Map<number, string>();
  if (!s) return names;
  try {
    const r = new Reader(b, s.payload, s.end);
    r.name();
    while (r.pos < s.end) {
      const id = r.u8();
      const size = r.uleb();
      const next = r.pos + size;
      if (id === 7) {
        for (let n = r.uleb(); n > 0; n--) names.set(r.uleb(), r.name());
      }
      r.pos = next;
    }
  } catch {
    // A malformed name section is ignored, as engines do.
  }
  return names;
}

/** Read what the host needs to know about a guest module. */
export function inspectGuest(b: Uint8Array): GuestInfo {
  const sections = readSections(b);
  const types: FuncSig[] = [];
  const imports: ImportEntry[] = [];
  const exports: GuestInfo["exports"] = [];
  let importedGlobals = 0;
  const definedGlobals: { type: number; mutable: boolean }[] = [];
  let tableDefined = false, memoryDefined = false;
  for (const s of sections) {
    const r = new Reader(b, s.payload, s.end);
    if (s.id === 1) {
      for (let n = r.uleb(); n > 0; n--) {
        const form = r.u8();
        if (form !== 0x60) throw new WasmBinaryError(`unsupported type form 0x${form.toString(16)} (only MVP function types)`);
        const params: number[] = [], results: number[] = [];
        for (let k = r.uleb(); k > 0; k--) params.push(r.u8());
        for (let k = r.uleb(); k > 0; k--) results.push(r.u8());
        types.push({ params, results });
      }
    } else if (s.id === 2) {
      for (let n = r.uleb(); n > 0; n--) {
        const e: ImportEntry = { module: r.name(), name: r.name(), kind: r.u8() };
        if (e.kind === ExternKind.func) e.typeIndex = r.uleb();
        else if (e.kind === ExternKind.table) { r.u8(); e.limits = r.limits(); }
        else if (e.kind === ExternKind.memory) e.limits = r.limits();
        else if (e.kind === ExternKind.global) { r.u8(); r.u8(); importedGlobals++; }
        else if (e.kind === ExternKind.tag) { r.u8(); r.uleb(); }
        else throw new WasmBinaryError(`unknown import kind ${e.kind}`);
        imports.push(e);
      }
    } else if (s.id === 4) tableDefined = r.uleb() > 0;
    else if (s.id === 5) memoryDefined = r.uleb() > 0;
    else if (s.id === 6) {
      for (let n = r.uleb(); n > 0; n--) {
        const type = r.u8();
        const mutable = r.u8() === 1;
        r.constExpr();
        definedGlobals.push({ type, mutable });
      }
    } else if (s.id === 7) {
      for (let n = r.uleb(); n > 0; n--) exports.push({ name: r.name(), kind: r.u8(), index: r.uleb() });
    }
  }
  // The stack pointer: the global the name section calls __stack_pointer, else (stripped
  // binaries) the first mutable i32 global the module defines, which is where wasm-ld puts it.
  const names = globalNames(b, sections.find((s) => s.id === 0 && s.name === "name"));
  let sp = [...names].find(([, n]) => n === "__stack_pointer")?.[0];
  if (sp === undefined) {
    const i = definedGlobals.findIndex((g) => g.mutable && g.type === 0x7f);
    if (i >= 0) sp = importedGlobals + i;
  }
  if (sp !== undefined && sp < importedGlobals) throw new WasmBinaryError("the stack pointer global is imported (shared-library builds are not supported)");
  const exportOf = (kind: number, index: number) => exports.find((e) => e.kind === kind && e.index === index)?.name;
  const tableImported = imports.some((e) => e.kind === ExternKind.table);
  const memoryImported = imports.some((e) => e.kind === ExternKind.memory);
  return {
    sections, types, imports, exports, stackPointer: sp,
    stackPointerExport: sp === undefined ? undefined : exportOf(ExternKind.global, sp),
    tableDefined, memoryDefined,
    tableExport: exportOf(ExternKind.table, 0),
    memoryExport: exportOf(ExternKind.memory, 0),
    hasTable: tableDefined || tableImported,
    hasMemory: memoryDefined || memoryImported,
  };
}

export const SP_EXPORT = "__greenwasm_stack_pointer";
export const TABLE_EXPORT = "__greenwasm_table";
export const MEMORY_EXPORT = "__greenwasm_memory";

/**
 * Export the stack pointer (if any), table 0 and memory 0 under `__greenwasm_*` names
 * unless already exported (imported ones are left alone: the host provides them).
 * Returns the new binary and the export names to use.
 */
export function exposeGuest(b: Uint8Array, info: GuestInfo): { bytes: Uint8Array; sp: string | undefined; table: string | undefined; memory: string | undefined } {
  const add: { name: string; kind: number; index: number }[] = [];
  let sp = info.stackPointerExport;
  if (!sp && info.stackPointer !== undefined) add.push({ name: (sp = SP_EXPORT), kind: ExternKind.global, index: info.stackPointer });
  let table = info.tableExport;
  if (info.tableDefined && !table) add.push({ name: (table = TABLE_EXPORT), kind: ExternKind.table, index: 0 });
  let memory = info.memoryExport;
  if (info.memoryDefined && !memory) add.push({ name: (memory = MEMORY_EXPORT), kind: ExternKind.memory, index: 0 });
  if (add.length === 0) return { bytes: b, sp, table, memory };

  const all = [...info.exports, ...add];
  const enc = new TextEncoder();
  const entries = all.flatMap((e) => {
    const n = [...enc.encode(e.name)];
    return [...uleb(n.length), ...n, e.kind, ...uleb(e.index)];
  });
  const payload = [...uleb(all.length), ...entries];
  const section = new Uint8Array([7, ...uleb(payload.length), ...payload]);
  const old = info.sections.find((s) => s.id === 7);
  // Without an export section, the new one goes before the first section that must follow it.
  const at = old ?? info.sections.find((s) => [8, 9, 10, 11, 12].includes(s.id));
  const cut = at ? at.start : b.length;
  const resume = old ? old.end : cut;
  const out = new Uint8Array(cut + section.length + (b.length - resume));
  out.set(b.subarray(0, cut), 0);
  out.set(section, cut);
  out.set(b.subarray(resume), cut + section.length);
  return { bytes: out, sp, table, memory };
}
