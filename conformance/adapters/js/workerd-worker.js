// The adapter Worker: an ES module Worker that serves the adapter protocol
// (docs/adapter-protocol.md) over WebSocket, one WebSocket per case session.
// Any runtime that runs Workers with `cloudflare:sockets` can serve it: the
// workerd adapter (conformance/adapters/workerd.py) and the miniflare adapter
// (js/miniflare.mjs) both do, and so can yours (docs/adapters.md, section 2).
//
// Everything runtime-specific comes from the `ADAPTER` json binding, written by
// whoever starts the runtime:
//   { "name": "workerd",                      // hello.value.name
//     "version": "1.20261117.1",              // hello.value.version
//     "runtime": "workerd 2026-11-17",        // hello.value.runtime
//     "capabilities": ["ipv6", "tls", ...],   // hello.value.capabilities
//     "drivers": {"pg": {"version": "pg@8.23.1 pg-cloudflare@1.4.1",   // optional: hello.value.drivers,
//                        "module": "driver-pg.js"}, ...} }            // and where each bundle is
//
// Several sessions may be live at once in one isolate (a `ws://` adapter run
// with -n N opens N WebSockets to it). An unhandled rejection is credited to
// the session that owns the rejected promise (a socket's opened/closed, or a
// promise an op returned: interpreter.js `owns`); one that no session owns is
// credited to every live session, since none of them can be ruled out.
//
// Requests and environments (docs/adapter-protocol.md, section 4):
// - An op with `request: NAME` runs in the handler of another request to this Worker.
//   The session opens that request on first use, a WebSocket to itself through the
//   `SELF` service binding, and keeps it for the rest of the session. Both requests
//   use the session's one adapter (the same isolate), so a socket made in one can be
//   used from the other, and the runtime's own rule decides what that does (B2).
// - `begin` with `environment: outbound-worker` relays the whole session to this same
//   Worker run as the service behind the `OUTBOUND_WORKER` binding, whose global
//   outbound is a Worker with only a fetch handler (B53).
// - `request: global` (connect at module evaluation) cannot be reached from a running
//   Worker; the workerd adapter's transport answers it with a runtime of its own
//   (conformance/adapters/workerd.py), so here it is `unsupported`.
//
// Drivers (the `driver` op, js/drivers/README.md): a Worker whose ADAPTER binding names each
// driver's bundle ("module") loads it with a dynamic import when a scenario first needs it, so a
// bundle the runtime cannot load fails that case alone. The workerd and Miniflare adapters put the
// bundles in a Worker of their own, the drivers profile: this Worker again, with the compatibility
// flags a driver needs (`nodejs_compat` before it became the default), reached through the `DRIVERS`
// binding. A session's driver ops, and awaits of the promises they left pending, are relayed there
// (a WebSocket of the session, begun with its case id), and the session's `end` ends it too: its
// unhandled rejections and open sockets are the session's.

import { connect } from "cloudflare:sockets";
import { describe } from "./errors.js";
import { createAdapter } from "./interpreter.js";
import { parseRequest, responseText, seqOf } from "./messages.js";

/** The adapters of the sessions whose WebSocket is open. */
const live = new Set();

addEventListener("unhandledrejection", (event) => {
  const sessions = [...live];
  const owners = sessions.filter((adapter) => typeof adapter.owns === "function" && adapter.owns(event.promise));
  for (const adapter of owners.length > 0 ? owners : sessions) {
    adapter.noteUnhandled(event.reason);
  }
});

function text(data) {
  return typeof data === "string" ? data : new TextDecoder().decode(data);
}

/** The environments a session can ask for in `begin`, and the binding of the service that has each. */
const ENVIRONMENTS = { "outbound-worker": "OUTBOUND_WORKER" };
/** The `request` that means module evaluation (handled by the runtime's starter, not here). */
const GLOBAL_SCOPE = "global";

/** The sessions whose first request is open, by id: a session's other requests find their adapter here. */
const sessions = new Map();

/**
 * A WebSocket this Worker opened to a service (itself or a profile), carrying requests
 * one at a time; `call` resolves with the reply's text.
 */
