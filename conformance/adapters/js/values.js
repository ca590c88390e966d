// Values (docs/adapter-protocol.md, section 3): a request's values as the JS values they stand
// for (`decodeValue`), and JS values, errors and read results in their protocol form (`encodeValue`,
// `encodeError`, `encodeReadResult`). Standard JavaScript only.

import { asView, base64ToBytes, bytesToBase64, expandPattern } from "./bytes.js";
import { ProtocolError, Unsupported, describe } from "./errors.js";

/** The constructor name of an object (`Uint8Array`, `Object`), else its `typeof` (`null` for null). */
export function typeName(value) {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  const constructor = value.constructor;
  return constructor && typeof constructor.name === "string" ? constructor.name : "Object";
}

export function isObjectLike(value) {
  return (typeof value === "object" && value !== null) || typeof value === "function";
}

export function isThenable(value) {
  return isObjectLike(value) && typeof value.then === "function";
}

export function isErrorLike(value) {
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

/** What `reader.read()` gave: `{done: true}` or `{done: false, value}`. */
export function encodeReadResult(result) {
  if (!isObjectLike(result)) return encodeValue(result);
  if (result.done) {
    return result.value === undefined ? { done: true } : { done: true, value: encodeValue(result.value) };
  }
  return { done: false, value: encodeValue(result.value) };
}

/** The bytes of a stream's chunk (a view of the same memory where possible). */
export function chunkBytes(chunk) {
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  if (typeof chunk === "string") return new TextEncoder().encode(chunk);
  throw new TypeError(`the stream produced a chunk that is not bytes (${typeName(chunk)})`);
}
