// node-redis (`redis`, v6) over node:net / node:tls. The host is an IP address and maintenance
// notifications are off: with a host name, RESP3's maintNotifications "auto" asks dns.lookup,
// which a Worker answers over DNS-over-HTTPS (no network here).
import { Buffer } from "node:buffer";
import { RESP_TYPES, createClient } from "redis";
import { withCause, MiB, SAMPLE_BYTES, SAMPLE_TEXT, attempt, digestOf, fromHex, patternBytes, settlesWithin, toHex, uniqueName } from "./_common.js";

function open(server, options, tls) {
  const socket = {
    host: server.host,
    port: tls ? server.tls_port : server.port,
    connectTimeout: options.connect_timeout_ms ?? 10000,
    reconnectStrategy: false,
  };
  if (tls) Object.assign(socket, { tls: true, ca: server.ca, servername: options.servername ?? server.servername });
  const client = createClient({
    socket,
    password: server.password,
    maintNotifications: options.maint_notifications ?? "disabled",
  });
  client.failure = null;
  client.on("error", (error) => (client.failure ??= error)); // reported as the cause of what it broke
  return client;
}


/** `value` with, over TLS, the server's view of the connection (the port it came in on) unless it has it. */
async function withProof(value, tls, info) {
  if (!tls || value === null || typeof value !== "object" || "client" in value) return value;
  return { ...value, client: await info() };
}

async function withClient(server, options, tls, body) {
  const client = open(server, options, tls);
  try {
    await client.connect();
    return await withProof(await body(client), tls, () => clientInfo(client, server));
  } catch (error) {
    throw withCause(error, client.failure);
  } finally {
    if (client.isOpen) client.destroy();
  }
}

async function clientInfo(client, server) {
  const info = String(await client.sendCommand(["CLIENT", "INFO"]));
  const laddr = /laddr=\S*:(\d+)/.exec(info);
  const port = laddr ? Number(laddr[1]) : null;
  return { server_port: port, via: port === server.tls_port ? "tls_port" : port === server.port ? "port" : null };
}

/** Connect and authenticate; PING and the server's view of the connection. */
export async function connect({ server, options }) {
  return withClient(server, options, Boolean(options.tls), async (client) => ({
    ping: await client.ping(),
    client: await clientInfo(client, server),
  }));
}

/** TLS with the run's CA on the TLS port; the server's view shows the port. A bad certificate rejects. */
export async function tls({ server, options }) {
  return withClient(server, options, true, async (client) => ({ client: await clientInfo(client, server) }));
}

/** Exact values: UTF-8 text (non-BMP too), every byte value, an integer, a missing key. */
export async function query({ server, options }) {
  const text = options.text ?? SAMPLE_TEXT;
  const bytes = options.bytes_hex !== undefined ? fromHex(options.bytes_hex) : SAMPLE_BYTES;
  const key = uniqueName(options, "cc");
  return withClient(server, options, Boolean(options.tls), async (client) => {
    const binary = client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
    try {
      await client.set(`${key}:text`, text);
      await client.set(`${key}:bytes`, Buffer.from(bytes));
      const gotText = await client.get(`${key}:text`);
      const gotBytes = await binary.get(`${key}:bytes`);
      return {
        text: gotText,
        text_equal: gotText === text,
        bytes_hex: toHex(gotBytes),
        bytes_equal: toHex(gotBytes) === toHex(bytes),
        strlen: await client.strLen(`${key}:text`),
        incr: await client.incrBy(`${key}:count`, 41),
        missing: await client.get(`${key}:missing`),
      };
    } finally {
      await client.del([`${key}:text`, `${key}:bytes`, `${key}:count`]);
    }
  });
}

/** A large value (default 1 MiB of PATTERN) written and read back: its size and digest. */
export async function large({ server, options }) {
  const size = options.bytes ?? MiB;
  const key = uniqueName(options, "cc");
  return withClient(server, options, Boolean(options.tls), async (client) => {
    const binary = client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
    try {
      const value = patternBytes(size);
      await client.set(key, Buffer.from(value));
      const got = await binary.get(key);
      return { strlen: await client.strLen(key), ...(await digestOf(got)), expected: await digestOf(value) };
    } finally {
      await client.del(key);
    }
  });
}

/** MULTI/EXEC, a discarded MULTI, and an error reply (WRONGTYPE). */
export async function transaction({ server, options }) {
  const key = uniqueName(options, "cc");
  return withClient(server, options, Boolean(options.tls), async (client) => {
    try {
      const committed = await client.multi().incr(`${key}:n`).incr(`${key}:n`).exec();
      await client.set(`${key}:s`, "text");
      const wrongType = await attempt(() => client.incr(`${key}:s`));
      return { committed, value: await client.get(`${key}:n`), wrong_type: wrongType.error ?? null };
    } finally {
      await client.del([`${key}:n`, `${key}:s`]);
    }
  });
}

/** An explicit pipeline and many commands in flight (node-redis pipelines them); replies in order. */
export async function pipeline({ server, options }) {
  const count = options.count ?? 50;
  const key = uniqueName(options, "cc");
  return withClient(server, options, Boolean(options.tls), async (client) => {
    try {
      const batch = client.multi();
      for (let i = 0; i < count; i++) batch.incr(key);
      const piped = await batch.execAsPipeline();
      const concurrent = await Promise.all(Array.from({ length: count }, () => client.incr(key)));
      return { count, piped, concurrent };
    } finally {
      await client.del(key);
    }
  });
}

/** close(): does it resolve, and does the client's "end" event come? */
export async function shutdown({ server, options }) {
  const client = open(server, options, Boolean(options.tls));
  const ended = new Promise((resolve) => client.once("end", resolve));
  await client.connect();
  const proven = await withProof({ ping: await client.ping() }, Boolean(options.tls), () => clientInfo(client, server));
  const closed = await attempt(() => client.close());
  return {
    ...proven,
    ended: !closed.error,
    error: closed.error ?? null,
    end_event: await settlesWithin(ended, options.closed_wait_ms ?? 2000),
  };
}