class Relay {
  static async open(binding, path) {
    if (binding === undefined) throw new Error(`this Worker has no binding to open ${path} with`);
    const response = await binding.fetch(`http://adapter${path}`, { headers: { Upgrade: "websocket" } });
    const socket = response.webSocket;
    if (socket === null || socket === undefined) {
      throw new Error(`${path} answered HTTP ${response.status} instead of a WebSocket`);
    }
    socket.accept();
    return new Relay(socket);
  }

  constructor(socket) {
    this.socket = socket;
    this.waiting = [];
    this.ended = false;
    socket.addEventListener("message", (event) => this.waiting.shift()?.resolve(text(event.data)));
    const end = () => {
      this.ended = true;
      for (const waiter of this.waiting.splice(0)) waiter.reject(new Error("the relayed request ended"));
    };
    socket.addEventListener("close", end);
    socket.addEventListener("error", end);
  }

  call(message) {
    if (this.ended) return Promise.reject(new Error("the relayed request has ended"));
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.socket.send(JSON.stringify(message));
    });
  }

  close() {
    this.ended = true;
    try {
      this.socket.close(1000, "session over");
    } catch {
      // already closed
    }
  }
}

/** The drivers the ADAPTER binding lists: their versions (hello), and a loader where their bundles are. */
function driversOf(info) {
  const table = info.drivers;
  if (table === null || typeof table !== "object" || Array.isArray(table)) return undefined;
  const versions = {};
  const modules = {};
  for (const [name, entry] of Object.entries(table)) {
    versions[name] = String(entry?.version ?? "unknown");
    if (typeof entry?.module === "string") modules[name] = entry.module;
  }
  const load = (name) => {
    const module = modules[name];
    if (module === undefined) return Promise.reject(new Error(`no bundle of the driver ${JSON.stringify(name)} here`));
    return import(`./${module}`);
  };
  return { versions, load };
}

/** What the drivers profile's handles are called here (the session's own are `p1`, `p2`, ...). */
const DRIVER_HANDLE = "d-";

/** A driver op of the session, or an await of a promise one left pending, relayed to the drivers profile. */
async function relayToDrivers(session, message) {
  if (session.drivers === null || session.drivers.ended) {
    session.drivers = await Relay.open(session.env.DRIVERS, "/");
    await session.drivers.call({ seq: message.seq, op: "begin", case: session.caseId });
  }
  const relayed =
    message.op === "await" ? { ...message, promise: message.promise.slice(DRIVER_HANDLE.length) } : message;
  const reply = JSON.parse(await session.drivers.call(relayed));
  if (reply?.status === "pending" && typeof reply.promise === "string") reply.promise = DRIVER_HANDLE + reply.promise;
  return reply;
}

/** The session's `end`, with what its drivers profile saw merged in (unhandled rejections, open sockets). */
async function endWithDrivers(session, message) {
  const own = await session.adapter.handle(message);
  const relay = session.drivers;
  session.drivers = null;
  let theirs = null;
  try {
    theirs = JSON.parse(await relay.call(message));
  } catch (error) {
    console.error(`adapter worker: the drivers profile did not end its session: ${describe(error)}`);
  } finally {
    relay.close();
  }
  if (own?.status === "returned" && theirs?.status === "returned" && theirs.value) {
    own.value.open_sockets += Number(theirs.value.open_sockets) || 0;
    own.value.unhandled_rejections.push(...(theirs.value.unhandled_rejections ?? []));
  }
  return own;
}

function without(message, key) {
  const copy = { ...message };
  delete copy[key];
  return copy;
}

/**
 * The reply (an object, or the text a relay answered) to one message of a session's
 * first request: handled here, or relayed to the request or environment it names.
 */
