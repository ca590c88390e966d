// mysql2 over node:net / node:tls. `disableEval`: a Worker refuses code generation from strings,
// which mysql2's result parsers use by default.
import { Buffer } from "node:buffer";
import mysql from "mysql2/promise";
import { MiB, SAMPLE_BYTES, SAMPLE_TEXT, attempt, digestOf, fromHex, patternText, settlesWithin, toHex } from "./_common.js";

function config(server, options, tls) {
  const config = {
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    database: server.database,
    charset: "utf8mb4",
    connectTimeout: options.connect_timeout_ms ?? 10000,
    disableEval: options.disable_eval ?? true,
    supportBigNumbers: true,
    bigNumberStrings: true,
  };
  // verifyIdentity: mysql2 checks the server's name only when asked (against the host it dialled;
  // it has no option for another name).
  if (tls) config.ssl = { ca: server.ca, rejectUnauthorized: true, verifyIdentity: true };
  return config;
}

async function withConnection(server, options, tls, body) {
  const connection = await mysql.createConnection(config(server, options, tls));
  try {
    return await body(connection);
  } finally {
    await connection.end();
  }
}

async function tlsProof(connection) {
  const [rows] = await connection.query("SHOW SESSION STATUS LIKE 'Ssl_version'");
  return { version: rows[0]?.Value || null };
}

/** Connect and authenticate; what the server says about the session. */
export async function connect({ server, options }) {
  return withConnection(server, options, Boolean(options.tls), async (connection) => {
    const [rows] = await connection.query("SELECT CURRENT_USER() AS user, DATABASE() AS `database`, VERSION() AS version");
    return { ...rows[0], tls: await tlsProof(connection) };
  });
}

/** TLS with the run's CA; the server's own proof (Ssl_version). A bad certificate rejects. */
export async function tls({ server, options }) {
  return withConnection(server, options, true, async (connection) => ({ tls: await tlsProof(connection) }));
}

/** With `options.tls`, the server's proof that this session is encrypted; else nothing. */
async function proof(connection, options) {
  return options.tls ? { tls: await tlsProof(connection) } : {};
}

/** A prepared statement with exact values: UTF-8 text (non-BMP too), every byte value, integers, null. */
export async function query({ server, options }) {
  const text = options.text ?? SAMPLE_TEXT;
  const bytes = options.bytes_hex !== undefined ? fromHex(options.bytes_hex) : SAMPLE_BYTES;
  return withConnection(server, options, Boolean(options.tls), async (connection) => {
    const [rows] = await connection.execute(
      "SELECT CAST(? AS CHAR) AS text, CAST(? AS BINARY) AS bytes, CAST(? AS SIGNED) AS `int`, CAST(? AS SIGNED) AS big," +
        " ? IS NULL AS nothing, CHAR_LENGTH(?) AS chars, OCTET_LENGTH(?) AS octets",
      [text, Buffer.from(bytes), 42, "9007199254740993", null, text, text],
    );
    const row = rows[0];
    return {
      text: row.text,
      text_equal: row.text === text,
      bytes_hex: toHex(row.bytes),
      bytes_equal: toHex(row.bytes) === toHex(bytes),
      int: row.int,
      big: row.big,
      nothing: row.nothing,
      chars: row.chars,
      octets: row.octets,
      ...(await proof(connection, options)),
    };
  });
}

/** A large result (default 10 MiB of PATTERN in one value): its size and digest. */
export async function large({ server, options }) {
  const size = options.bytes ?? 10 * MiB;
  return withConnection(server, options, Boolean(options.tls), async (connection) => {
    const [rows] = await connection.query("SELECT REPEAT('0123456789abcdef', ?) AS payload", [Math.ceil(size / 16)]);
    const payload = String(rows[0].payload).slice(0, size);
    return {
      rows: rows.length,
      ...(await digestOf(payload)),
      expected: await digestOf(patternText(size)),
      ...(await proof(connection, options)),
    };
  });
}

/** Commit, rollback and a duplicate-key error (its code, errno, SQLSTATE) in a temporary table. */
export async function transaction({ server, options }) {
  return withConnection(server, options, Boolean(options.tls), async (connection) => {
    await connection.query("CREATE TEMPORARY TABLE items (id INT PRIMARY KEY, label VARCHAR(64) NOT NULL) ENGINE=InnoDB");
    await connection.beginTransaction();
    await connection.execute("INSERT INTO items VALUES (?, ?)", [1, "committed"]);
    await connection.commit();
    await connection.beginTransaction();
    await connection.execute("INSERT INTO items VALUES (?, ?)", [2, "rolled back"]);
    await connection.rollback();
    await connection.beginTransaction();
    const duplicate = await attempt(() => connection.execute("INSERT INTO items VALUES (?, ?)", [1, "duplicate"]));
    await connection.rollback();
    const [rows] = await connection.query("SELECT id, label FROM items ORDER BY id");
    return { rows: rows.map((row) => ({ ...row })), duplicate: duplicate.error ?? null, ...(await proof(connection, options)) };
  });
}

/** Many queries in flight on one connection (mysql2 queues them); results in order. */
export async function pipeline({ server, options }) {
  const count = options.count ?? 20;
  return withConnection(server, options, Boolean(options.tls), async (connection) => {
    const results = await Promise.all(
      Array.from({ length: count }, (_, i) => connection.query("SELECT ? * 2 AS doubled", [i])),
    );
    return { count, doubled: results.map(([rows]) => Number(rows[0].doubled)), ...(await proof(connection, options)) };
  });
}

/** end(): does it resolve, and does the connection's "end" event come? */
export async function shutdown({ server, options }) {
  const connection = await mysql.createConnection(config(server, options, Boolean(options.tls)));
  const ended = new Promise((resolve) => connection.connection.once("end", resolve));
  const proven = options.tls ? await proof(connection, options) : (await connection.query("SELECT 1"), {});
  const end = await attempt(() => connection.end());
  return {
    ended: !end.error,
    error: end.error ?? null,
    end_event: await settlesWithin(ended, options.closed_wait_ms ?? 2000),
    ...proven,
  };
}
