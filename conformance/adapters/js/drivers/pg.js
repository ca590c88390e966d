// node-postgres (`pg`) over connect(): in a Worker it reaches the socket through pg-cloudflare
// (TLS: SSLRequest, then startTls()); on Node it uses node:net / node:tls.
import { Buffer } from "node:buffer";
import pg from "pg";
import {
  MiB,
  SAMPLE_BYTES,
  SAMPLE_TEXT,
  attempt,
  digestOf,
  fromHex,
  patternText,
  toHex,
} from "./_common.js";
import { resetSockets, socketsReport } from "./_sockets.js";

function config(server, options, tls) {
  const config = {
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    database: server.database,
    connectionTimeoutMillis: options.connect_timeout_ms ?? 10000,
  };
  if (tls) {
    // Node checks against `ca`; a Worker trusts what its runtime trusts (the run's CA) and ignores it.
    config.ssl = { ca: server.ca, rejectUnauthorized: true, servername: options.servername ?? server.servername };
  }
  return config;
}

async function withClient(server, options, tls, body) {
  const client = new pg.Client(config(server, options, tls));
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

async function tlsProof(client) {
  const { rows } = await client.query(
    "SELECT ssl, version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
  );
  return { ssl: rows[0].ssl, version: rows[0].version };
}

/** Connect and authenticate (SCRAM); what the server says about the session. */
export async function connect({ server, options }) {
  return withClient(server, options, Boolean(options.tls), async (client) => {
    const { rows } = await client.query(
      "SELECT current_user AS user, current_database() AS database, current_setting('server_version') AS version",
    );
    return { ...rows[0], tls: await tlsProof(client) };
  });
}

/** TLS with the run's CA; the server's own proof (pg_stat_ssl). A bad certificate rejects. */
export async function tls({ server, options }) {
  return withClient(server, options, true, async (client) => ({ tls: await tlsProof(client) }));
}

/** With `options.tls`, the server's proof that this session is encrypted; else nothing. */
async function proof(client, options) {
  return options.tls ? { tls: await tlsProof(client) } : {};
}

/** Parameters and results with exact values: UTF-8 text (non-BMP too), bytea, integers, boolean, null. */
export async function query({ server, options }) {
  const text = options.text ?? SAMPLE_TEXT;
  const bytes = options.bytes_hex !== undefined ? fromHex(options.bytes_hex) : SAMPLE_BYTES;
  return withClient(server, options, Boolean(options.tls), async (client) => {
    const { rows } = await client.query(
      "SELECT $1::text AS text, $2::bytea AS bytes, $3::int AS int, $4::bigint AS big, $5::bool AS bool," +
        " $6::text AS nothing, length($1::text) AS chars, octet_length($1::text) AS octets",
      [text, Buffer.from(bytes), 42, "9007199254740993", true, null],
    );
    const row = rows[0];
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
      ...(await proof(client, options)),
    };
  });
}

/** A large result (default 10 MiB of PATTERN in one value): its size and digest. */
export async function large({ server, options }) {
  const size = options.bytes ?? 10 * MiB;
  return withClient(server, options, Boolean(options.tls), async (client) => {
    const { rows } = await client.query("SELECT repeat($1::text, $2::int) AS payload", [
      "0123456789abcdef",
      Math.ceil(size / 16),
    ]);
    const payload = rows[0].payload.slice(0, size);
    return {
      rows: rows.length,
      ...(await digestOf(payload)),
      expected: await digestOf(patternText(size)),
      ...(await proof(client, options)),
    };
  });
}

/** Commit, rollback and a unique-constraint error (its SQLSTATE) in a temporary table. */
export async function transaction({ server, options }) {
  return withClient(server, options, Boolean(options.tls), async (client) => {
    await client.query("CREATE TEMP TABLE items (id int PRIMARY KEY, label text NOT NULL)");
    await client.query("BEGIN");
    await client.query("INSERT INTO items VALUES ($1, $2)", [1, "committed"]);
    await client.query("COMMIT");
    await client.query("BEGIN");
    await client.query("INSERT INTO items VALUES ($1, $2)", [2, "rolled back"]);
    await client.query("ROLLBACK");
    await client.query("BEGIN");
    const duplicate = await attempt(() => client.query("INSERT INTO items VALUES ($1, $2)", [1, "duplicate"]));
    await client.query("ROLLBACK");
    const { rows } = await client.query("SELECT id, label FROM items ORDER BY id");
    return { rows, duplicate: duplicate.error ?? null, ...(await proof(client, options)) };
  });
}

/** Many queries in flight on one connection (pg queues them); results in order. */
export async function pipeline({ server, options }) {
  const count = options.count ?? 20;
  return withClient(server, options, Boolean(options.tls), async (client) => {
    const results = await Promise.all(
      Array.from({ length: count }, (_, i) => client.query("SELECT $1::int * 2 AS doubled", [i])),
    );
    return { count, doubled: results.map((result) => result.rows[0].doubled), ...(await proof(client, options)) };
  });
}

/** end(): does it resolve, and does each socket's `closed` settle after it? */
export async function shutdown({ server, options }) {
  resetSockets();
  const client = new pg.Client(config(server, options, Boolean(options.tls)));
  await client.connect();
  const proven = await proof(client, options);
  const ended = await attempt(() => client.end());
  return {
    ended: !ended.error,
    error: ended.error ?? null,
    sockets: await socketsReport(options.closed_wait_ms),
    ...proven,
  };
}
