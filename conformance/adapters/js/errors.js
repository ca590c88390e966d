// How a request fails before the implementation is involved, and how any thrown value reads in
// a message. Standard JavaScript only (Node, workerd and any other runtime).

/** The request is malformed: answered with status `protocol_error`. */
export class ProtocolError extends Error {}

/** The adapter cannot do this here (docs/adapter-protocol.md, section 2): status `unsupported`. */
export class Unsupported extends Error {}

/** `name: message` of an Error-like value, else its string; never throws (for reasons and logs). */
export function describe(error) {
  try {
    if (error && typeof error === "object" && "message" in error) {
      return `${error.name || "Error"}: ${error.message}`;
    }
    return String(error);
  } catch {
    return "(an indescribable value)";
  }
}
