// Helpers every scenario module shares (bundled into each one). Standard JavaScript and Web
// APIs only (TextEncoder, crypto.subtle, setTimeout): the same in workerd, Miniflare and Node.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The text every `query` scenario sends and expects back: ASCII, Latin-1, CJK, a non-BMP emoji, a NUL-free quote. */
export const SAMPLE_TEXT = "plain ascii, caf\u00e9, \u6f22\u5b57, \u{1F600} \u{1D11E}, 'quoted' \"double\"";
/** The bytes every `query` scenario sends and expects back: every byte value once (0x00 to 0xff). */
export const SAMPLE_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);

export const MiB = 1024 * 1024;
/** The 16-byte unit large payloads repeat: their SHA-256 is known in advance for any length. */
export const PATTERN = "0123456789abcdef";

export function utf8(text) {
  return encoder.encode(text);
}

export function fromUtf8(bytes) {
  return decoder.decode(bytes);
}

/** `length` bytes of PATTERN repeated (the last repetition cut short). */
export function patternBytes(length) {
  const unit = encoder.encode(PATTERN);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i += unit.length) out.set(unit.subarray(0, Math.min(unit.length, length - i)), i);
  return out;
}

export function patternText(length) {
  return PATTERN.repeat(Math.ceil(length / PATTERN.length)).slice(0, length);
}

export function toHex(bytes) {
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}

export function fromHex(text) {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** A view of what a driver returned as bytes (Buffer, Uint8Array, ArrayBuffer, string as UTF-8). */
export function asBytes(value) {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (typeof value === "string") return utf8(value);
  throw new TypeError(`expected bytes, got ${value === null ? "null" : typeof value}`);
}

export async function sha256Hex(data) {
  const bytes = typeof data === "string" ? utf8(data) : asBytes(data);
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
}

/** What a scenario reports of a payload: its size and digest, never the payload. */
export async function digestOf(data) {
  const bytes = typeof data === "string" ? utf8(data) : asBytes(data);
  return { bytes: bytes.length, sha256: await sha256Hex(bytes) };
}

/** A name no other case uses at the same time (the harness passes `options.name`; else a random one). */
export function uniqueName(options, prefix = "cc") {
  const given = options && typeof options.name === "string" ? options.name : "";
  const random = Math.random().toString(36).slice(2, 10);
  return `${prefix}_${given.replace(/[^A-Za-z0-9_]/g, "_")}_${random}`.toLowerCase();
}

export function now() {
  return typeof performance === "object" ? performance.now() : Date.now();
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `promise`'s value, or `onTimeout()`'s after `ms`. */
export function within(promise, ms, onTimeout) {
  let timer;
  const expired = new Promise((resolve) => {
    timer = setTimeout(() => resolve(onTimeout()), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** Whether `promise` settles within `ms`: `{settled, outcome: "fulfilled"|"rejected"|null, error?}`. */
export async function settlesWithin(promise, ms) {
  const marker = {};
  const result = await within(
    Promise.resolve(promise).then(
      () => ({ settled: true, outcome: "fulfilled" }),
      (error) => ({ settled: true, outcome: "rejected", error: describeError(error) }),
    ),
    ms,
    () => marker,
  );
  return result === marker ? { settled: false, outcome: null } : result;
}

const ERROR_FIELDS = ["code", "errno", "sqlState", "severity", "constraint", "reason"];

/** An error as JSON: name, message, the driver's own fields (code, errno, sqlState, ...), its cause. */
export function describeError(error, depth = 0) {
  if (error === null || (typeof error !== "object" && typeof error !== "function")) {
    // Not an Error: the value as JavaScript writes it (`undefined`, `null`, `"text"`, `42`).
    return { name: null, message: null, value: typeof error === "string" ? JSON.stringify(error) : String(error) };
  }
  const out = { name: String(error.name ?? error.constructor?.name ?? "Error"), message: String(error.message ?? "") };
  for (const field of ERROR_FIELDS) {
    const value = error[field];
    if (typeof value === "string" || typeof value === "number") out[field] = value;
  }
  if (Array.isArray(error.errors) && error.errors.length && depth < 2) {
    out.errors = error.errors.slice(0, 4).map((inner) => describeError(inner, depth + 1));
  }
  if (error.cause !== undefined && depth < 2) out.cause = describeError(error.cause, depth + 1);
  return out;
}

/** `error`, with `cause` attached when it has none (a driver's "connection closed" and the event that closed it). */
export function withCause(error, cause) {
  if (cause && cause !== error && error && typeof error === "object" && error.cause === undefined) {
    try {
      error.cause = cause;
    } catch {
      // a frozen error keeps its own story
    }
  }
  return error;
}

/** Runs `step`; its rejection becomes data (`{error}`), for a scenario that goes on after an expected failure. */
export async function attempt(step) {
  try {
    return { value: await step() };
  } catch (error) {
    return { error: describeError(error) };
  }
}
