// MQTT.js over node:net / node:tls. MQTT.js takes a Worker for a browser and offers only
// WebSockets there, so the scenarios hand it the stream themselves (a stream builder).
//
// The broker's proof of TLS: Mosquitto's TLS listener has a mount point (TLS_MOUNT_POINT,
// conformance/drivers/message_servers.py), so what a client of that listener publishes is filed
// under "tls/"; a second client on the plain listener sees under which name it arrives.
import { Buffer } from "node:buffer";
import net from "node:net";
import tlsModule from "node:tls";
import { MqttClient } from "mqtt/index";
import { withCause, MiB, SAMPLE_BYTES, SAMPLE_TEXT, attempt, digestOf, fromHex, fromUtf8, patternBytes, settlesWithin, toHex, uniqueName } from "./_common.js";

/** The mount point of the broker's TLS listener (the harness configures Mosquitto so). */
const TLS_MOUNT_POINT = "tls/";

function open(server, options, tls) {
  const port = tls ? server.tls_port : server.port;
  const stream = () =>
    tls
      ? tlsModule.connect({ host: server.host, port, ca: server.ca, servername: options.servername ?? server.servername })
      : net.connect({ host: server.host, port });
  return new MqttClient(stream, {
    username: server.user,
    password: server.password,
    clientId: uniqueName(options, "cc"),
    protocolVersion: options.protocol_version ?? 4,
    reconnectPeriod: 0,
    connectTimeout: options.connect_timeout_ms ?? 10000,
    clean: true,
  });
}

function connected(client) {
  return new Promise((resolve, reject) => {
    let failure = null;
    client.once("connect", resolve);
    client.on("error", (error) => {
      failure ??= error;
      reject(error);
    });
    client.once("close", () => reject(withCause(new Error("the connection closed before CONNACK"), failure)));
  });
}

async function withClient(server, options, tls, body) {
  const client = open(server, options, tls);
  const connack = await connected(client);
  try {
    const value = await body(client, connack);
    return tls && !("listener" in value) ? { ...value, listener: await listenerProof(server, options, client) } : value;
  } finally {
    await client.endAsync();
  }
}

/**
 * Which listener the broker filed `client`'s messages under: a client of the plain listener subscribes
 * to a fresh topic both as is and under the TLS mount point, `client` publishes to it, and the name the
 * message arrives under tells: `{via: "tls_listener", seen_as: "tls/conformance/..."}` (or `plain_listener`).
 */
async function listenerProof(server, options, client) {
  const topic = `conformance/${uniqueName(options, "proof")}`;
  const observer = open(server, { ...options, name: `${options.name ?? ""}observer` }, false);
  await connected(observer);
  try {
    const arrived = new Promise((resolve) => observer.on("message", (name) => resolve(name)));
    await observer.subscribeAsync([topic, `${TLS_MOUNT_POINT}${topic}`], { qos: 1 });
    await client.publishAsync(topic, Buffer.from("proof"), { qos: 1 });
    const seen = await arrived;
    const via = seen === `${TLS_MOUNT_POINT}${topic}` ? "tls_listener" : seen === topic ? "plain_listener" : null;
    return { via, seen_as: seen };
  } finally {
    await observer.endAsync();
  }
}

/** Publishes `payloads` (QoS 1) to a fresh topic it subscribed to; what came back, in order. */
async function roundTrip(client, options, payloads) {
  const topic = `conformance/${uniqueName(options, "cc")}`;
  const received = [];
  let done;
  const all = new Promise((resolve) => (done = resolve));
  client.on("message", (got, payload) => {
    // Mosquitto 2.0 hands a client of the TLS listener its topics with the mount point still on.
    if (got === topic || got === `${TLS_MOUNT_POINT}${topic}`) received.push(payload);
    if (received.length === payloads.length) done();
  });
  await client.subscribeAsync(topic, { qos: 1 });
  await Promise.all(payloads.map((payload) => client.publishAsync(topic, payload, { qos: 1 })));
  await all;
  return received;
}

/** CONNECT with user and password: the CONNACK. */
export async function connect({ server, options }) {
  return withClient(server, options, Boolean(options.tls), async (_, connack) => ({
    return_code: connack.returnCode ?? connack.reasonCode ?? 0,
    session_present: connack.sessionPresent,
  }));
}

/** TLS with the run's CA on the TLS port, a round trip, and the broker's proof. A bad certificate rejects. */
export async function tls({ server, options }) {
  return withClient(server, options, true, async (client) => {
    const [back] = await roundTrip(client, options, [Buffer.from("over tls")]);
    return { echoed: fromUtf8(back), listener: await listenerProof(server, options, client) };
  });
}

/** Exact payloads: UTF-8 text (non-BMP too) and every byte value, through the broker and back. */
export async function query({ server, options }) {
  const text = options.text ?? SAMPLE_TEXT;
  const bytes = options.bytes_hex !== undefined ? fromHex(options.bytes_hex) : SAMPLE_BYTES;
  return withClient(server, options, Boolean(options.tls), async (client) => {
    const [gotText, gotBytes] = await roundTrip(client, options, [Buffer.from(text), Buffer.from(bytes)]);
    return {
      text: fromUtf8(gotText),
      text_equal: fromUtf8(gotText) === text,
      bytes_hex: toHex(gotBytes),
      bytes_equal: toHex(gotBytes) === toHex(bytes),
    };
  });
}

/** A large message (default 1 MiB of PATTERN) through the broker and back: its size and digest. */
export async function large({ server, options }) {
  const size = options.bytes ?? MiB;
  return withClient(server, options, Boolean(options.tls), async (client) => {
    const value = patternBytes(size);
    const [got] = await roundTrip(client, options, [Buffer.from(value)]);
    return { ...(await digestOf(got)), expected: await digestOf(value) };
  });
}

/** Many QoS 1 messages in flight at once; what came back, in order. */
export async function pipeline({ server, options }) {
  const count = options.count ?? 50;
  return withClient(server, options, Boolean(options.tls), async (client) => {
    const got = await roundTrip(client, options, Array.from({ length: count }, (_, i) => Buffer.from(String(i))));
    return { count, received: got.map((payload) => Number(fromUtf8(payload))) };
  });
}

/** end(): does it resolve, and does the client's "close" event come? */
export async function shutdown({ server, options }) {
  const client = open(server, options, Boolean(options.tls));
  const closed = new Promise((resolve) => client.once("close", resolve));
  await connected(client);
  const proven = options.tls ? { listener: await listenerProof(server, options, client) } : {};
  const end = await attempt(() => client.endAsync());
  return {
    ...proven,
    ended: !end.error,
    error: end.error ?? null,
    close_event: await settlesWithin(closed, options.closed_wait_ms ?? 2000),
  };
}
