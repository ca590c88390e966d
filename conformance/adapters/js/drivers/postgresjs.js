// postgres.js (`postgres`) over connect(): its `workerd` export uses cloudflare:sockets directly
// (TLS: SSLRequest, then startTls()); so does the Node bundle, through the polyfill.
import { Buffer } from "node:buffer";
import postgres from "postgres";
import { MiB, SAMPLE_BYTES, SAMPLE_TEXT, attempt, digestOf, fromHex, patternText, toHex } from "./_common.js";
import { resetSockets, socketsReport } from "./_sockets.js";

function open(server, options, tls) {
  return postgres({
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    database: server.database,
    // A Worker verifies against what its runtime trusts (the run's CA); `ca` is for Node's own TLS.
    ssl: tls ? { ca: server.ca, servername: options.servername ?? server.servername, rejectUnauthorized: true } : false,
    max: options.max ?? 1,
    connect_timeout: (options.connect_timeout_ms ?? 10000) / 1000,
    idle_timeout: 0,
    onnotice: () => {},
  });
}

async function withSql(server, options, tls, body) {
  const sql = open(server, options, tls);
  try {
    return await body(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function tlsProof(sql) {
  const [row] = await sql`SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()`;
  return { ssl: row.ssl, version: row.version };
}

/** Connect and authenticate (SCRAM); what the server says about the session. */
export async function connect({ server, options }) {
  return withSql(server, options, Boolean(options.tls), async (sql) => {
    const [row] =
      await sql`SELECT current_user AS user, current_database() AS database, current_setting('server_version') AS version`;
    return { ...row, tls: await tlsProof(sql) };
  });
}

/** TLS with the run's CA; the server's own proof (pg_stat_ssl). A bad certificate rejects. */
export async function tls({ server, options }) {
  return withSql(server, options, true, async (sql) => ({ tls: await tlsProof(sql) }));
}

/** With `options.tls`, the server's proof that this session is encrypted; else nothing. */
async function proof(sql, options) {
  return options.tls ? { tls: await tlsProof(sql) } : {};
}

/** Parameters and results with exact values: UTF-8 text (non-BMP too), bytea, integers, boolean, null. */
export async function query({ server, options }) {
  const text = options.text ?? SAMPLE_TEXT;
  const bytes = options.bytes_hex !== undefined ? fromHex(options.bytes_hex) : SAMPLE_BYTES;
  return withSql(server, options, Boolean(options.tls), async (sql) => {
    const [row] = await sql`SELECT ${text}::text AS text, ${Buffer.from(bytes)}::bytea AS bytes, ${42}::int AS int,
      ${"9007199254740993"}::bigint AS big, ${true}::bool AS bool, ${null}::text AS nothing,
      length(${text}::text) AS chars, octet_length(${text}::text) AS octets`;
    return {
      text: row.text,
      text_equal: row.text === text,
      bytes_hex: toHex(row.bytes),
      bytes_equal: toHex(row.bytes) === toHex(bytes),
      int: row.int,
      big: row.big,
      bool: row.bool,
      nothing: row.nothing,
      chars: row.chars,
      octets: row.octets,
      ...(await proof(sql, options)),
    };
  });
}

/** A large result (default 10 MiB of PATTERN in one value): its size and digest. */
export async function large({ server, options }) {
  const size = options.bytes ?? 10 * MiB;
  return withSql(server, options, Boolean(options.tls), async (sql) => {
    const rows = await sql`SELECT repeat(${"0123456789abcdef"}::text, ${Math.ceil(size / 16)}::int) AS payload`;
    const payload = rows[0].payload.slice(0, size);
    return {
      rows: rows.length,
      ...(await digestOf(payload)),
      expected: await digestOf(patternText(size)),
      ...(await proof(sql, options)),
    };
  });
}

/** Commit, rollback and a unique-constraint error (its SQLSTATE) in a temporary table. */
export async function transaction({ server, options }) {
  return withSql(server, options, Boolean(options.tls), async (sql) => {
    await sql`CREATE TEMP TABLE items (id int PRIMARY KEY, label text NOT NULL)`;
    await sql.begin((tx) => tx`INSERT INTO items VALUES (${1}, ${"committed"})`);
    const rolledBack = await attempt(() =>
      sql.begin(async (tx) => {
        await tx`INSERT INTO items VALUES (${2}, ${"rolled back"})`;
        throw new Error("roll back on purpose");
      }),
    );
    const duplicate = await attempt(() => sql.begin((tx) => tx`INSERT INTO items VALUES (${1}, ${"duplicate"})`));
    const rows = await sql`SELECT id, label FROM items ORDER BY id`;
    return {
      rows: rows.map((row) => ({ ...row })),
      rollback: rolledBack.error?.message ?? null,
      duplicate: duplicate.error ?? null,
      ...(await proof(sql, options)),
    };
  });
}

/** Many queries in flight on one connection (postgres.js pipelines them); results in order. */
export async function pipeline({ server, options }) {
  const count = options.count ?? 20;
  return withSql(server, options, Boolean(options.tls), async (sql) => {
    const results = await Promise.all(Array.from({ length: count }, (_, i) => sql`SELECT ${i}::int * 2 AS doubled`));
    return { count, doubled: results.map((rows) => rows[0].doubled), ...(await proof(sql, options)) };
  });
}

/** end(): does it resolve, and does each socket's `closed` settle after it? */
export async function shutdown({ server, options }) {
  resetSockets();
  const sql = open(server, options, Boolean(options.tls));
  const proven = options.tls ? await proof(sql, options) : (await sql`SELECT 1`, {});
  const ended = await attempt(() => sql.end({ timeout: 5 }));
  return {
    ended: !ended.error,
    error: ended.error ?? null,
    sockets: await socketsReport(options.closed_wait_ms),
    ...proven,
  };
}
