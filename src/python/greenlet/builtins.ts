import type { PyodideInternals } from "../pyodide.ts";

/**
 * Install wasm functions as CPython builtins of one module.
 *
 * Cross-language contract: `PyMethodDef` on wasm32 is 16 bytes —
 *   +0 const char *ml_name, +4 PyCFunction ml_meth (function-table index),
 *   +8 int ml_flags, +12 const char *ml_doc.
 * The defs and their name strings are never freed: CPython keeps pointers to
 * them for the life of the interpreter.
 */
export const METH_FASTCALL = 0x0080;
export const METH_KEYWORDS = 0x0002;
const METHOD_DEF_SIZE = 16;

function methodDef(m: PyodideInternals, name: string, fn: Function, flags: number): number {
  const index = m.wasmTable.grow(1);
  m.wasmTable.set(index, fn);
  const def = m._malloc(METHOD_DEF_SIZE);
  m.HEAPU32[def >>> 2] = m.stringToNewUTF8(name);
  m.HEAPU32[(def >>> 2) + 1] = index;
  m.HEAP32[(def >>> 2) + 2] = flags;
  m.HEAPU32[(def >>> 2) + 3] = 0;
  return def;
}

/** Make `fn` the METH_FASTCALL|METH_KEYWORDS method `name` of the (heap) type `type`. */
export function installMethod(m: PyodideInternals, type: number, name: string, fn: Function): void {
  const def = methodDef(m, name, fn, METH_FASTCALL | METH_KEYWORDS);
  const descr = m._PyDescr_NewMethod(type, def);
  const namePtr = m.HEAPU32[def >>> 2]!;
  if (!descr || m._PyObject_SetAttrString(type, namePtr, descr) !== 0) throw new Error(`cannot install method ${name}`);
  m._Py_DecRef(descr);
}

export function installBuiltins(m: PyodideInternals, moduleName: string, fns: Record<string, Function>): number {
  const namePtr = m.stringToNewUTF8(moduleName);
  const module = m._PyImport_AddModule(namePtr); // borrowed; lives in sys.modules
  if (!module) throw new Error(`cannot create module ${moduleName}`);
  for (const [name, fn] of Object.entries(fns)) {
    const def = methodDef(m, name, fn, METH_FASTCALL);
    const obj = m._PyCFunction_NewEx(def, 0, 0);
    if (!obj || m._PyModule_AddObjectRef(module, m.HEAPU32[def >>> 2]!, obj) !== 0) {
      throw new Error(`cannot install ${moduleName}.${name}`);
    }
    m._Py_DecRef(obj);
  }
  return module;
}
