export { jspiSupported, requireJspi, JspiUnsupportedError, suspending, promising } from "./jspi.ts";
export { encodeModule, op, ValType, uleb, sleb } from "./wasm-encoder.ts";
export type { FuncType, FuncImport, FuncDef, GlobalImport, ModuleExtras, TableImport } from "./wasm-encoder.ts";
export { makeRegion, alignUp, alignDown, STACK_ALIGN } from "./region.ts";
export type { StackRegion } from "./region.ts";
export { Switcher, Continuation, SwitchError, continuationById, liveContinuations } from "./continuation.ts";
export type { SwitchHost, ContinuationState } from "./continuation.ts";
