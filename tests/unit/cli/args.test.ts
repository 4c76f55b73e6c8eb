import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultRuntimeArgs, parseAllowNet, parseEnv, parseMount, parseRunArgs, takeRuntimeFlag, UsageError } from "../../../src/cli/args.ts";

const CWD = "/home/user/project";

describe("parseRunArgs", () => {
  it("takes a script and passes everything after it to the program", () => {
    const r = parseRunArgs(["script.py", "-c", "--path", "x"], CWD);
    assert.deepEqual(r.target, { kind: "file", path: "script.py" });
    assert.deepEqual(r.args, ["-c", "--path", "x"]);
  });

  it("parses -c and -m with their program arguments", () => {
    assert.deepEqual(parseRunArgs(["-c", "print(1)", "a", "-m"], CWD), {
      runtime: defaultRuntimeArgs(),
      target: { kind: "code", code: "print(1)" },
      args: ["a", "-m"],
    });
    const m = parseRunArgs(["-m", "json.tool", "--help"], CWD);
    assert.deepEqual(m.target, { kind: "module", name: "json.tool" });
    assert.deepEqual(m.args, ["--help"]);
  });

  it("accepts the attached forms -cCODE and -mMODULE", () => {
    assert.deepEqual(parseRunArgs(["-cpass"], CWD).target, { kind: "code", code: "pass" });
    assert.deepEqual(parseRunArgs(["-mjson"], CWD).target, { kind: "module", name: "json" });
  });

  it("parses runtime flags before the target, in both spellings", () => {
    const r = parseRunArgs(
      [
        "--path", "lib", "--path=/abs", "--mount", "data:/data:rw", "--env", "A=1", "--env=B=x=y", "--allow-js",
        "--allow-net", "example.com:443", "--allow-net=[::1]:*", "--cwd", "/data", "s.py",
      ],
      CWD,
    );
    assert.deepEqual(r.runtime, {
      paths: ["/home/user/project/lib", "/abs"],
      mounts: [{ host: "/home/user/project/data", guest: "/data", writable: true }],
      env: { A: "1", B: "x=y" },
      allowJs: true,
      allowNet: ["example.com:443", "[::1]:*"],
      cwd: "/data",
    });
  });

  it("treats -- as the end of options", () => {
    const r = parseRunArgs(["--", "--weird.py", "x"], CWD);
    assert.deepEqual(r.target, { kind: "file", path: "--weird.py" });
    assert.deepEqual(r.args, ["x"]);
  });

  const usageErrors: [string, string[], RegExp][] = [
    ["no target", [], /missing script/],
    ["unknown option", ["--bogus", "x.py"], /unknown option --bogus/],
    ["-c without code", ["-c"], /-c requires an argument/],
    ["-m without module", ["-m"], /-m requires an argument/],
    ["flag without value", ["--path"], /--path requires a value/],
    ["stdin program", ["-"], /not supported/],
    ["relative cwd", ["--cwd", "data", "x.py"], /must be absolute/],
    ["bad env", ["--env", "NOEQUALS", "x.py"], /KEY=VALUE/],
    ["bad mount", ["--mount", "a:b:c:d", "x.py"], /HOST\[:GUEST\]\[:rw\]/],
    ["allow-net without port", ["--allow-net", "example.com", "x.py"], /--allow-net: .*missing port/],
    ["allow-net with a bad port", ["--allow-net", "example.com:0", "x.py"], /--allow-net: .*port must be 1-65535/],
    ["allow-net with bare IPv6", ["--allow-net", "::1:80", "x.py"], /--allow-net: .*brackets/],
    ["allow-net without value", ["--allow-net"], /--allow-net requires a value/],
  ];
  for (const [name, argv, message] of usageErrors) {
    it(`rejects ${name} with a UsageError`, () => {
      assert.throws(() => parseRunArgs(argv, CWD), (err: unknown) => err instanceof UsageError && message.test(err.message));
    });
  }
});

describe("parseMount", () => {
  it("defaults the guest path to the absolute host path and read-only", () => {
    assert.deepEqual(parseMount("data", CWD), { host: "/home/user/project/data", guest: "/home/user/project/data", writable: false });
  });
  it("reads an explicit guest path and mode", () => {
    assert.deepEqual(parseMount("/srv:/srv2", CWD), { host: "/srv", guest: "/srv2", writable: false });
    assert.deepEqual(parseMount("/srv:rw", CWD), { host: "/srv", guest: "/srv", writable: true });
    assert.deepEqual(parseMount("/srv:/x:ro", CWD), { host: "/srv", guest: "/x", writable: false });
  });
  it("rejects empty hosts and relative guests", () => {
    assert.throws(() => parseMount(":/x", CWD), UsageError);
    assert.throws(() => parseMount("a:relative", CWD), UsageError);
    assert.throws(() => parseMount("", CWD), UsageError);
  });
});

describe("parseEnv / takeRuntimeFlag", () => {
  it("splits at the first =, allowing empty values", () => {
    assert.deepEqual(parseEnv("K=a=b"), ["K", "a=b"]);
    assert.deepEqual(parseEnv("K="), ["K", ""]);
    assert.throws(() => parseEnv("=v"), UsageError);
  });
  it("returns 0 for arguments that are not runtime flags", () => {
    const into = defaultRuntimeArgs();
    assert.equal(takeRuntimeFlag(["script.py"], 0, into, CWD), 0);
    assert.equal(takeRuntimeFlag(["--pathological"], 0, into, CWD), 0);
    assert.deepEqual(into, defaultRuntimeArgs());
  });
  it("reports how many arguments a flag consumed", () => {
    const into = defaultRuntimeArgs();
    assert.equal(takeRuntimeFlag(["--env", "A=1"], 0, into, CWD), 2);
    assert.equal(takeRuntimeFlag(["--env=B=2"], 0, into, CWD), 1);
    assert.equal(takeRuntimeFlag(["--allow-js"], 0, into, CWD), 1);
    assert.deepEqual(into.env, { A: "1", B: "2" });
  });
});

describe("parseAllowNet", () => {
  it("accepts every documented form and returns the entry unchanged", () => {
    for (const e of ["localhost:8080", "example.com:*", "*:443", "*", "10.0.0.1:5432", "[::1]:80", "[2001:db8::1]:*"]) {
      assert.equal(parseAllowNet(e), e);
    }
  });
  it("rejects malformed entries with a UsageError naming the flag", () => {
    for (const e of ["", ":80", "host:", "host:65536", "host:http", "a b:80", "[::1]", "[zz]:80", "*.example.com:80", "-bad-.com:1"]) {
      assert.throws(() => parseAllowNet(e), (err: unknown) => err instanceof UsageError && err.message.startsWith("--allow-net: "), e);
    }
  });
});