async function route(session, message) {
  if (session.environment !== null) return session.environment.call(message);
  if (message?.op === "begin" && message.environment !== undefined) {
    const binding = ENVIRONMENTS[message.environment];
    if (binding === undefined || session.env[binding] === undefined) {
      return { seq: message.seq, status: "unsupported", reason: `no environment ${JSON.stringify(message.environment)} here` };
    }
    session.environment = await Relay.open(session.env[binding], "/");
    return session.environment.call(without(message, "environment"));
  }
  if (message?.op === "begin") {
    session.caseId = typeof message.case === "string" ? message.case : null;
    session.drivers?.close(); // a session left open by a broken case ends here, with its drivers
    session.drivers = null;
  }
  if (session.env.DRIVERS !== undefined && message?.request === undefined) {
    const pendingThere = message?.op === "await" && String(message.promise ?? "").startsWith(DRIVER_HANDLE);
    if (message?.op === "driver" || pendingThere) return relayToDrivers(session, message);
    if (message?.op === "end" && session.drivers !== null) return endWithDrivers(session, message);
  }
  const name = message?.request;
  if (name === undefined) return session.adapter.handle(message);
  if (name === GLOBAL_SCOPE) {
    return { seq: message.seq, status: "unsupported", reason: "module evaluation cannot be reached from a running Worker" };
  }
  if (typeof name !== "string") return session.adapter.handle(message); // the interpreter names the problem
  let relay = session.requests.get(name);
  if (relay === undefined || relay.ended) {
    relay = await Relay.open(session.env.SELF, `/request?session=${encodeURIComponent(session.id)}`);
    session.requests.set(name, relay);
  }
  return relay.call(without(message, "request"));
}

/** One message of a session: parse, handle (`answer`), reply. Never throws. */
async function serve(server, adapter, data, answer) {
  const parsed = parseRequest(text(data));
  let reply = parsed.response;
  if (parsed.ok) {
    try {
      reply = await answer(parsed.request);
    } catch (error) {
      reply = { seq: seqOf(parsed.request), status: "protocol_error", reason: `adapter crashed: ${describe(error)}` };
    }
  }
  try {
    server.send(responseText(reply));
  } catch (error) {
    console.error(`adapter worker: cannot send a reply: ${describe(error)}`);
  }
  if (adapter.isShutDown === true) {
    try {
      server.close(1000, "shutdown");
    } catch {
      // already closing
    }
  }
}

function strings(value) {
  return Array.isArray(value) ? value.filter((item) => typeof item === "string") : [];
}

/** The server end of a new WebSocket whose messages go, strictly in order, to `answer`. */
function accept(adapter, answer) {
  const { 0: client, 1: server } = new WebSocketPair();
  server.accept();
  // Strictly in order: each message waits for the previous one's reply.
  let queue = Promise.resolve();
  server.addEventListener("message", (event) => {
    queue = queue.then(() => serve(server, adapter, event.data, answer));
  });
  return { client, server };
}

/** Another request of an open session: it runs the ops relayed to it, with the session's adapter. */
function otherRequest(url) {
  const session = sessions.get(url.searchParams.get("session") ?? "");
  if (session === undefined) return new Response("no such session\n", { status: 404 });
  const { client, server } = accept(session.adapter, (message) => session.adapter.handle(message));
  session.others.add(server);
  return new Response(null, { status: 101, webSocket: client });
}

export default {
  async fetch(request, env) {
    if ((request.headers.get("Upgrade") ?? "").toLowerCase() !== "websocket") {
      return new Response("connect-conformance adapter Worker: WebSocket only\n", { status: 400 });
    }
    const url = new URL(request.url);
    if (url.pathname === "/request") return otherRequest(url);
    const info = env.ADAPTER ?? {};
    const adapter = createAdapter({
      name: String(info.name ?? "worker"),
      version: String(info.version ?? "unknown"),
      runtime: String(info.runtime ?? "unknown"),
      capabilities: strings(info.capabilities),
      connect,
      drivers: driversOf(info),
    });
    const session = {
      id: crypto.randomUUID(),
      adapter,
      env,
      requests: new Map(),
      others: new Set(),
      environment: null,
      caseId: null,
      drivers: null,
    };
    sessions.set(session.id, session);
    const { client, server } = accept(adapter, (message) => route(session, message));
    live.add(adapter);
    const finish = () => {
      live.delete(adapter);
      sessions.delete(session.id);
      for (const relay of session.requests.values()) relay.close();
      session.environment?.close();
      session.drivers?.close();
      for (const other of session.others) {
        try {
          other.close(1000, "session over");
        } catch {
          // already closed
        }
      }
    };
    server.addEventListener("close", () => {
      finish();
      try {
        server.close(1000, "bye");
      } catch {
        // the close handshake is already done
      }
    });
    server.addEventListener("error", finish);
    return new Response(null, { status: 101, webSocket: client });
  },
};
