// Bytes: base64 in pieces (fine for the protocol's 64 MiB lines), the protocol's patterns, the
// views a bytes value names, and SHA-256 digests. Standard JavaScript and Web APIs only (atob,
// btoa, crypto.subtle); Buffer only where a value asks for one and the runtime has it.

import { ProtocolError, Unsupported, describe } from "./errors.js";

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
export function asView(bytes, view) {
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

/** `parts` (Uint8Arrays holding `length` bytes in all) as one; a lone part is returned as it is. */
export function concatBytes(parts, length) {
  if (parts.length === 1 && parts[0].length === length) return parts[0];
  const out = new Uint8Array(length);
  let position = 0;
  for (const part of parts) {
    out.set(part, position);
    position += part.length;
  }
  return out;
}

export async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  let hex = "";
  for (const byte of digest) hex += byte.toString(16).padStart(2, "0");
  return hex;
}
