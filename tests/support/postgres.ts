/**
 * A throwaway PostgreSQL server for tests and benchmarks (Debian `postgresql`).
 *
 *   const pg = await startPostgres();   // initdb into a temp dir, pg_ctl start on a free port
 *   pg.env                               // PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE/PGSSLMODE + roles
 *   await pg.restart();                  // fast restart (the fault tests)
 *   await pg.close();                    // stop, remove the directory
 *
 * The cluster runs as the `postgres` system user when we are root (initdb refuses root), else
 * as the current user. It listens on 127.0.0.1 only, with password authentication: SCRAM-SHA-256
 * for the superuser, plus one role per other password method (md5, cleartext) so each client
 * auth path is exercised. Durability is off (fsync, synchronous_commit): the server is a
 * throwaway, and client-side costs are what the benchmarks compare.
 */
import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, appendFileSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export class PostgresHarnessError extends Error {
  override name = "PostgresHarnessError";
}

export interface PostgresOptions {
  /** Extra postgresql.conf settings (name → value, quoted as needed by the caller). Default: `{}`. */
  settings?: Record<string, string>;
  /** Serve TLS too, with a fresh self-signed certificate for 127.0.0.1 (needs `openssl`). Default: `false`. */
  ssl?: boolean;
  /** Name of the database created for the tests. Default: `"greenwasm"`. */
  database?: string;
}

export interface Role {
  user: string;
  password: string;
}

export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  /** Superuser, authenticated with SCRAM-SHA-256. */
  readonly user: string;
  readonly password: string;
  readonly database: string;
  /** A role whose password is stored as md5 and checked with `md5` in pg_hba.conf. */
  readonly md5Role: Role;
  /** A role checked with `password` (cleartext) in pg_hba.conf. */
  readonly plainRole: Role;
  /** The server certificate (self-signed, also the CA to trust), when started with `ssl`. */
  readonly caFile: string | undefined;
  /** PostgreSQL major version, e.g. 15. */
  readonly version: number;
  /**
   * Environment for clients: libpq's PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE,
   * PGSSLMODE=disable, and GREENWASM_PG_{MD5,PLAIN}_{USER,PASSWORD}, GREENWASM_PG_SSL
   * ("1" when TLS is served), GREENWASM_PG_CAFILE.
   */
  readonly env: Record<string, string>;
  /** `postgresql+<driver>://user:password@host:port/database` (driver omitted when empty). */
  url(driver?: string): string;
  /** Run SQL as the superuser through psql; returns its unaligned, tuples-only output. */
  sql(query: string): Promise<string>;
  /** `pg_ctl restart -m fast`: terminates every session, returns once the server accepts connections. */
  restart(): Promise<void>;
  /** Stop the server (fast shutdown) and remove its directory. Idempotent. */
  close(): Promise<void>;
}

/** The newest installed server, e.g. /usr/lib/postgresql/15/bin. */
export function postgresBinDir(): string | null {
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, "bin", "pg_ctl")))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(base, versions[0]!, "bin") : null;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env, encoding: "utf8", maxBuffer: 16 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new PostgresHarnessError(`${cmd} ${args.join(" ")} failed: ${err.message}\n${stderr}${stdout}`));
      else resolve(stdout);
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

/** The uid/gid the cluster runs as: `postgres` when root, else ourselves. */
function clusterOwner(): { uid: number; gid: number; asOwner: (cmd: string, args: string[]) => [string, string[]] } {
  if (!isRoot) {
    return { uid: process.getuid!(), gid: process.getgid!(), asOwner: (cmd, args) => [cmd, args] };
  }
  const id = (flag: string) => spawnSync("id", [flag, "postgres"], { encoding: "utf8" });
  const uid = id("-u");
  const gid = id("-g");
  if (uid.status !== 0 || gid.status !== 0) {
    throw new PostgresHarnessError("running as root but there is no `postgres` user (Debian's postgresql package creates it)");
  }
  return {
    uid: Number(uid.stdout.trim()),
    gid: Number(gid.stdout.trim()),
    asOwner: (cmd, args) => ["runuser", ["-u", "postgres", "--", cmd, ...args]],
  };
}

const live = new Set<() => void>();
process.once("exit", () => {
  for (const stop of live) stop();
});

