// The adapter protocol (docs/adapter-protocol.md, version 1) over any `connect()`.
//
// These ES modules are runtime-agnostic: they use only standard JavaScript and Web APIs
// present in both Node 20 and workerd (Promise, setTimeout/clearTimeout, atob/btoa,
// TextEncoder, crypto.subtle.digest, ReadableStream readers). No Buffer, process, require or
// imports beyond each other. Runtimes wrap them in a transport shell: node-socket.mjs (stdio,
// Node + @arrowood.dev/socket, through stdio.js) and the adapter Worker workerd-worker.js
// (WebSocket, cloudflare:sockets), which workerd runs directly and Miniflare behind the stdio
// relay miniflare.mjs. Any JavaScript runtime can reuse them the same way (docs/adapters.md,
// section 2).
//
// This module is the entry point: the dispatcher and the session ops (hello, begin, end,
// shutdown). It imports ops.js (the client ops), session.js (a session's handles and promises),
// values.js (value encoding), bytes.js, messages.js (a request's fields, messages as text) and
// errors.js; a runtime that lists its modules (workerd) lists all seven.
//
// API
//
//   import { createAdapter } from "./interpreter.js";
//   const adapter = createAdapter({
//     name: "node-socket",             // hello.value.name
//     version: "0.2.0",                // hello.value.version
//     runtime: "Node v20.20.2",        // hello.value.runtime
//     capabilities: ["ipv6", "tls"],   // hello.value.capabilities (spec/README.md, Capabilities)
//     connect,                         // the implementation's connect(address, options?)
//     drivers,                         // optional, with the `drivers` capability: {versions:
//                                      //   {pg: "pg@8.23.1 ..."}, load(driver) -> Promise<bundle module>}
//   });
//   const response = await adapter.handle(request);   // request: the decoded JSON object
//   adapter.noteUnhandled(reason);                     // from the runtime's unhandled-rejection hook
//   adapter.owns(promise);                             // is this rejected promise one of the session's?
//
// - `handle(message)` serves every op of the protocol (hello, begin, end,
//   shutdown and all client ops) and resolves with the response object
//   `{seq, status, ...}`, ready for JSON.stringify. It never rejects: a
//   malformed request is `protocol_error`, and so is an unexpected exception
//   inside the interpreter (with the reason). Requests are meant to come one at
//   a time, as the harness sends them.
// - After `shutdown` has been answered, `adapter.isShutDown` is true; the shell
//   then exits (stdio) or closes its connection (WebSocket). Later requests get
//   `protocol_error`.
// - `noteUnhandled(reason)` records a rejection the runtime reported as
//   unhandled (Node: process.on("unhandledRejection"), workerd: the
//   "unhandledrejection" event); `end` reports the ones of the session as
//   `{name, message}` (non-Error values: `{name: null, message: null, value}`).
//   Call it for every report; it never throws.
// - `owns(promise)` says whether a promise belongs to the current session (a
//   socket's `opened`/`closed`, or a promise an op returned). A shell that serves
//   several sessions at once in one runtime (a Worker reached by several
//   WebSockets) uses it to credit an unhandled rejection to the right session.
// - `OPS` names every op `handle` serves, for a shell or a test to compare with the protocol's.
//
// Behaviour notes (the same as the Python reference adapter):
// - No handler is ever attached to `opened`/`closed` unless an op awaits them
//   (B22); `end` looks at `closed` only when the session is over. Any promise
//   an op has awaited keeps a handler from then on, so a `pending` handle stays
//   awaitable and its later rejection is never reported as unhandled.
// - `end` attaches a handler to every socket's `closed` only then (to count
//   `open_sockets`), closes the ones still open and waits at most timeout_ms;
//   a rejection its own close() causes is therefore not reported. Rejections
//   noted between `end` and the next `begin` belong to no case and are dropped.
// - `ready` and `desired_size` use the current writer (acquired on first use, like
//   write); `same` evaluates its two expressions left to right (close() really
//   closes) and tracks any promise it got, so it never counts as unhandled.
// - A `connect` request without `address` calls connect() with no argument.
// - A request with `request` (another request's handler), or a `begin` with `environment`,
//   answers `unsupported`: routing them is the shell's job (workerd-worker.js does).
// - `get` reads secureTransport, upgraded, opened, closed (type only, unless
//   undefined), readable_identity and writable_identity; a property the socket
//   lacks reads as undefined (typeof "undefined"). Other names: `unsupported`.
// - Per socket the adapter holds one current reader and writer, acquired on
//   first use by read/read_bytes/cancel_reader and write/close_writer/
//   abort_writer; `get_reader`/`get_writer` make a fresh call whose result
//   becomes current when none is held; `release_lock` with nothing held is a
//   no-op.
// - A bytes value with view "Buffer" uses globalThis.Buffer where the runtime has
//   one (Node; workerd with nodejs_compat), else the op answers `unsupported`.
// - `read_bytes` never consumes past `n`: when a chunk carries more than is
//   still wanted, the rest is kept by the adapter and is what the next
//   `read`/`read_bytes` on that socket returns first (a default reader cannot
//   read less than a chunk; this gives the reference's BYOB-like semantics).

import { ProtocolError, Unsupported, describe } from "./errors.js";
import { seqOf, timeoutOf } from "./messages.js";
import { CLIENT_OPS } from "./ops.js";
import { Session, sleep } from "./session.js";
import { encodeError, isObjectLike } from "./values.js";

