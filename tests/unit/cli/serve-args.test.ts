import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseServeArgs, UsageError } from "../../../src/cli/args.ts";

const CWD = "/home/user/project";

describe("parseServeArgs", () => {
  it("has uvicorn-like defaults", () => {
    const r = parseServeArgs(["main:app"], CWD);
    assert.deepEqual(r, {
      runtime: { paths: [], mounts: [], env: {}, allowJs: false, allowNet: [], cwd: undefined },
      app: "main:app",
      appDir: CWD,
      interface: "auto",
      host: "127.0.0.1",
      port: 8000,
      workers: 1,
      rootPath: "",
      logLevel: "info",
      accessLog: true,
      timeoutKeepAlive: 5,
      requestTimeout: 60,
      maxBodySize: 10 * 1024 * 1024,
      lifespan: "auto",
    });
  });

  it("reads every server option, in both spellings and any order", () => {
    const r = parseServeArgs(
      ["--host", "0.0.0.0", "--port=9000", "pkg.mod:factory.app", "--workers", "3", "--app-dir", "src", "--interface=wsgi",
        "--root-path", "/api", "--log-level", "debug", "--no-access-log", "--timeout-keep-alive", "2.5",
        "--timeout-request=0", "--limit-max-body", "1024", "--lifespan", "off"],
      CWD,
    );
    assert.equal(r.app, "pkg.mod:factory.app");
    assert.equal(r.host, "0.0.0.0");
    assert.equal(r.port, 9000);
    assert.equal(r.workers, 3);
    assert.equal(r.appDir, "/home/user/project/src");
    assert.equal(r.interface, "wsgi");
    assert.equal(r.rootPath, "/api");
    assert.equal(r.logLevel, "debug");
    assert.equal(r.accessLog, false);
    assert.equal(r.timeoutKeepAlive, 2.5);
    assert.equal(r.requestTimeout, 0);
    assert.equal(r.maxBodySize, 1024);
    assert.equal(r.lifespan, "off");
  });

  it("takes the shared runtime flags", () => {
    const r = parseServeArgs(["--path", "lib", "--mount", "data:/data:rw", "--env", "A=1", "--allow-js", "--allow-net", "127.0.0.1:5432", "--cwd", "/data", "app:app"], CWD);
    assert.deepEqual(r.runtime, {
      paths: ["/home/user/project/lib"],
      mounts: [{ host: "/home/user/project/data", guest: "/data", writable: true }],
      env: { A: "1" },
      allowJs: true,
      allowNet: ["127.0.0.1:5432"],
      cwd: "/data",
    });
  });

  it("lets the last --access-log / --no-access-log win", () => {
    assert.equal(parseServeArgs(["--no-access-log", "--access-log", "a:b"], CWD).accessLog, true);
  });

  const usageErrors: [string, string[], RegExp][] = [
    ["no app", [], /missing the app/],
    ["app without attribute", ["main"], /module:attribute/],
    ["two apps", ["a:b", "c:d"], /unexpected argument/],
    ["unknown option", ["--reload", "a:b"], /unknown option --reload/],
    ["bad port", ["--port", "70000", "a:b"], /--port/],
    ["non-numeric port", ["--port", "http", "a:b"], /--port/],
    ["zero workers", ["--workers", "0", "a:b"], /--workers/],
    ["bad interface", ["--interface", "rsgi", "a:b"], /--interface: expected one of auto, asgi, wsgi/],
    ["bad log level", ["--log-level", "loud", "a:b"], /--log-level/],
    ["bad root path", ["--root-path", "api/", "a:b"], /--root-path/],
    ["missing value", ["a:b", "--host"], /--host requires a value/],
    ["negative timeout", ["--timeout-request", "-1", "a:b"], /--timeout-request/],
  ];
  for (const [name, argv, message] of usageErrors) {
    it(`rejects ${name} with a UsageError`, () => {
      assert.throws(() => parseServeArgs(argv, CWD), (err: unknown) => err instanceof UsageError && message.test(err.message));
    });
  }
});
