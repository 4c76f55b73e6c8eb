import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { canonicalHost, hostPort, NetPolicy, NetRuleError, parseNetRule } from "../../../src/python/netpolicy.ts";
import { resolveOptions } from "../../../src/python/options.ts";
import { RuntimeOptionsError } from "../../../src/python/errors.ts";

describe("parseNetRule", () => {
  it("parses names, addresses, wildcards and ports", () => {
    assert.deepEqual(parseNetRule("Example.COM.:443"), { text: "Example.COM.:443", kind: "name", host: "example.com", port: 443 });
    assert.deepEqual(parseNetRule("127.0.0.1:*"), { text: "127.0.0.1:*", kind: "ipv4", host: "127.0.0.1", port: null });
    assert.deepEqual(parseNetRule("*:5432"), { text: "*:5432", kind: "any", host: "*", port: 5432 });
    assert.deepEqual(parseNetRule("*"), { text: "*", kind: "any", host: "*", port: null });
    assert.deepEqual(parseNetRule("[0:0::1]:80"), { text: "[0:0::1]:80", kind: "ipv6", host: "::1", port: 80 });
    assert.deepEqual(parseNetRule("[::ffff:10.1.2.3]:80").host, "10.1.2.3");
  });
  it("rejects what is not one of the four forms", () => {
    const bad: [string, RegExp][] = [
      ["localhost", /missing port/],
      ["localhost:0", /port must be/],
      ["localhost:99999", /port must be/],
      ["localhost:80x", /port must be/],
      ["::1:80", /brackets/],
      ["[::1]80", /expected HOST:PORT/],
      ["[::g]:80", /not an IPv6 address/],
      ["exa mple.com:80", /not a host name/],
      ["*.example.com:80", /not a host name/],
      [":80", /not a host name/],
    ];
    for (const [text, re] of bad) assert.throws(() => parseNetRule(text), (e: unknown) => e instanceof NetRuleError && re.test(e.message), text);
  });
});

describe("NetPolicy", () => {
  const policy = NetPolicy.parse(["localhost:8080", "10.0.0.1:*", "[::1]:9000", "*:5432", "db.internal:*"]);
  it("allows names and addresses as the program named them", () => {
    assert.equal(policy.decide("localhost", 8080), "allow");
    assert.equal(policy.decide("LOCALHOST.", 8080), "allow");
    assert.equal(policy.decide("10.0.0.1", 1), "allow");
    assert.equal(policy.decide("::1", 9000), "allow");
    assert.equal(policy.decide("0:0:0:0:0:0:0:1", 9000), "allow");
    assert.equal(policy.decide("anything.example", 5432), "allow");
    assert.equal(policy.decide("db.internal", 1234), "allow");
  });
  it("never grants an address through a name entry", () => {
    assert.equal(policy.decide("127.0.0.1", 8080), "deny");
    assert.equal(NetPolicy.parse(["localhost:8080"]).decide("localhost", 8081), "deny");
    assert.equal(policy.decide("localhost", 8081), "resolve"); // 10.0.0.1:* might be what it resolves to
  });
  it("asks to resolve a name only when an address entry could match its port", () => {
    assert.equal(policy.decide("example.com", 80), "resolve"); // 10.0.0.1:* covers every port
    assert.equal(NetPolicy.parse(["10.0.0.1:80"]).decide("example.com", 81), "deny");
    assert.equal(NetPolicy.parse(["[::1]:9000"]).decide("example.com", 9000), "resolve");
    assert.equal(NetPolicy.parse([]).decide("example.com", 80), "deny");
  });
  it("matches resolved addresses in canonical form", () => {
    assert.equal(policy.allowsAddress("10.0.0.1", 22), true);
    assert.equal(policy.allowsAddress("::ffff:10.0.0.1", 22), true);
    assert.equal(policy.allowsAddress("0::1", 9000), true);
    assert.equal(policy.allowsAddress("::1", 9001), false);
    assert.equal(policy.allowsAddress("127.0.0.1", 8080), false);
    assert.equal(policy.allowsAddress("192.0.2.1", 5432), true);
  });
  it("names the bad index", () => {
    assert.throws(() => NetPolicy.parse(["*", "nope"]), /^NetRuleError: \[1\]: "nope": missing port/);
  });
  it("spells host:port as an entry would", () => {
    assert.equal(hostPort("::1", 80), "[::1]:80");
    assert.equal(hostPort("example.com", 80), "example.com:80");
    assert.deepEqual(canonicalHost("[::1]"), { kind: "ipv6", host: "::1" });
  });
});

describe("allowNet runtime option", () => {
  it("defaults to no network", () => {
    assert.deepEqual(resolveOptions({}).allowNet.rules, []);
  });
  it("reports bad entries as RuntimeOptionsError", () => {
    assert.throws(() => resolveOptions({ allowNet: ["ok:1", "bad"] }), (e: unknown) => e instanceof RuntimeOptionsError && /^allowNet\[1\]: "bad"/.test(e.message));
    assert.throws(() => resolveOptions({ allowNet: "*" as unknown as string[] }), (e: unknown) => e instanceof RuntimeOptionsError && /allowNet must be an array/.test(e.message));
    assert.throws(() => resolveOptions({ allowNet: [80 as unknown as string] }), RuntimeOptionsError);
  });
});
