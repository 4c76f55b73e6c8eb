/**
 * Each test tries an escape from the default sandbox and asserts it fails.
 * Python prints "ESCAPED ..." when an attempt works; every test asserts
 * that marker is absent.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, afterEach, before, describe, it } from "node:test";
import { codeGenerationFromStringsAllowed, createRuntime, type Runtime } from "../../src/python/index.ts";
import { checkInvariants } from "../../src/python/testing.ts";
import { Capture } from "./support.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SECRET = "GREENWASM_SANDBOX_TEST_SECRET";

describe("sandbox (default options)", { timeout: 120_000 }, () => {
  const out = new Capture();
  const err = new Capture();
  let rt: Runtime;

  /** Run code that must exit 0 and never print ESCAPED. Returns stdout. */
  async function attempt(code: string): Promise<string> {
    out.clear();
    err.clear();
    const status = await rt.runCode(code);
    assert.equal(status, 0, `python failed:\n${err.text}`);
    assert.doesNotMatch(out.text, /ESCAPED/);
    return out.text;
  }

  before(async () => {
    process.env[SECRET] = "host-secret-value";
    rt = await createRuntime({ stdout: out.sink, stderr: err.sink });
  });
  afterEach(() => checkInvariants(rt));
  after(async () => {
    delete process.env[SECRET];
    await rt?.close();
  });

  it("cannot read host files such as /etc/passwd or the project's own files", async () => {
    const paths = ["/etc/passwd", "/etc/hostname", `${ROOT}package.json`, `${ROOT}src/python/runtime.ts`, "package.json"];
    const text = await attempt(`
for p in ${JSON.stringify(paths)}:
    try:
        open(p).read()
        print("ESCAPED read", p)
    except OSError:
        print("refused", p)
`);
    assert.equal(text.split("\n").filter((l) => l.startsWith("refused")).length, paths.length);
  });

  it("sees only Pyodide's in-memory filesystem, with nothing of the host", async () => {
    const text = await attempt(`
import os
print(sorted(os.listdir('/')))
for top, dirs, files in os.walk('/'):
    if top.startswith(('/proc', '/dev')):
        dirs[:] = []
        continue
    for f in files:
        if f in ('package.json', 'passwd', 'tsconfig.json') or 'node_modules' in top:
            print('ESCAPED host file', os.path.join(top, f))
print('walked')
`);
    assert.match(text, /^\['dev', 'home', 'lib', 'proc', 'tmp'\]\nwalked\n$/);
  });

  it("never leaks the host's process.env into os.environ", async () => {
    const text = await attempt(`
import os
print(sorted(os.environ))
if any('host-secret-value' in v for v in os.environ.values()) or '${SECRET}' in os.environ:
    print('ESCAPED env')
`);
    assert.equal(text, "['HOME', 'LANG', 'LD_LIBRARY_PATH', 'PATH']\n");
  });

  it("gives `import js` nothing of Node: no process, require, fetch, globalThis, timers", async () => {
    await attempt(`
import js
for name in ('process', 'require', 'fetch', 'globalThis', 'setTimeout', 'eval', 'Function', 'Object', 'constructor', '__proto__', 'Buffer', 'WebAssembly'):
    try:
        getattr(js, name)
        print('ESCAPED js.' + name)
    except AttributeError:
        pass
for mod, name in (('js', 'process'), ('js', 'eval'), ('js', 'fetch')):
    try:
        exec(f'from {mod} import {name}')
        print('ESCAPED from', mod, 'import', name)
    except ImportError:
        pass
`);
  });

  it("blocks pyodide.code.run_js and pyodide.http", async () => {
    await attempt(`
from pyodide.code import run_js
try:
    run_js('process')
    print('ESCAPED run_js')
except ImportError:
    pass
try:
    from pyodide.http import pyfetch
    import asyncio
    asyncio.run(pyfetch('http://127.0.0.1:9/'))
    print('ESCAPED pyfetch')
except Exception:
    pass
`);
  });

  it("replaces pyodide_js with a facade that reaches no Module, FS or API", async () => {
    await attempt(`
import sys, pyodide_js
for owner in (pyodide_js, pyodide_js._api, sys.modules['pyodide_js._api']):
    for name in ('_module', 'FS', 'runPython', 'runPythonAsync', 'loadPackage', 'registerJsModule', '_api', 'globals', 'pyodide_py'):
        if owner is pyodide_js and name == '_api':
            continue
        if hasattr(owner, name):
            print('ESCAPED', owner, name)
cfg = pyodide_js._api.config
if hasattr(cfg, 'jsglobals') or hasattr(cfg, 'indexURL'):
    print('ESCAPED config')
from _pyodide._importhook import jsfinder
if 'pyodide_js' in getattr(jsfinder, 'jsproxies', {}):
    print('ESCAPED jsfinder')
`);
  });

  it("leaves no JS object in any module that reaches the Pyodide API or Node", async () => {
    await attempt(`
import gc, sys
from pyodide.ffi import JsProxy
candidates = [v for m in list(sys.modules.values()) for v in list(getattr(m, '__dict__', {}).values()) if isinstance(v, JsProxy)]
candidates += [o for o in gc.get_objects() if isinstance(o, JsProxy)]
for v in candidates:
    for name in ('_module', 'FS', 'runPython', 'process', 'require', '_api', 'jsglobals', 'globalThis'):
        if hasattr(v, name):
            print('ESCAPED via', v, name)
`);
  });

  it("never reads the host's stdin: stdin is at EOF without a source", async () => {
    const text = await attempt("import sys, os; print(repr(sys.stdin.read()), os.read(0, 10))");
    assert.equal(text, "'' b''\n");
  });

  it("keeps asyncio working after sealing", async () => {
    const text = await attempt("import asyncio\nasync def f():\n    await asyncio.sleep(0.01)\n    return 5\nprint(asyncio.run(f()))");
    assert.equal(text, "5\n");
  });

  it("reports whether JS code generation from strings is blocked in this context", () => {
    assert.equal(rt.codeGenerationBlocked, !codeGenerationFromStringsAllowed());
  });
});

describe("sandbox (CLI worker, code generation disabled)", { timeout: 60_000 }, () => {
  it("stops the Function-constructor route from a JS object to process", () => {
    const code = [
      "from pyodide.ffi import to_js",
      "try:",
      "    p = to_js([]).constructor.constructor('return process')()",
      "    print('ESCAPED', p.version)",
      "except Exception as e:",
      "    print('refused:', type(e).__name__, str(e).splitlines()[0])",
    ].join("\n");
    const r = spawnSync(process.execPath, [`${ROOT}bin/greenwasm.js`, "run", "-c", code], { encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /ESCAPED/);
    assert.match(r.stdout, /refused: JsException EvalError: Code generation from strings disallowed/);
  });
});

describe("sandbox opened with allowJs", { timeout: 120_000 }, () => {
  const out = new Capture();
  let rt: Runtime;
  before(async () => {
    rt = await createRuntime({ allowJs: true, stdout: out.sink, stderr: out.sink });
  });
  afterEach(() => checkInvariants(rt));
  after(async () => rt?.close());

  it("exposes the full JS global scope and the Pyodide API", async () => {
    assert.equal(await rt.runCode("import js, pyodide_js; print(js.process.version, js.globalThis.process.version == js.process.version, hasattr(pyodide_js, 'FS'))"), 0, out.text);
    assert.equal(out.text, `${process.version} True True\n`);
  });
});
