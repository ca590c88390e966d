// A protocol message as text and back (docs/adapter-protocol.md, section 1), the same over stdio
// lines and WebSocket frames, and the readers of a request's common fields. Standard JavaScript only.

import { ProtocolError, describe } from "./errors.js";

/** Used when a request that involves a promise carries no `timeout_ms`. */
export const DEFAULT_TIMEOUT_MS = 2000;

/**
 * The `seq` to answer `message` with: its own when it is a non-negative integer, else 0 (a
 * response's seq is never null or anything else: protocol/schemas/common.json).
 */
export function seqOf(message) {
  const given =
    typeof message === "object" && message !== null && !Array.isArray(message) ? message.seq : undefined;
  return Number.isSafeInteger(given) && given >= 0 ? given : 0;
}

/**
 * The request a line or frame holds: `{ok: true, request}`, or, for text that is not JSON,
 * `{ok: false, response}` with the `protocol_error` (seq 0) to send instead.
 */
export function parseRequest(text) {
  try {
    return { ok: true, request: JSON.parse(text) };
  } catch (error) {
    const reason = `the request is not JSON: ${describe(error)}`;
    return { ok: false, response: { seq: 0, status: "protocol_error", reason } };
  }
}

/**
 * A response as one line of JSON text (a string is taken to be that text already). A response
 * JSON cannot carry becomes a `protocol_error` saying why, so every request gets an answer.
 */
export function responseText(response) {
  if (typeof response === "string") return response;
  let problem;
  try {
    const text = JSON.stringify(response);
    if (typeof text === "string") return text;
    problem = `the adapter answered ${typeof response}, not a response object`;
  } catch (error) {
    problem = `cannot serialise the response: ${describe(error)}`;
  }
  return JSON.stringify({ seq: seqOf(response), status: "protocol_error", reason: problem });
}

/** `message[key]`, which must be of `typeof` `kind`. */
export function required(message, key, kind) {
  const value = message[key];
  if (typeof value !== kind) throw new ProtocolError(`${message.op} needs ${key} (${kind})`);
  return value;
}

export function timeoutOf(message) {
  const value = message.timeout_ms === undefined ? DEFAULT_TIMEOUT_MS : message.timeout_ms;
  if (!Number.isInteger(value) || value < 0) throw new ProtocolError("timeout_ms must be a non-negative integer");
  return value;
}
