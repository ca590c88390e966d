// The adapter protocol (docs/adapter-protocol.md, version 1) over any `connect()`.
//
// This ES module is runtime-agnostic: it uses only standard JavaScript and Web
// APIs present in both Node 20 and workerd (Promise, setTimeout/clearTimeout,
// atob/btoa, TextEncoder, crypto.subtle.digest, ReadableStream readers). No
// Buffer, process, require or imports. Runtimes wrap it in a transport shell:
// node-socket.mjs (stdio, Node + @arrowood.dev/socket) and the adapter Worker
// workerd-worker.js (WebSocket, cloudflare:sockets), which workerd runs directly
// and Miniflare behind the stdio relay miniflare.mjs. Any JavaScript runtime can
// reuse it the same way (docs/adapters.md, section 2).
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
// - Also exported, for shells and tests: encodeValue/decodeValue (section 3
//   values), encodeError, bytesToBase64/base64ToBytes (chunked, fine for 64 MiB)
//   and expandPattern.
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

const PROTOCOL_VERSION = 1;
const DEFAULT_TIMEOUT_MS = 2000;
// Ended sessions whose promises `owns` still recognises.
const RETIRED_SESSIONS = 4;
// Bytes per btoa() call: a multiple of 3, so the pieces' base64 concatenates cleanly.
const ENCODE_CHUNK = 0x8000 - (0x8000 % 3);
// Base64 characters per atob() call: a multiple of 4.
const DECODE_CHUNK = 0x10000;

const TYPED_ARRAYS = {
  Int8Array: globalThis.Int8Array,
  Uint8Array: globalThis.Uint8Array,
  Uint8ClampedArray: globalThis.Uint8ClampedArray,
  Int16Array: globalThis.Int16Array,
  Uint16Array: globalThis.Uint16Array,
  Int32Array: globalThis.Int32Array,
  Uint32Array: globalThis.Uint32Array,
  Float32Array: globalThis.Float32Array,
  Float64Array: globalThis.Float64Array,
  BigInt64Array: globalThis.BigInt64Array,
  BigUint64Array: globalThis.BigUint64Array,
};

class ProtocolError extends Error {}
class Unsupported extends Error {}

// -- bytes and base64 ---------------------------------------------------------------------

export function bytesToBase64(bytes) {
  const parts = [];
  for (let start = 0; start < bytes.length; start += ENCODE_CHUNK) {
    const piece = bytes.subarray(start, Math.min(bytes.length, start + ENCODE_CHUNK));
    parts.push(btoa(String.fromCharCode.apply(null, piece)));
  }
  return parts.join("");
}

export function base64ToBytes(text) {
  if (typeof text !== "string") throw new ProtocolError("base64 data must be a string");
  const clean = text.replace(/[\s]/g, "");
  if (clean.length % 4 !== 0) throw new ProtocolError("base64 data has a length that is not a multiple of 4");
  let padding = 0;
  if (clean.endsWith("==")) padding = 2;
  else if (clean.endsWith("=")) padding = 1;
  const out = new Uint8Array((clean.length / 4) * 3 - padding);
  let position = 0;
  for (let start = 0; start < clean.length; start += DECODE_CHUNK) {
    let binary;
    try {
      binary = atob(clean.slice(start, start + DECODE_CHUNK));
    } catch (error) {
      throw new ProtocolError(`invalid base64 data: ${describe(error)}`);
    }
    for (let i = 0; i < binary.length; i++) out[position++] = binary.charCodeAt(i);
  }
  return out;
}

/** `seed` repeated and cut to `size` bytes, built by doubling (no quadratic copying). */
export function expandPattern(seed, size) {
  const out = new Uint8Array(size);
  if (size === 0) return out;
  if (seed.length === 0) throw new ProtocolError("a pattern needs a non-empty seed");
  let filled = Math.min(seed.length, size);
  out.set(seed.subarray(0, filled));
  while (filled < size) {
    const count = Math.min(filled, size - filled);
    out.copyWithin(filled, 0, count);
    filled += count;
  }
  return out;
}

