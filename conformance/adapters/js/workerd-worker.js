// The workerd adapter: an ES module Worker that serves the adapter protocol
// (docs/adapter-protocol.md) over WebSocket, one WebSocket per case session.
//
// The harness (conformance/adapters/workerd.py) starts one workerd process per
// lane, so at most one case session is live in this isolate at a time; that is
// what lets the module-scope `unhandledrejection` listener credit a rejection
// to "the current session".
//
// `env.ADAPTER` (a json binding written by the harness) carries the version of
// the npm `workerd` package and the `workerd --version` output.

import { connect } from "cloudflare:sockets";
import { createAdapter } from "./interpreter.js";

const CAPABILITIES = ["ipv6", "tls", "starttls", "unhandled-rejections"];

/** The adapter of the case session that opened last and has not closed yet. */
let current = null;

addEventListener("unhandledrejection", (event) => {
  if (current !== null) {
    current.noteUnhandled(event.reason);
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
    console.error(`workerd adapter: cannot send a reply: ${describe(error)}`);
  }
}

export default {
  async fetch(request, env) {
    if ((request.headers.get("Upgrade") ?? "").toLowerCase() !== "websocket") {
      return new Response("connect-conformance workerd adapter: WebSocket only\n", { status: 400 });
    }
    const info = env.ADAPTER ?? {};
    const adapter = createAdapter({
      name: "workerd",
      version: String(info.version ?? "unknown"),
      runtime: String(info.runtime ?? "workerd"),
      capabilities: CAPABILITIES,
      connect,
    });
    const { 0: client, 1: server } = new WebSocketPair();
    server.accept();
    current = adapter;
    // Strictly in order: each message waits for the previous one's reply.
    let queue = Promise.resolve();
    server.addEventListener("message", (event) => {
      queue = queue.then(() => serve(server, adapter, event.data));
    });
    const finish = () => {
      if (current === adapter) {
        current = null;
      }
    };
    server.addEventListener("close", (event) => {
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
