// ioredis over node:net / node:tls (which a Worker implements on connect()). TLS is direct, on
// the server's TLS port.
import { Buffer } from "node:buffer";
import Redis from "ioredis";
import { withCause, MiB, SAMPLE_BYTES, SAMPLE_TEXT, attempt, digestOf, fromHex, patternBytes, settlesWithin, toHex, uniqueName } from "./_common.js";

function open(server, options, tls) {
  return new Redis({
    host: server.host,
    port: tls ? server.tls_port : server.port,
    password: server.password,
    tls: tls ? { ca: server.ca, servername: options.servername ?? server.servername } : undefined,
    lazyConnect: true,
    connectTimeout: options.connect_timeout_ms ?? 10000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableReadyCheck: false,
  });
}


/** `value` with, over TLS, the server's view of the connection (the port it came in on) unless it has it. */
async function withProof(value, tls, info) {
  if (!tls || value === null || typeof value !== "object" || "client" in value) return value;
  return { ...value, client: await info() };
}

async function withRedis(server, options, tls, body) {
  const redis = open(server, options, tls);
  let failure = null;
  redis.on("error", (error) => (failure ??= error)); // reported as the cause of what it broke
  try {
    await redis.connect();
    return await withProof(await body(redis), tls, () => clientInfo(redis, server));
  } catch (error) {
    throw withCause(error, failure);
  } finally {
    redis.disconnect();
  }
}

async function clientInfo(redis, server) {
  const info = String(await redis.call("CLIENT", "INFO"));
  const laddr = /laddr=\S*:(\d+)/.exec(info);
  const port = laddr ? Number(laddr[1]) : null;
  return { server_port: port, via: port === server.tls_port ? "tls_port" : port === server.port ? "port" : null };
}

/** Connect and authenticate; PING and the server's view of the connection. */
export async function connect({ server, options }) {
  return withRedis(server, options, Boolean(options.tls), async (redis) => ({
    ping: await redis.ping(),
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
      await redis.set(`${key}:text`, text);
      await redis.set(`${key}:bytes`, Buffer.from(bytes));
      const gotText = await redis.get(`${key}:text`);
      const gotBytes = await redis.getBuffer(`${key}:bytes`);
      return {
        text: gotText,
        text_equal: gotText === text,
        bytes_hex: toHex(gotBytes),
        bytes_equal: toHex(gotBytes) === toHex(bytes),
        strlen: await redis.strlen(`${key}:text`),
        incr: await redis.incrby(`${key}:count`, 41),
        missing: await redis.get(`${key}:missing`),
      };
    } finally {
      await redis.del(`${key}:text`, `${key}:bytes`, `${key}:count`);
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
      await redis.set(key, Buffer.from(value));
      const got = await redis.getBuffer(key);
      return { strlen: await redis.strlen(key), ...(await digestOf(got)), expected: await digestOf(value) };
    } finally {
      await redis.del(key);
    }
  });
}

/** MULTI/EXEC, DISCARD, and an error reply (WRONGTYPE). */
export async function transaction({ server, options }) {
  const key = uniqueName(options, "cc");
  return withRedis(server, options, Boolean(options.tls), async (redis) => {
    try {
      const committed = await redis.multi().incr(`${key}:n`).incr(`${key}:n`).exec();
      await redis.multi({ pipeline: false });
      await redis.incr(`${key}:n`);
      const discarded = await redis.discard();
      await redis.set(`${key}:s`, "text");
      const wrongType = await attempt(() => redis.incr(`${key}:s`));
      return {
        committed: committed.map(([error, value]) => (error ? { error: error.message } : value)),
        discarded,
        value: await redis.get(`${key}:n`),
        wrong_type: wrongType.error ?? null,
      };
    } finally {
      await redis.del(`${key}:n`, `${key}:s`);
    }
  });
}

/** An explicit pipeline and many commands in flight; replies in order. */
export async function pipeline({ server, options }) {
  const count = options.count ?? 50;
  const key = uniqueName(options, "cc");
  return withRedis(server, options, Boolean(options.tls), async (redis) => {
    try {
      const batch = redis.pipeline();
      for (let i = 0; i < count; i++) batch.incr(key);
      const piped = (await batch.exec()).map(([, value]) => value);
      const concurrent = await Promise.all(Array.from({ length: count }, () => redis.incr(key)));
      return { count, piped, concurrent };
    } finally {
      await redis.del(key);
    }
  });
}

/** quit(): does it resolve, and does the connection's "end" event come? */
export async function shutdown({ server, options }) {
  const redis = open(server, options, Boolean(options.tls));
  redis.on("error", () => {});
  const ended = new Promise((resolve) => redis.once("end", resolve));
  await redis.connect();
  const proven = await withProof({ ping: await redis.ping() }, Boolean(options.tls), () => clientInfo(redis, server));
  const quit = await attempt(() => redis.quit());
  return {
    ...proven,
    quit: quit.value ?? null,
    error: quit.error ?? null,
    end_event: await settlesWithin(ended, options.closed_wait_ms ?? 2000),
  };
}