/** A fresh view `view` over `bytes` (a Uint8Array owning its whole buffer). */
function asView(bytes, view) {
  if (view === undefined || view === "Uint8Array") return bytes;
  if (typeof view !== "string") throw new ProtocolError("a bytes view must be a constructor name");
  if (view === "ArrayBuffer") return bytes.buffer;
  if (view === "DataView") return new DataView(bytes.buffer);
  if (view === "Buffer") {
    const NodeBuffer = globalThis.Buffer;
    if (typeof NodeBuffer !== "function") throw new Unsupported("this runtime has no Buffer");
    return NodeBuffer.from(bytes.buffer, 0, bytes.length);
  }
  const Constructor = Object.prototype.hasOwnProperty.call(TYPED_ARRAYS, view) ? TYPED_ARRAYS[view] : undefined;
  if (typeof Constructor !== "function") throw new ProtocolError(`unknown bytes view ${JSON.stringify(view)}`);
  if (bytes.length % Constructor.BYTES_PER_ELEMENT !== 0) {
    throw new ProtocolError(`${bytes.length} bytes do not fit a ${view} (element size ${Constructor.BYTES_PER_ELEMENT})`);
  }
  return new Constructor(bytes.buffer);
}

/** The bytes of a chunk (a view of the same memory where possible). */
function chunkBytes(chunk) {
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  if (typeof chunk === "string") return new TextEncoder().encode(chunk);
  throw new TypeError(`the stream produced a chunk that is not bytes (${typeName(chunk)})`);
}

function concatBytes(parts, length) {
  if (parts.length === 1 && parts[0].length === length) return parts[0];
  const out = new Uint8Array(length);
  let position = 0;
  for (const part of parts) {
    out.set(part, position);
    position += part.length;
  }
  return out;
}

async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  let hex = "";
  for (const byte of digest) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

// -- values ---------------------------------------------------------------------------------

function typeName(value) {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  const constructor = value.constructor;
  return constructor && typeof constructor.name === "string" ? constructor.name : "Object";
}

function describe(error) {
  try {
    if (error && typeof error === "object" && "message" in error) {
      return `${error.name || "Error"}: ${error.message}`;
    }
    return String(error);
  } catch {
    return "(an indescribable value)";
  }
}

function isObjectLike(value) {
  return (typeof value === "object" && value !== null) || typeof value === "function";
}

function isThenable(value) {
  return isObjectLike(value) && typeof value.then === "function";
}

function isErrorLike(value) {
  if (!isObjectLike(value)) return false;
  if (value instanceof Error) return true;
  return typeof value.name === "string" && typeof value.message === "string";
}

/** A protocol value (docs/adapter-protocol.md, section 3) as the JS value it stands for. */
export function decodeValue(value) {
  if (Array.isArray(value)) return value.map(decodeValue);
  if (value === null || typeof value !== "object") return value;
  if (!Object.prototype.hasOwnProperty.call(value, "$type")) {
    const out = {};
    for (const [key, item] of Object.entries(value)) out[key] = decodeValue(item);
    return out;
  }
  const kind = value.$type;
  switch (kind) {
    case "undefined":
      return undefined;
    case "bytes":
      return asView(base64ToBytes(value.b64), value.view);
    case "pattern": {
      const size = value.size;
      if (!Number.isInteger(size) || size < 0) throw new ProtocolError("a pattern needs size: a non-negative integer");
      return asView(expandPattern(base64ToBytes(value.seed), size), value.view);
    }
    case "number": {
      const special = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity, "-0": -0 };
      if (!Object.prototype.hasOwnProperty.call(special, value.value)) {
        throw new ProtocolError(`unknown special number ${JSON.stringify(value.value)}`);
      }
      return special[value.value];
    }
    case "bigint":
      try {
        return BigInt(value.value);
      } catch (error) {
        throw new ProtocolError(`bad bigint ${JSON.stringify(value.value)}: ${describe(error)}`);
      }
    case "url":
      if (typeof URL !== "function") throw new Unsupported("this runtime has no URL");
      try {
        return new URL(value.href);
      } catch (error) {
        throw new ProtocolError(`bad url ${JSON.stringify(value.href)}: ${describe(error)}`);
      }
    default:
      throw new ProtocolError(`unknown $type ${JSON.stringify(kind)}`);
  }
}