export async function startPostgres(opts: PostgresOptions = {}): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (!bin) throw new PostgresHarnessError("PostgreSQL server binaries not found under /usr/lib/postgresql: run `npm run setup`");
  const version = Number(bin.split("/").at(-2));
  const owner = clusterOwner();
  const dir = mkdtempSync(join(tmpdir(), "greenwasm-pg-"));
  const data = join(dir, "data");
  const log = join(dir, "server.log");
  const user = "greenwasm";
  const password = randomBytes(12).toString("base64url");
  const md5Role = { user: "greenwasm_md5", password: randomBytes(9).toString("base64url") };
  const plainRole = { user: "greenwasm_plain", password: randomBytes(9).toString("base64url") };
  const database = opts.database ?? "greenwasm";
  const host = "127.0.0.1";
  chmodSync(dir, 0o700);
  chownSync(dir, owner.uid, owner.gid);
  const ownerRun = (tool: string, args: string[]) => {
    const [cmd, argv] = owner.asOwner(join(bin, tool), args);
    return run(cmd, argv);
  };
  const pwfile = join(dir, "pw");
  writeFileSync(pwfile, password + "\n", { mode: 0o600 });
  chownSync(pwfile, owner.uid, owner.gid);

  let started = false;
  const stopSync = () => {
    if (started) {
      const [cmd, argv] = owner.asOwner(join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]);
      spawnSync(cmd, argv, { stdio: "ignore" });
      started = false;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  live.add(stopSync);
  try {
    await ownerRun("initdb", [
      "-D", data, "-U", user, `--pwfile=${pwfile}`, "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync",
    ]);
    rmSync(pwfile);
    const port = await freePort();
    const conf: Record<string, string> = {
      listen_addresses: "'127.0.0.1'",
      port: String(port),
      unix_socket_directories: `'${dir}'`,
      max_connections: "200",
      fsync: "off",
      synchronous_commit: "off",
      full_page_writes: "off",
      password_encryption: "'scram-sha-256'",
      timezone: "'UTC'",
      ...opts.settings,
    };
    let caFile: string | undefined;
    if (opts.ssl) {
      caFile = join(dir, "server.crt");
      const key = join(dir, "server.key");
      await run("openssl", [
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key, "-out", caFile,
      ]);
      chmodSync(key, 0o600);
      chownSync(key, owner.uid, owner.gid);
      chmodSync(caFile, 0o644);
      Object.assign(conf, { ssl: "on", ssl_cert_file: `'${caFile}'`, ssl_key_file: `'${key}'` });
    }
    appendFileSync(join(data, "postgresql.conf"), "\n# greenwasm test harness\n" + Object.entries(conf).map(([k, v]) => `${k} = ${v}`).join("\n") + "\n");
    writeFileSync(
      join(data, "pg_hba.conf"),
      [
        "local all all scram-sha-256",
        `host all ${md5Role.user} 127.0.0.1/32 md5`,
        `host all ${plainRole.user} 127.0.0.1/32 password`,
        "host all all 127.0.0.1/32 scram-sha-256",
        "",
      ].join("\n"),
    );
    const pgCtl = (action: string[]) => ownerRun("pg_ctl", ["-D", data, "-l", log, "-w", "-t", "60", ...action]);
    try {
      await pgCtl(["start"]);
    } catch (e) {
      throw new PostgresHarnessError(`${(e as Error).message}\nserver log:\n${existsSync(log) ? readFileSync(log, "utf8") : "(none)"}`);
    }
    started = true;

    const psqlEnv = { ...process.env, PGPASSWORD: password, PGSSLMODE: "disable", PGCONNECT_TIMEOUT: "10" };
    const psql = (db: string, query: string) =>
      run(join(bin, "psql"), ["-X", "-q", "-h", host, "-p", String(port), "-U", user, "-d", db, "-v", "ON_ERROR_STOP=1", "-tA", "-c", query], psqlEnv);
    const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
    await psql("postgres", `CREATE DATABASE ${database}`);
    await psql(
      database,
      `SET password_encryption = 'md5';
       CREATE ROLE ${md5Role.user} LOGIN PASSWORD ${lit(md5Role.password)};
       RESET password_encryption;
       CREATE ROLE ${plainRole.user} LOGIN PASSWORD ${lit(plainRole.password)};
       GRANT ALL ON SCHEMA public TO ${md5Role.user}, ${plainRole.user};`,
    );

    const enc = encodeURIComponent;
    const server: PostgresServer = {
      host,
      port,
      user,
      password,
      database,
      md5Role,
      plainRole,
      caFile,
      version,
      env: {
        PGHOST: host,
        PGPORT: String(port),
        PGUSER: user,
        PGPASSWORD: password,
        PGDATABASE: database,
        PGSSLMODE: "disable",
        GREENWASM_PG_MD5_USER: md5Role.user,
        GREENWASM_PG_MD5_PASSWORD: md5Role.password,
        GREENWASM_PG_PLAIN_USER: plainRole.user,
        GREENWASM_PG_PLAIN_PASSWORD: plainRole.password,
        GREENWASM_PG_SSL: opts.ssl ? "1" : "0",
        ...(caFile ? { GREENWASM_PG_CAFILE: caFile } : {}),
      },
      url: (driver = "") => `postgresql${driver ? `+${driver}` : ""}://${enc(user)}:${enc(password)}@${host}:${port}/${database}`,
      sql: (query) => psql(database, query),
      restart: async () => {
        await pgCtl(["-m", "fast", "restart"]);
      },
      close: async () => {
        if (!live.has(stopSync)) return;
        live.delete(stopSync);
        if (started) {
          started = false;
          await pgCtl(["-m", "fast", "stop"]).catch(() => undefined);
        }
        rmSync(dir, { recursive: true, force: true });
      },
    };
    return server;
  } catch (e) {
    live.delete(stopSync);
    stopSync();
    throw e;
  }
}
