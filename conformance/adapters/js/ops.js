// The client ops (docs/adapter-protocol.md, section 5): `CLIENT_OPS[op](state, message)` performs
// one request on the implementation and resolves with the response's body (`{status, ...}`, no seq).
// `state` is the adapter's (interpreter.js): `state.connect`, and `state.session`, the current
// case session (session.js). A malformed request throws ProtocolError; what the implementation
// throws or rejects with is a response (`threw`, `rejected`), never an exception.
// Standard JavaScript only.

import { bytesToBase64, concatBytes, sha256Hex } from "./bytes.js";
import { ProtocolError, Unsupported } from "./errors.js";
import { required, timeoutOf } from "./messages.js";
import { chunkBytes, decodeValue, encodeError, encodeReadResult, encodeValue, isObjectLike, isThenable } from "./values.js";

const hasOwn = (object, key) => Object.prototype.hasOwnProperty.call(object, key);
const UNDEFINED = { $type: "undefined" };

/** Runs `call`; a synchronous throw becomes a `threw` response (returned, not thrown). */
function attempt(call) {
  try {
    return { ok: true, value: call() };
  } catch (error) {
    return { ok: false, response: { status: "threw", error: encodeError(error) } };
  }
}

function entryOf(state, message) {
  const handle = required(message, "socket", "string");
  const entry = state.session.sockets.get(handle);
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
function outcome(state, promise, encode, ms, encodeReason = encodeError) {
  return outcomeOf(state, state.session.track(promise), encode, ms, encodeReason);
}

async function outcomeOf(state, tracked, encode, ms, encodeReason = encodeError) {
  const current = state.session;
  await tracked.within(ms);
  if (tracked.settled) {
    return tracked.fulfilled
      ? { status: "resolved", value: encode(tracked.value) }
      : { status: "rejected", error: encodeReason(tracked.reason) };
  }
  return { status: "pending", promise: current.park(tracked, encode, encodeReason) };
}

/**
 * How a driver's scenario failed, as its bundle described it (`{name, message, code?, errno?,
 * sqlState?, cause?, ...}`: plain JSON already, the driver's own fields kept for the case to match).
 */
class ScenarioFailure {
  constructor(error) {
    this.error = error;
  }
}

function encodeScenarioFailure(reason) {
  return reason instanceof ScenarioFailure ? reason.error : encodeError(reason);
}

/** A bundle's `run()` outcome (drivers/README.md, "The bundle") as a settled value, or a ScenarioFailure. */
function scenarioValue(result) {
  if (!isObjectLike(result)) throw new ScenarioFailure({ name: "TypeError", message: `run() resolved with ${typeof result}` });
  switch (result.status) {
    case "resolved":
      return result.value;
    case "rejected":
      throw new ScenarioFailure(isObjectLike(result.error) ? result.error : encodeError(result.error));
    case "timeout":
      throw new ScenarioFailure({ name: "TimeoutError", message: String(result.reason) });
    case "invalid":
      throw new ScenarioFailure({ name: "TypeError", message: String(result.reason) });
    default:
      throw new ScenarioFailure({ name: "Error", message: String(result.reason ?? `run() answered ${result.status}`) });
  }
}

/**
 * `call(target)` with `target = acquire()` (the current reader or writer, or the socket): a
 * synchronous throw of either is `threw`; the promise `call` returns is awaited for at most `ms`.
 */
function settle(state, acquire, call, ms) {
  const got = attempt(acquire);
  if (!got.ok) return got.response;
  const started = attempt(() => call(got.value));
  if (!started.ok) return started.response;
  return outcome(state, started.value, encodeValue, ms);
}

/** Chunks until `n` bytes (null: until done); never consumes past `n` (the rest is the entry's leftover). */
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

/** The values `same` can compare, each evaluated when asked for (`close()` really closes). */
function sameExpressions(socket) {
  return {
    opened: () => socket.opened,
    closed: () => socket.closed,
    "close()": () => socket.close(),
    readable: () => socket.readable,
    writable: () => socket.writable,
  };
}

export const CLIENT_OPS = {
  // Nothing here may await before connect() is called: global-scope.js relies on the call
  // happening while handle() runs synchronously (during module evaluation).
  async connect(state, message) {
    // No address: connect() with no argument at all; no options: connect(address).
    const hasAddress = hasOwn(message, "address");
    const hasOptions = hasOwn(message, "options");
    if (hasOptions && !hasAddress) throw new ProtocolError("connect with options needs an address");
    const address = hasAddress ? decodeValue(message.address) : undefined;
    const options = hasOptions ? decodeValue(message.options) : undefined;
    const connect = state.connect;
    const made = attempt(() => {
      if (!hasAddress) return connect();
      return hasOptions ? connect(address, options) : connect(address);
    });
    if (!made.ok) return made.response;
    return { status: "returned", value: { socket: state.session.addSocket(made.value) } };
  },

  async await(state, message) {
    const promiseName = required(message, "promise", "string");
    const ms = timeoutOf(message);
    if (hasOwn(message, "socket") || promiseName === "opened" || promiseName === "closed") {
      const entry = entryOf(state, message);
      if (promiseName !== "opened" && promiseName !== "closed") {
        throw new ProtocolError(`a socket has no promise ${JSON.stringify(promiseName)} (opened or closed)`);
      }
      const got = attempt(() => entry.socket[promiseName]);
      if (!got.ok) return got.response;
      return outcome(state, got.value, encodeValue, ms);
    }
    const parked = state.session.parked.get(promiseName);
    if (parked === undefined) throw new ProtocolError(`unknown promise handle ${JSON.stringify(promiseName)}`);
    return outcomeOf(state, parked.tracked, parked.encode, ms, parked.encodeReason);
  },

  async get(state, message) {
    const entry = entryOf(state, message);
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

  async read(state, message) {
    const entry = entryOf(state, message);
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
    return outcome(state, started.value, encodeReadResult, ms);
  },

  async read_bytes(state, message) {
    const entry = entryOf(state, message);
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
    return outcome(state, readBytes(entry, got.value, n, message.digest === true), (value) => value, ms);
  },

  async write(state, message) {
    const entry = entryOf(state, message);
    const ms = timeoutOf(message);
    if (!hasOwn(message, "data")) throw new ProtocolError("write needs data");
    const data = decodeValue(message.data);
    return settle(state, () => writerOf(entry), (writer) => writer.write(data), ms);
  },

  async close_writer(state, message) {
    const entry = entryOf(state, message);
    return settle(state, () => writerOf(entry), (writer) => writer.close(), timeoutOf(message));
  },

  async abort_writer(state, message) {
    const entry = entryOf(state, message);
    const ms = timeoutOf(message);
    const reason = decodeValue(message.reason === undefined ? UNDEFINED : message.reason);
    return settle(state, () => writerOf(entry), (writer) => writer.abort(reason), ms);
  },

  async cancel_reader(state, message) {
    const entry = entryOf(state, message);
    const ms = timeoutOf(message);
    const reason = decodeValue(message.reason === undefined ? UNDEFINED : message.reason);
    const cancel = (reader) => {
      entry.leftover = null;
      return reader.cancel(reason);
    };
    return settle(state, () => readerOf(entry), cancel, ms);
  },

  async get_reader(state, message) {
    const entry = entryOf(state, message);
    const got = attempt(() => entry.socket.readable.getReader());
    if (!got.ok) return got.response;
    if (entry.reader === null) entry.reader = got.value; // the lock holder becomes current
    return { status: "returned" };
  },

  async get_writer(state, message) {
    const entry = entryOf(state, message);
    const got = attempt(() => entry.socket.writable.getWriter());
    if (!got.ok) return got.response;
    if (entry.writer === null) entry.writer = got.value;
    return { status: "returned" };
  },

  async release_lock(state, message) {
    const entry = entryOf(state, message);
    const stream = message.stream;
    const held = stream === "readable" ? "reader" : stream === "writable" ? "writer" : undefined;
    if (held === undefined) throw new ProtocolError("release_lock needs stream: readable or writable");
    if (entry[held] !== null) {
      const released = attempt(() => entry[held].releaseLock());
      if (!released.ok) return released.response;
      entry[held] = null;
    }
    return { status: "returned" };
  },

  async ready(state, message) {
    const entry = entryOf(state, message);
    return settle(state, () => writerOf(entry), (writer) => writer.ready, timeoutOf(message));
  },

  async desired_size(state, message) {
    const entry = entryOf(state, message);
    const got = attempt(() => writerOf(entry).desiredSize);
    if (!got.ok) return got.response;
    return { status: "returned", value: encodeValue(got.value), typeof: typeof got.value };
  },

  async same(state, message) {
    const entry = entryOf(state, message);
    const expressions = sameExpressions(entry.socket);
    const names = [message.a, message.b];
    for (const name of names) {
      if (typeof name !== "string" || !hasOwn(expressions, name)) {
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
    for (const value of got.value) if (isThenable(value)) state.session.track(value);
    return { status: "returned", value: got.value[0] === got.value[1], typeof: "boolean" };
  },

  async close(state, message) {
    const entry = entryOf(state, message);
    return settle(state, () => entry.socket, (socket) => socket.close(), timeoutOf(message));
  },

  // A scenario of a real client library (js/drivers/README.md), run against the server the harness
  // started; `state.drivers` (the shell's) loads the driver's bundle. What the scenario observed is
  // the value; the driver's error, with its own fields, the rejection. A module the runtime cannot
  // load (a Node built-in it lacks) rejects with the runtime's error.
  async driver(state, message) {
    const drivers = state.drivers;
    if (!isObjectLike(drivers) || typeof drivers.load !== "function") {
      throw new Unsupported("this adapter runs no drivers (it declares no drivers capability)");
    }
    const name = required(message, "driver", "string");
    const scenario = required(message, "scenario", "string");
    const ms = timeoutOf(message);
    const server = message.server;
    const options = message.options === undefined ? {} : message.options;
    if (!isObjectLike(server) || Array.isArray(server)) throw new ProtocolError("driver needs server (an object)");
    if (!isObjectLike(options) || Array.isArray(options)) throw new ProtocolError("driver options must be an object");
    if (!Object.prototype.hasOwnProperty.call(drivers.versions ?? {}, name)) {
      throw new Unsupported(`this adapter has no driver ${JSON.stringify(name)}`);
    }
    let elapsed = null;
    const running = Promise.resolve()
      .then(() => drivers.load(name))
      .then((module) => module.run(scenario, { server, options }))
      .then((result) => {
        if (isObjectLike(result) && Number.isFinite(result.elapsed_ms)) elapsed = result.elapsed_ms;
        return scenarioValue(result);
      });
    const response = await outcome(state, running, (value) => value, ms, encodeScenarioFailure);
    return elapsed === null ? response : { ...response, elapsed_ms: elapsed };
  },

  async start_tls(state, message) {
    const entry = entryOf(state, message);
    const hasOptions = hasOwn(message, "options");
    const options = hasOptions ? decodeValue(message.options) : undefined;
    const made = attempt(() => (hasOptions ? entry.socket.startTls(options) : entry.socket.startTls()));
    if (!made.ok) return made.response;
    return { status: "returned", value: { socket: state.session.addSocket(made.value) } };
  },
};