/** A JS value in its protocol form. */
export function encodeValue(value, seen = new Set()) {
  switch (typeof value) {
    case "undefined":
      return { $type: "undefined" };
    case "boolean":
    case "string":
      return value;
    case "number":
      if (Number.isNaN(value)) return { $type: "number", value: "NaN" };
      if (value === Infinity) return { $type: "number", value: "Infinity" };
      if (value === -Infinity) return { $type: "number", value: "-Infinity" };
      if (Object.is(value, -0)) return { $type: "number", value: "-0" };
      return value;
    case "bigint":
      return { $type: "bigint", value: value.toString() };
    case "symbol":
      return value.toString();
    case "function":
      return `[function ${value.name || "anonymous"}]`;
    default:
      break;
  }
  if (value === null) return null;
  if (typeof URL === "function" && value instanceof URL) return { $type: "url", href: value.href };
  if (value instanceof ArrayBuffer) {
    return { $type: "bytes", b64: bytesToBase64(new Uint8Array(value)), view: "ArrayBuffer" };
  }
  if (ArrayBuffer.isView(value)) {
    const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    return { $type: "bytes", b64: bytesToBase64(bytes), view: typeName(value) };
  }
  if (seen.has(value)) return "[circular]";
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => encodeValue(item, seen));
    if (isErrorLike(value)) return { name: String(value.name), message: String(value.message) };
    const out = {};
    for (const key of Object.keys(value)) {
      if (key === "$type") continue;
      out[key] = encodeValue(value[key], seen);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

/** The protocol's `error` for a thrown or rejection value. */
export function encodeError(reason) {
  try {
    if (isErrorLike(reason)) return { name: String(reason.name), message: String(reason.message) };
    return { name: null, message: null, value: encodeValue(reason) };
  } catch (error) {
    return { name: null, message: null, value: `(cannot encode the error: ${describe(error)})` };
  }
}

function encodeReadResult(result) {
  if (!isObjectLike(result)) return encodeValue(result);
  if (result.done) {
    return result.value === undefined ? { done: true } : { done: true, value: encodeValue(result.value) };
  }
  return { done: false, value: encodeValue(result.value) };
}

// -- promises -------------------------------------------------------------------------------

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One awaited promise, with a handler attached for good. */
class Tracked {
  constructor(promise) {
    this.settled = false;
    this.fulfilled = false;
    this.value = undefined;
    this.reason = undefined;
    this.waiters = new Set();
    Promise.resolve(promise).then(
      (value) => this.settle(true, value),
      (reason) => this.settle(false, reason),
    );
  }

  settle(fulfilled, result) {
    this.settled = true;
    this.fulfilled = fulfilled;
    if (fulfilled) this.value = result;
    else this.reason = result;
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }

  /** Waits at most `ms` (0: one timer turn, so an already-settled promise counts). */
  within(ms) {
    if (this.settled) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.waiters.add(wake);
    });
  }
}

// -- the session ----------------------------------------------------------------------------

class SocketEntry {
  constructor(socket) {
    this.socket = socket;
    this.reader = null;
    this.writer = null;
    // Bytes a read_bytes took from the stream beyond its n; served first by the next read.
    this.leftover = null;
  }
}

class Session {
  constructor(caseId = null) {
    this.caseId = caseId;
    this.sockets = new Map();
    this.tracked = new Map(); // promise -> Tracked
    this.parked = new Map(); // handle -> {tracked, encode}
    this.handleOf = new Map(); // Tracked -> handle
    this.unhandled = [];
  }

  addSocket(socket) {
    const handle = `s${this.sockets.size + 1}`;
    this.sockets.set(handle, new SocketEntry(socket));
    return handle;
  }

  track(promise) {
    if (!isObjectLike(promise)) return new Tracked(promise);
    let tracked = this.tracked.get(promise);
    if (tracked === undefined) {
      tracked = new Tracked(promise);
      this.tracked.set(promise, tracked);
    }
    return tracked;
  }

