// redis-on-workers over connect(): a RESP client made for Workers. TLS is direct (the server's
// TLS port, secureTransport "on"); the bundle hands it our recording connect().
import { connect as recordingConnect } from "cloudflare:sockets";
import { createRedis } from "redis-on-workers";
import { MiB, SAMPLE_BYTES, SAMPLE_TEXT, attempt, digestOf, fromHex, fromUtf8, patternBytes, toHex, uniqueName } from "./_common.js";
import { resetSockets, socketsReport } from "./_sockets.js";

function open(server, options, tls) {
  return createRedis({
    hostname: server.host,
    port: tls ? server.tls_port : server.port,
    password: server.password,
    tls,
    connectFn: recordingConnect,
  });
}


/** `value` with, over TLS, the server's view of the connection (the port it came in on) unless it has it. */
async function withProof(value, tls, info) {
  if (!tls || value === null || typeof value !== "object" || "client" in value) return value;
  return { ...value, client: await info() };
}

async function withRedis(server, options, tls, body) {
  const redis = open(server, options, tls);
  try {
    return await withProof(await body(redis), tls, () => clientInfo(redis, server));
  } finally {
    await redis.close();
  }
}

/** The server's view of this connection: the port it came in on (the TLS port only speaks TLS). */
async function clientInfo(redis, server) {
  const info = String(await redis.send("CLIENT", "INFO"));
  const laddr = /laddr=\S*:(\d+)/.exec(info);
  const port = laddr ? Number(laddr[1]) : null;
  return { server_port: port, via: port === server.tls_port ? "tls_port" : port === server.port ? "port" : null };
}

/** Connect and authenticate (AUTH with the password); PING and the server's view of the connection. */
export async function connect({ server, options }) {
  return withRedis(server, options, Boolean(options.tls), async (redis) => ({
    ping: await redis.send("PING"),
    client: await clientInfo(redis, server),
  }));
}

/** TLS with the run's CA on the TLS port; the server's view shows the port. A bad certificate rejects. */
export async function tls({ server, options }) {
  return withRedis(server, options, true, async (redis) => ({ client: await clientInfo(redis, server) }));
}

/** Exact values: UTF-8 text (non-BMP too), every byte value, an integer, a missing key. */
export async function query({ server, options }) {
  const text = options.text ?? SAMPLE_TEXT;
  const bytes = options.bytes_hex !== undefined ? fromHex(options.bytes_hex) : SAMPLE_BYTES;
  const key = uniqueName(options, "cc");
  return withRedis(server, options, Boolean(options.tls), async (redis) => {
    try {
      await redis.send("SET", `${key}:text`, text);
      await redis.send("SET", `${key}:bytes`, bytes);
      const gotText = fromUtf8(await redis.sendRaw("GET", `${key}:text`));
      const gotBytes = await redis.sendRaw("GET", `${key}:bytes`);
      return {
        text: gotText,
        text_equal: gotText === text,
        bytes_hex: toHex(gotBytes),
        bytes_equal: toHex(gotBytes) === toHex(bytes),
        strlen: await redis.send("STRLEN", `${key}:text`),
        incr: await redis.send("INCRBY", `${key}:count`, "41"),
        missing: await redis.send("GET", `${key}:missing`),
      };
    } finally {
      await redis.send("DEL", `${key}:text`, `${key}:bytes`, `${key}:count`);
    }
  });
}

/** A large value (default 1 MiB of PATTERN) written and read back: its size and digest. */
export async function large({ server, options }) {
  const size = options.bytes ?? MiB;
  const key = uniqueName(options, "cc");
  return withRedis(server, options, Boolean(options.tls), async (redis) => {
    try {
      const value = patternBytes(size);
      await redis.send("SET", key, value);
      const got = await redis.sendRaw("GET", key);
      return { strlen: await redis.send("STRLEN", key), ...(await digestOf(got)), expected: await digestOf(value) };
    } finally {
      await redis.send("DEL", key);
    }
  });
}

/** MULTI/EXEC, DISCARD, and an error reply inside EXEC (WRONGTYPE). */
export async function transaction({ server, options }) {
  const key = uniqueName(options, "cc");
  return withRedis(server, options, Boolean(options.tls), async (redis) => {
    try {
      await redis.send("MULTI");
      await redis.send("INCR", `${key}:n`);
      await redis.send("INCR", `${key}:n`);
      const committed = await redis.send("EXEC");
      await redis.send("MULTI");
      await redis.send("INCR", `${key}:n`);
      const discarded = await redis.send("DISCARD");
      await redis.send("SET", `${key}:s`, "text");
      const wrongType = await attempt(() => redis.send("INCR", `${key}:s`));
      return { committed, discarded, value: await redis.send("GET", `${key}:n`), wrong_type: wrongType.error ?? null };
    } finally {
      await redis.send("DEL", `${key}:n`, `${key}:s`);
    }
  });
}

/** Many commands in flight on one connection; replies in order. */
export async function pipeline({ server, options }) {
  const count = options.count ?? 50;
  const key = uniqueName(options, "cc");
  return withRedis(server, options, Boolean(options.tls), async (redis) => {
    try {
      const replies = await Promise.all(Array.from({ length: count }, () => redis.send("INCR", key)));
      return { count, replies };
    } finally {
      await redis.send("DEL", key);
    }
  });
}

/** close(): does it resolve, and does each socket's `closed` settle after it? */
export async function shutdown({ server, options }) {
  resetSockets();
  const redis = open(server, options, Boolean(options.tls));
  const proven = await withProof({ ping: await redis.send("PING") }, Boolean(options.tls), () => clientInfo(redis, server));
  const ended = await attempt(() => redis.close());
  return {
    ...proven,
    ended: !ended.error,
    error: ended.error ?? null,
    sockets: await socketsReport(options.closed_wait_ms),
  };
}
