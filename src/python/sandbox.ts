/**
 * What Python can reach of the host, decided in one place.
 *
 * Default policy (allowJs false):
 * - filesystem: Pyodide's MEMFS only; `assertNoHostMounts` verifies at boot
 *   that Pyodide mounted nothing of the host, before greenwasm adds the
 *   explicit `paths`/`mounts`;
 * - environment: exactly {@link guestEnv}; `process.env` is never read;
 * - `import js` is an empty, frozen, prototype-less object;
 * - `import pyodide_js` is a facade without the Pyodide API (the real one
 *   reaches Module → FS → NODEFS, i.e. the whole host filesystem);
 * - stdin never falls back to Pyodide's default, which reads host fd 0.
 *
 * Limit: Pyodide's FFI lives in the host's JS realm. Any JS object Python
 * holds (e.g. `pyodide.ffi.to_js([])`) exposes `.constructor.constructor`,
 * the host's `Function`, which can compile code that reaches `process`. Only
 * disallowing code generation from strings closes that path
 * (`--disallow-code-generation-from-strings`, or `v8.setFlagsFromString`
 * before creating the Worker that hosts the runtime; the CLI does the latter).
 * {@link codeGenerationFromStringsAllowed} reports the current state.
 */
import { GUEST_HOME } from "./options.ts";
import type { FSMount, Pyodide, PyodideInternals } from "./pyodide.ts";

/** Variables every guest gets unless `env` overrides them. */
export const BASIC_ENV: Readonly<Record<string, string>> = Object.freeze({
  HOME: GUEST_HOME,
  PATH: "/usr/local/bin:/usr/bin:/bin",
  LANG: "C.UTF-8",
});

/** Emscripten defaults removed from the guest environment unless set explicitly. */
const EMSCRIPTEN_DEFAULTS = ["USER", "LOGNAME", "PWD", "_"] as const;

/** The environment handed to Emscripten at boot (`undefined` deletes a default). */
export function guestEnv(userEnv: Readonly<Record<string, string>>): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...BASIC_ENV };
  for (const name of EMSCRIPTEN_DEFAULTS) env[name] = undefined;
  return Object.assign(env, userEnv);
}

/** The object bound to Python's `js` module. */
export function jsGlobalsFor(allowJs: boolean): object {
  return allowJs ? globalThis : Object.freeze(Object.create(null) as object);
}

/** Whether `new Function(string)` works in this JS context (see the module's Limit note). */
export function codeGenerationFromStringsAllowed(): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    new Function("");
    return true;
  } catch {
    return false;
  }
}

/** Throws if anything other than Emscripten's in-memory filesystems is mounted. */
export function assertNoHostMounts(mod: PyodideInternals): void {
  const { NODEFS } = mod.FS.filesystems;
  const visit = (mount: FSMount): void => {
    if (mount.type === NODEFS) throw new Error(`sandbox: Pyodide mounted host directory ${String(mount.opts["root"])} at ${mount.mountpoint}`);
    for (const child of mount.mounts) visit(child);
  };
  visit(mod.FS.root.mount);
}

/** Unregister the real `pyodide_js` JS module so Python's import hook cannot find it. */
export function unregisterPyodideJs(py: Pyodide): void {
  py.unregisterJsModule("pyodide_js");
}