  park(tracked, encode) {
    let handle = this.handleOf.get(tracked);
    if (handle === undefined) {
      handle = `p${this.parked.size + 1}`;
      this.parked.set(handle, { tracked, encode });
      this.handleOf.set(tracked, handle);
    }
    return handle;
  }

  /**
   * Whether `promise` belongs to this session: a socket's opened or closed, or a promise an op
   * returned. Never throws (a getter of the implementation that throws counts as "no").
   */
  owns(promise) {
    if (!isObjectLike(promise)) return false;
    if (this.tracked.has(promise)) return true;
    for (const entry of this.sockets.values()) {
      try {
        if (entry.socket.opened === promise || entry.socket.closed === promise) return true;
      } catch {
        // an implementation whose getter throws: not this one
      }
    }
    return false;
  }

  /** What `owns` still needs once the session has ended: its sockets and tracked promises. */
  retired() {
    const copy = new Session(this.caseId);
    for (const [handle, entry] of this.sockets) copy.sockets.set(handle, new SocketEntry(entry.socket));
    for (const [promise, tracked] of this.tracked) copy.tracked.set(promise, tracked);
    return copy;
  }

  /** Closes what is still open without waiting; for a session left behind. Never throws. */
  discard() {
    for (const entry of this.sockets.values()) {
      try {
        const closing = entry.socket.close();
        if (isThenable(closing)) Promise.resolve(closing).catch(() => {});
      } catch {
        // a socket that cannot close is dropped anyway
      }
    }
    this.sockets.clear();
    this.parked.clear();
    this.handleOf.clear();
    this.tracked.clear();
  }
}

// -- the adapter ----------------------------------------------------------------------------

function timeoutOf(message) {
  const value = message.timeout_ms === undefined ? DEFAULT_TIMEOUT_MS : message.timeout_ms;
  if (!Number.isInteger(value) || value < 0) throw new ProtocolError("timeout_ms must be a non-negative integer");
  return value;
}

function required(message, key, kind) {
  const value = message[key];
  if (typeof value !== kind) throw new ProtocolError(`${message.op} needs ${key} (${kind})`);
  return value;
}

function threw(error) {
  return { status: "threw", error: encodeError(error) };
}

/** Runs `call`; a synchronous throw becomes a `threw` response (returned, not thrown). */
function attempt(call) {
  try {
    return { ok: true, value: call() };
  } catch (error) {
    return { ok: false, response: threw(error) };
  }
}

