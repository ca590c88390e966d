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
//     "capabilities": ["ipv6", "tls", ...] }  // hello.value.capabilities
//
// Several sessions may be live at once in one isolate (a `ws://` adapter run
// with -n N opens N WebSockets to it). An unhandled rejection is credited to
// the session that owns the rejected promise (a socket's opened/closed, or a
// promise an op returned: interpreter.js `owns`); one that no session owns is
// credited to every live session, since none of them can be ruled out.

import { connect } from "cloudflare:sockets";
import { createAdapter } from "./interpreter.js";

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

function describe(error) {
  return `${error?.name ?? "Error"}: ${error?.message ?? String(error)}`;
}

/** One message of the session: parse, handle, answer. Never throws. */
async function serve(server, adapter, data) {
  let message;
  try {
    message = JSON.parse(text(data));
  } catch (error) {
    trySend(server, { seq: 0, status: "protocol_error", reason: `not JSON: ${describe(error)}` });
    return;
  }
  let reply;
  try {
    reply = await adapter.handle(message);
  } catch (error) {
    reply = { seq: message?.seq ?? 0, status: "protocol_error", reason: `adapter crashed: ${describe(error)}` };
  }
  let encoded;
  try {
    encoded = JSON.stringify(reply);
  } catch (error) {
    encoded = JSON.stringify({ seq: message?.seq ?? 0, status: "protocol_error",
                               reason: `the reply cannot be encoded: ${describe(error)}` });
  }
  trySend(server, encoded);
  if (adapter.isShutDown === true) {
    try {
      server.close(1000, "shutdown");
    } catch {
      // already closing
    }
  }
}

function trySend(server, value) {
  try {
    server.send(typeof value === "string" ? value : JSON.stringify(value));
  } catch (error) {
    console.error(`adapter worker: cannot send a reply: ${describe(error)}`);
  }
}

function strings(value) {
  return Array.isArray(value) ? value.filter((item) => typeof item === "string") : [];
}

export default {
  async fetch(request, env) {
    if ((request.headers.get("Upgrade") ?? "").toLowerCase() !== "websocket") {
      return new Response("connect-conformance adapter Worker: WebSocket only\n", { status: 400 });
    }
    const info = env.ADAPTER ?? {};
    const adapter = createAdapter({
      name: String(info.name ?? "worker"),
      version: String(info.version ?? "unknown"),
      runtime: String(info.runtime ?? "unknown"),
      capabilities: strings(info.capabilities),
      connect,
    });
    const { 0: client, 1: server } = new WebSocketPair();
    server.accept();
    live.add(adapter);
    // Strictly in order: each message waits for the previous one's reply.
    let queue = Promise.resolve();
    server.addEventListener("message", (event) => {
      queue = queue.then(() => serve(server, adapter, event.data));
    });
    const finish = () => {
      live.delete(adapter);
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