const PROTOCOL_VERSION = 1;
// Ended sessions whose promises `owns` still recognises.
const RETIRED_SESSIONS = 4;

/** What one adapter instance holds: who it is, the implementation, the current session. */
class AdapterState {
  constructor({ name, version, runtime, capabilities, connect, drivers }) {
    this.identity = { name, version, runtime, capabilities };
    this.connect = connect;
    // The drivers area's scenario modules: {versions: {driver: "pkg@1.2.3 ..."}, load(driver) -> module}.
    this.drivers = drivers ?? null;
    this.session = new Session();
    this.shutDown = false;
    // Ended sessions, newest last, kept only so `owns` still knows their sockets' promises.
    this.retired = [];
  }

  retire(ended) {
    this.retired.push(ended);
    if (this.retired.length > RETIRED_SESSIONS) this.retired.shift();
  }
}

const SESSION_OPS = {
  async hello(state, message) {
    if (message.protocol !== undefined && message.protocol !== PROTOCOL_VERSION) {
      throw new ProtocolError(`protocol ${JSON.stringify(message.protocol)} is not supported; this is 1`);
    }
    const { name, version, runtime, capabilities } = state.identity;
    const value = { name, version, runtime, protocol: PROTOCOL_VERSION, capabilities: [...capabilities] };
    const versions = state.drivers?.versions;
    if (isObjectLike(versions) && Object.keys(versions).length > 0) value.drivers = { ...versions };
    return { status: "returned", value };
  },

  async begin(state, message) {
    if (state.session.sockets.size > 0) state.retire(state.session.retired());
    state.session.discard(); // a session left open by a broken case ends here
    state.session = new Session(typeof message.case === "string" ? message.case : null);
    return { status: "returned" };
  },

  async end(state, message) {
    const ms = timeoutOf(message);
    const ending = state.session;
    const entries = [...ending.sockets.values()];
    const closedOf = entries.map((entry) => {
      try {
        return ending.track(entry.socket.closed);
      } catch (error) {
        return ending.track(Promise.reject(error));
      }
    });
    await sleep(0); // lets the handlers of promises that had already settled run
    const open = entries.filter((_, index) => !closedOf[index].settled);
    const closing = [];
    for (const entry of open) {
      try {
        closing.push(ending.track(entry.socket.close()));
      } catch {
        // close() threw: nothing to wait for
      }
    }
    const deadline = Date.now() + ms;
    for (const tracked of closing) await tracked.within(Math.max(0, deadline - Date.now()));
    await sleep(0); // unhandled rejections of this turn reach noteUnhandled first
    const report = { open_sockets: open.length, unhandled_rejections: ending.unhandled.slice() };
    state.retire(ending.retired());
    ending.clear();
    if (state.session === ending) state.session = new Session();
    return { status: "returned", value: report };
  },

  async shutdown(state) {
    state.shutDown = true;
    state.session.discard();
    state.session = new Session();
    return { status: "returned" };
  },
};

const HANDLERS = { ...SESSION_OPS, ...CLIENT_OPS };

/** Every op `handle` serves: the session ops, then the client ops. */
export const OPS = Object.freeze(Object.keys(HANDLERS));

export function createAdapter({ name, version, runtime, capabilities = [], connect, drivers }) {
  const state = new AdapterState({ name, version, runtime, capabilities, connect, drivers });

  // Runs the op synchronously up to its first await (global-scope.js relies on it for connect).
  async function handle(message) {
    const seq = seqOf(message);
    let body;
    try {
      if (!isObjectLike(message) || Array.isArray(message)) throw new ProtocolError("a request must be a JSON object");
      if (state.shutDown) throw new ProtocolError("the adapter has shut down");
      const op = message.op;
      const run = typeof op === "string" && Object.prototype.hasOwnProperty.call(HANDLERS, op) ? HANDLERS[op] : undefined;
      if (run === undefined) throw new ProtocolError(`unknown op ${JSON.stringify(op)}`);
      // Other requests and environments are the shell's to route (workerd-worker.js); one that
      // reaches the interpreter is one the shell cannot provide.
      if (message.request !== undefined) {
        throw new Unsupported(`this adapter runs ops only in the session's own request, not ${JSON.stringify(message.request)}`);
      }
      if (op === "begin" && message.environment !== undefined) {
        throw new Unsupported(`this adapter has no environment ${JSON.stringify(message.environment)}`);
      }
      body = await run(state, message);
    } catch (error) {
      if (error instanceof ProtocolError) body = { status: "protocol_error", reason: error.message };
      else if (error instanceof Unsupported) body = { status: "unsupported", reason: error.message };
      else body = { status: "protocol_error", reason: `the interpreter failed: ${describe(error)}` };
    }
    return { seq, ...body };
  }

  function noteUnhandled(reason) {
    try {
      state.session.unhandled.push(encodeError(reason));
    } catch {
      // never let the runtime's hook throw
    }
  }

  /**
   * Whether a promise the runtime reported as unhandled is this adapter's: of the current
   * session, or of one of the last sessions (a rejection can come just after `end`).
   */
  function owns(promise) {
    try {
      return state.session.owns(promise) || state.retired.some((old) => old.owns(promise));
    } catch {
      return false;
    }
  }

  return {
    handle,
    noteUnhandled,
    owns,
    get isShutDown() {
      return state.shutDown;
    },
  };
}