export function createAdapter({ name, version, runtime, capabilities = [], connect }) {
  let session = new Session();
  let shutDown = false;
  // Ended sessions, newest last, kept only so `owns` still knows their sockets' promises.
  const retired = [];

  function entryOf(message) {
    const handle = required(message, "socket", "string");
    const entry = session.sockets.get(handle);
    if (entry === undefined) throw new ProtocolError(`unknown socket handle ${JSON.stringify(handle)}`);
    return entry;
  }

  function readerOf(entry) {
    if (entry.reader === null) entry.reader = entry.socket.readable.getReader();
    return entry.reader;
  }

  function writerOf(entry) {
    if (entry.writer === null) entry.writer = entry.socket.writable.getWriter();
    return entry.writer;
  }

  /** Awaits `promise` for at most `ms`: resolved, rejected, or pending with a handle. */
  function outcome(promise, encode, ms) {
    return outcomeOf(session.track(promise), encode, ms);
  }

  async function outcomeOf(tracked, encode, ms) {
    const current = session;
    await tracked.within(ms);
    if (tracked.settled) {
      return tracked.fulfilled
        ? { status: "resolved", value: encode(tracked.value) }
        : { status: "rejected", error: encodeError(tracked.reason) };
    }
    return { status: "pending", promise: current.park(tracked, encode) };
  }

  async function readBytes(entry, reader, n, digest) {
    const parts = [];
    let length = 0;
    let chunks = 0;
    let done = false;
    while (n === null || length < n) {
      let chunk;
      if (entry.leftover !== null) {
        chunk = entry.leftover;
        entry.leftover = null;
      } else {
        const result = await reader.read();
        if (result.done) {
          done = true;
          break;
        }
        chunk = result.value;
      }
      let bytes = chunkBytes(chunk);
      if (n !== null && bytes.length > n - length) {
        const wanted = n - length;
        entry.leftover = chunk instanceof Uint8Array ? chunk.subarray(wanted) : bytes.slice(wanted);
        bytes = bytes.subarray(0, wanted);
      }
      chunks += 1;
      length += bytes.length;
      parts.push(bytes);
    }
    const value = { length, done, chunks };
    const data = concatBytes(parts, length);
    if (digest) value.sha256 = await sha256Hex(data);
    else value.data = { $type: "bytes", b64: bytesToBase64(data), view: "Uint8Array" };
    return value;
  }

  const ops = {
    async hello(message) {
      if (message.protocol !== undefined && message.protocol !== PROTOCOL_VERSION) {
        throw new ProtocolError(`protocol ${JSON.stringify(message.protocol)} is not supported; this is 1`);
      }
      return {
        status: "returned",
        value: { name, version, runtime, protocol: PROTOCOL_VERSION, capabilities: [...capabilities] },
      };
    },

    async begin(message) {
      if (session.sockets.size > 0) retire(session.retired());
      session.discard(); // a session left open by a broken case ends here
      session = new Session(typeof message.case === "string" ? message.case : null);
      return { status: "returned" };
    },

    async end(message) {
      const ms = timeoutOf(message);
      const ending = session;
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
      retire(ending.retired());
      ending.sockets.clear();
      ending.parked.clear();
      ending.handleOf.clear();
      ending.tracked.clear();
      if (session === ending) session = new Session();
      return { status: "returned", value: report };
    },

    async shutdown() {
      shutDown = true;
      session.discard();
      session = new Session();
      return { status: "returned" };
    },

    async connect(message) {
      // No address: connect() with no argument at all; no options: connect(address).
      const hasAddress = Object.prototype.hasOwnProperty.call(message, "address");
      const hasOptions = Object.prototype.hasOwnProperty.call(message, "options");
      if (hasOptions && !hasAddress) throw new ProtocolError("connect with options needs an address");
      const address = hasAddress ? decodeValue(message.address) : undefined;
      const options = hasOptions ? decodeValue(message.options) : undefined;
      const made = attempt(() => {
        if (!hasAddress) return connect();
        return hasOptions ? connect(address, options) : connect(address);
      });
      if (!made.ok) return made.response;
      return { status: "returned", value: { socket: session.addSocket(made.value) } };
    },

    async await(message) {
      const promiseName = required(message, "promise", "string");
      const ms = timeoutOf(message);
      if (Object.prototype.hasOwnProperty.call(message, "socket") || promiseName === "opened" || promiseName === "closed") {
        const entry = entryOf(message);
        if (promiseName !== "opened" && promiseName !== "closed") {
          throw new ProtocolError(`a socket has no promise ${JSON.stringify(promiseName)} (opened or closed)`);
        }
        const got = attempt(() => entry.socket[promiseName]);
        if (!got.ok) return got.response;
        return outcome(got.value, encodeValue, ms);
      }
      const parked = session.parked.get(promiseName);
      if (parked === undefined) throw new ProtocolError(`unknown promise handle ${JSON.stringify(promiseName)}`);
      return outcomeOf(parked.tracked, parked.encode, ms);
    },

    async get(message) {
      const entry = entryOf(message);
      const property = required(message, "property", "string");
      const socket = entry.socket;
      let read;
      switch (property) {
        case "readable_identity":
          read = attempt(() => socket.readable === socket.readable);
          break;
        case "writable_identity":
          read = attempt(() => socket.writable === socket.writable);
          break;
        case "secureTransport":
        case "upgraded":
        case "opened":
        case "closed":
          read = attempt(() => socket[property]);
          break;
        default:
          return { status: "unsupported", reason: `the adapter does not read the property ${JSON.stringify(property)}` };
      }
      if (!read.ok) return read.response;
      const value = read.value;
      const response = { status: "returned", typeof: typeof value };
      // For opened/closed only the type is reported: the promise itself is not a value.
      if (!((property === "opened" || property === "closed") && value !== undefined)) {
        response.value = encodeValue(value);
      }
      return response;
    },

    async read(message) {
      const entry = entryOf(message);
      const ms = timeoutOf(message);
      const got = attempt(() => readerOf(entry));
      if (!got.ok) return got.response;
      if (entry.leftover !== null) {
        const chunk = entry.leftover;
        entry.leftover = null;
        return { status: "resolved", value: encodeReadResult({ done: false, value: chunk }) };
      }
      const started = attempt(() => got.value.read());
      if (!started.ok) return started.response;
      return outcome(started.value, encodeReadResult, ms);
    },

    async read_bytes(message) {
      const entry = entryOf(message);
      const ms = timeoutOf(message);
      const n = message.n === undefined ? null : message.n;
      if (n !== null && (!Number.isInteger(n) || n < 0)) {
        throw new ProtocolError("read_bytes needs n: a non-negative integer or null");
      }
      if (message.digest !== undefined && typeof message.digest !== "boolean") {
        throw new ProtocolError("read_bytes digest must be a boolean");
      }
      const got = attempt(() => readerOf(entry));
      if (!got.ok) return got.response;
      return outcome(readBytes(entry, got.value, n, message.digest === true), (value) => value, ms);
    },

    async write(message) {
      const entry = entryOf(message);
      const ms = timeoutOf(message);
      if (!Object.prototype.hasOwnProperty.call(message, "data")) throw new ProtocolError("write needs data");
      const data = decodeValue(message.data);
      const got = attempt(() => writerOf(entry));
      if (!got.ok) return got.response;
      const started = attempt(() => got.value.write(data));
      if (!started.ok) return started.response;
      return outcome(started.value, encodeValue, ms);
    },

    async close_writer(message) {
      const entry = entryOf(message);
      const ms = timeoutOf(message);
      const got = attempt(() => writerOf(entry));
      if (!got.ok) return got.response;
      const started = attempt(() => got.value.close());
      if (!started.ok) return started.response;
      return outcome(started.value, encodeValue, ms);
    },

    async abort_writer(message) {
      const entry = entryOf(message);
      const ms = timeoutOf(message);
      const reason = decodeValue(message.reason === undefined ? { $type: "undefined" } : message.reason);
      const got = attempt(() => writerOf(entry));
      if (!got.ok) return got.response;
      const started = attempt(() => got.value.abort(reason));
      if (!started.ok) return started.response;
      return outcome(started.value, encodeValue, ms);
    },

    async cancel_reader(message) {
      const entry = entryOf(message);
      const ms = timeoutOf(message);
      const reason = decodeValue(message.reason === undefined ? { $type: "undefined" } : message.reason);
      const got = attempt(() => readerOf(entry));
      if (!got.ok) return got.response;
      entry.leftover = null;
      const started = attempt(() => got.value.cancel(reason));
      if (!started.ok) return started.response;
      return outcome(started.value, encodeValue, ms);
    },

    async get_reader(message) {
      const entry = entryOf(message);
      const got = attempt(() => entry.socket.readable.getReader());
      if (!got.ok) return got.response;
      if (entry.reader === null) entry.reader = got.value; // the lock holder becomes current
      return { status: "returned" };
    },

    async get_writer(message) {
      const entry = entryOf(message);
      const got = attempt(() => entry.socket.writable.getWriter());
      if (!got.ok) return got.response;
      if (entry.writer === null) entry.writer = got.value;
      return { status: "returned" };
    },

    async release_lock(message) {
      const entry = entryOf(message);
      const stream = message.stream;
      if (stream === "readable") {
        if (entry.reader !== null) {
          const released = attempt(() => entry.reader.releaseLock());
          if (!released.ok) return released.response;
          entry.reader = null;
        }
      } else if (stream === "writable") {
        if (entry.writer !== null) {
          const released = attempt(() => entry.writer.releaseLock());
          if (!released.ok) return released.response;
          entry.writer = null;
        }
      } else {
        throw new ProtocolError("release_lock needs stream: readable or writable");
      }
      return { status: "returned" };
    },

    async ready(message) {
      const entry = entryOf(message);
      const ms = timeoutOf(message);
      const got = attempt(() => writerOf(entry).ready);
      if (!got.ok) return got.response;
      return outcome(got.value, encodeValue, ms);
    },

    async desired_size(message) {
      const entry = entryOf(message);
      const got = attempt(() => writerOf(entry).desiredSize);
      if (!got.ok) return got.response;
      return { status: "returned", value: encodeValue(got.value), typeof: typeof got.value };
    },

    async same(message) {
      const entry = entryOf(message);
      const socket = entry.socket;
      const expressions = {
        opened: () => socket.opened,
        closed: () => socket.closed,
        "close()": () => socket.close(),
        readable: () => socket.readable,
        writable: () => socket.writable,
      };
      const names = [message.a, message.b];
      for (const name of names) {
        if (typeof name !== "string" || !Object.prototype.hasOwnProperty.call(expressions, name)) {
          throw new ProtocolError(`same needs a and b, each one of ${Object.keys(expressions).join(", ")}`);
        }
      }
      const got = attempt(() => {
        const left = expressions[names[0]]();
        const right = expressions[names[1]]();
        return [left, right];
      });
      if (!got.ok) return got.response;
      // A promise compared here is tracked, so its rejection is never reported as unhandled.
      for (const value of got.value) if (isThenable(value)) session.track(value);
      return { status: "returned", value: got.value[0] === got.value[1], typeof: "boolean" };
    },

    async close(message) {
      const entry = entryOf(message);
      const ms = timeoutOf(message);
      const started = attempt(() => entry.socket.close());
      if (!started.ok) return started.response;
      return outcome(started.value, encodeValue, ms);
    },

    async start_tls(message) {
      const entry = entryOf(message);
      const hasOptions = Object.prototype.hasOwnProperty.call(message, "options");
      const options = hasOptions ? decodeValue(message.options) : undefined;
      const made = attempt(() => (hasOptions ? entry.socket.startTls(options) : entry.socket.startTls()));
      if (!made.ok) return made.response;
      return { status: "returned", value: { socket: session.addSocket(made.value) } };
    },
  };

  async function handle(message) {
    // A request without a usable seq is answered with seq 0 (docs/adapters.md): a response's
    // seq is always a non-negative integer (protocol/schemas/common.json).
    const given = isObjectLike(message) && !Array.isArray(message) ? message.seq : undefined;
    const seq = Number.isSafeInteger(given) && given >= 0 ? given : 0;
    let body;
    try {
      if (!isObjectLike(message) || Array.isArray(message)) throw new ProtocolError("a request must be a JSON object");
      if (shutDown) throw new ProtocolError("the adapter has shut down");
      const op = message.op;
      const run = typeof op === "string" && Object.prototype.hasOwnProperty.call(ops, op) ? ops[op] : undefined;
      if (run === undefined) throw new ProtocolError(`unknown op ${JSON.stringify(op)}`);
      // Other requests and environments are the shell's to route (workerd-worker.js); one that
      // reaches the interpreter is one the shell cannot provide.
      if (message.request !== undefined) {
        throw new Unsupported(`this adapter runs ops only in the session's own request, not ${JSON.stringify(message.request)}`);
      }
      if (op === "begin" && message.environment !== undefined) {
        throw new Unsupported(`this adapter has no environment ${JSON.stringify(message.environment)}`);
      }
      body = await run(message);
    } catch (error) {
      if (error instanceof ProtocolError) body = { status: "protocol_error", reason: error.message };
      else if (error instanceof Unsupported) body = { status: "unsupported", reason: error.message };
      else body = { status: "protocol_error", reason: `the interpreter failed: ${describe(error)}` };
    }
    return { seq, ...body };
  }

  function noteUnhandled(reason) {
    try {
      session.unhandled.push(encodeError(reason));
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
      return session.owns(promise) || retired.some((old) => old.owns(promise));
    } catch {
      return false;
    }
  }

  function retire(ended) {
    retired.push(ended);
    if (retired.length > RETIRED_SESSIONS) retired.shift();
  }

  return {
    handle,
    noteUnhandled,
    owns,
    get isShutDown() {
      return shutDown;
    },
  };
}
