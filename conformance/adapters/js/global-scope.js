// The main module of the one-off runtime that answers a `connect` with `request: global`
// (conformance/adapters/workerd.py): connect() is called while this module is evaluated,
// when no request is being handled, and what happened is kept for the harness to collect
// at /global-outcome. Everything else (the hello that tells the harness the runtime is up)
// is the adapter Worker's.
import { connect } from "cloudflare:sockets";
import { createAdapter } from "./interpreter.js";
import adapterWorker from "./worker.js";
import request from "./global-request.js";

let called = false;
const adapter = createAdapter({
  name: "global-scope",
  version: "",
  runtime: "",
  capabilities: [],
  connect: (...args) => {
    called = true;
    return connect(...args);
  },
});
// handle() runs synchronously up to its first await, and the connect op awaits nothing
// before it calls connect(): the call happens now, during module evaluation. `called`
// checks that instead of trusting it.
const reply = adapter.handle(request);
const evaluated = called;

async function outcome() {
  if (!evaluated) {
    return { seq: request.seq, status: "protocol_error", reason: "connect() was not called while the module was evaluated" };
  }
  return reply;
}

export default {
  async fetch(incoming, env, ctx) {
    if (new URL(incoming.url).pathname !== "/global-outcome") return adapterWorker.fetch(incoming, env, ctx);
    const { 0: client, 1: server } = new WebSocketPair();
    server.accept();
    server.send(JSON.stringify(await outcome()));
    return new Response(null, { status: 101, webSocket: client });
  },
};
