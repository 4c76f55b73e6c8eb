/**
 * The network allowlist (`allowNet` / `--allow-net`): parsing and matching.
 * Pure: no DNS, no sockets (net.ts does the lookups and asks this module).
 *
 * Entry forms: `HOST:PORT`, `HOST:*`, `*:PORT`, `*`. HOST is a DNS name, an
 * IPv4 address or an IPv6 address in brackets (`[::1]:8080`).
 *
 * Matching rule for a connection to (host, port) as the program named it —
 * allowed when some entry's port is `*` or equal to `port`, and:
 * 1. the entry's host is `*`; or
 * 2. the entry's host equals `host` (names compare case-insensitively without
 *    a trailing dot; addresses compare in canonical form); or
 * 3. `host` is a name, the entry's host is an address, and `host` resolves to
 *    it. Only then does the host resolve the name before deciding, and the
 *    connection goes only to the resolved addresses that some entry grants.
 * A name entry never grants an address literal (no reverse lookups):
 * `localhost:80` does not allow `127.0.0.1:80`.
 */
import { isIPv4, isIPv6 } from "node:net";

/** What an entry's (or a requested) host is. */
export type HostKind = "any" | "name" | "ipv4" | "ipv6";

/** One parsed allowlist entry. */
export interface NetRule {
  /** The entry as given. */
  readonly text: string;
  readonly kind: HostKind;
  /** Canonical host: lowercase name, canonical address, or `*`. */
  readonly host: string;
  /** Port, or `null` for any port. */
  readonly port: number | null;
}

/** A bad allowlist entry; the message says which form is expected. */
export class NetRuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NetRuleError";
  }
}

const FORMS = "expected HOST:PORT, HOST:*, *:PORT or * (IPv6 in brackets: [::1]:8080)";
const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/** Canonical form of a host as a program or an entry names it. */
export function canonicalHost(host: string): { kind: Exclude<HostKind, "any">; host: string } {
  if (isIPv4(host)) return { kind: "ipv4", host };
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (isIPv6(bare)) {
    // IPv4-mapped addresses are IPv4 addresses.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
    if (mapped && isIPv4(mapped[1]!)) return { kind: "ipv4", host: mapped[1]! };
    // The WHATWG URL serializer prints IPv6 in canonical compressed form.
    return { kind: "ipv6", host: new URL(`http://[${bare}]/`).hostname.slice(1, -1) };
  }
  return { kind: "name", host: host.toLowerCase().replace(/\.$/, "") };
}

function validName(name: string): boolean {
  return name.length > 0 && name.length <= 253 && name.split(".").every((l) => LABEL.test(l));
}

/** Parse one entry; throws {@link NetRuleError}. */
export function parseNetRule(text: string): NetRule {
  if (typeof text !== "string") throw new NetRuleError(`entries must be strings, got ${typeof text}; ${FORMS}`);
  if (text === "*") return { text, kind: "any", host: "*", port: null };
  let hostPart: string;
  let portPart: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0 || text[close + 1] !== ":") throw new NetRuleError(`${JSON.stringify(text)}: ${FORMS}`);
    hostPart = text.slice(0, close + 1);
    portPart = text.slice(close + 2);
    if (!isIPv6(hostPart.slice(1, -1))) throw new NetRuleError(`${JSON.stringify(text)}: ${hostPart} is not an IPv6 address`);
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0) throw new NetRuleError(`${JSON.stringify(text)}: missing port; ${FORMS}`);
    hostPart = text.slice(0, colon);
    portPart = text.slice(colon + 1);
    if (hostPart.includes(":")) throw new NetRuleError(`${JSON.stringify(text)}: put IPv6 addresses in brackets, e.g. [::1]:8080`);
  }
  let port: number | null = null;
  if (portPart !== "*") {
    if (!/^\d{1,5}$/.test(portPart) || Number(portPart) < 1 || Number(portPart) > 65535) {
      throw new NetRuleError(`${JSON.stringify(text)}: port must be 1-65535 or *`);
    }
    port = Number(portPart);
  }
  if (hostPart === "*") return { text, kind: "any", host: "*", port };
  const host = canonicalHost(hostPart);
  if (host.kind === "name" && !validName(host.host)) {
    throw new NetRuleError(`${JSON.stringify(text)}: ${JSON.stringify(hostPart)} is not a host name or address; ${FORMS}`);
  }
  return { text, kind: host.kind, host: host.host, port };
}

/** `host:port` as an allowlist entry would spell it (IPv6 in brackets). */
export function hostPort(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** What {@link NetPolicy.decide} can say before any DNS lookup. */
export type Decision =
  /** Allowed by a `*` or name/address entry: connect to whatever `host` resolves to. */
  | "allow"
  /** No entry can match, not even after resolving. */
  | "deny"
  /** `host` is a name and address entries for this port exist: resolve, then keep the allowed addresses. */
  | "resolve";

/** An immutable allowlist. */
export class NetPolicy {
  readonly rules: readonly NetRule[];

  constructor(rules: readonly NetRule[]) {
    this.rules = Object.freeze([...rules]);
  }

  /** Parse entries (e.g. the `allowNet` option); throws {@link NetRuleError} naming the bad index. */
  static parse(entries: readonly string[]): NetPolicy {
    if (!Array.isArray(entries)) throw new NetRuleError(`must be an array of strings; ${FORMS}`);
    return new NetPolicy(
      entries.map((e, i) => {
        try {
          return parseNetRule(e);
        } catch (err) {
          throw new NetRuleError(`[${i}]: ${(err as Error).message}`);
        }
      }),
    );
  }

  /** Decide for a connection to `host` (as the program named it) and `port`. */
  decide(host: string, port: number): Decision {
    const want = canonicalHost(host);
    let resolve = false;
    for (const r of this.rules) {
      if (r.port !== null && r.port !== port) continue;
      if (r.kind === "any" || (r.kind === want.kind && r.host === want.host)) return "allow";
      if (want.kind === "name" && r.kind !== "name") resolve = true;
    }
    return resolve ? "resolve" : "deny";
  }

  /** Whether an address (a resolved one, or a literal) is granted for `port` by an address or `*` entry. */
  allowsAddress(address: string, port: number): boolean {
    const a = canonicalHost(address);
    return this.rules.some((r) => (r.port === null || r.port === port) && (r.kind === "any" || (r.kind === a.kind && r.host === a.host)));
  }
}
