// The stdio transport (docs/adapter-protocol.md, section 1): requests on stdin and responses on
// stdout, one JSON object per line, handled one at a time in order. Shared by the node-socket and
// Miniflare shells; a third-party shell for any runtime whose stdin is an async iterable of
// chunks can use it as it is.
//
//   import { createAdapter } from "./interpreter.js";
//   import { serveStdio } from "./stdio.js";
//   await serveStdio(createAdapter({ ..., connect }));   // Node: process.stdin and process.stdout
//   process.exit(0);
//
// serveStdio(adapter, {input, write}) reads lines until the input ends or, after a response,
// `adapter.isShutDown` is true, then resolves; it rejects when `adapter.handle` or a write fails
// (the shell exits, and the harness restarts it). For each line that is not blank:
// - text that is not JSON is answered here: `protocol_error` with seq 0;
// - anything else goes to `adapter.handle(request, line)`: the parsed request and its text
//   (a relay forwards the text as it came), which resolves with a response object or the
//   response's JSON text (sent as it is);
// - the response is written as one line; one that JSON cannot carry becomes a `protocol_error`.
// `input`: an async iterable of Uint8Array (or string) chunks, default `process.stdin`.
// `write(line)`: writes one line (its "\n" included) and resolves once it is written; default
// `writeTo(process.stdout)`. A final line without "\n" is not a request (the protocol ends
// every line with one) and is dropped.
//
// Standard JavaScript only: `process` is looked up only for the defaults.

import { concatBytes } from "./bytes.js";
import { parseRequest, responseText } from "./messages.js";

const NEWLINE = 10;
const BLANK = /^\s*$/;

/** `write(line)` for a Node-style stream: resolves when `stream.write(line, callback)` calls back. */
export function writeTo(stream) {
  return (line) =>
    new Promise((resolve, reject) => {
      stream.write(line, (error) => (error ? reject(error) : resolve()));
    });
}

/** The lines of `input` (chunks of bytes), without their "\n", decoded as UTF-8. */
export async function* readLines(input) {
  const encoder = new TextEncoder();
  // Like Node's Buffer#toString: a byte-order mark stays in the text (JSON.parse then refuses it).
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  let partial = [];
  let partialLength = 0;
  for await (const chunk of input) {
    const bytes = typeof chunk === "string" ? encoder.encode(chunk) : chunk;
    let start = 0;
    let newline = bytes.indexOf(NEWLINE);
    while (newline !== -1) {
      partial.push(bytes.subarray(start, newline));
      partialLength += newline - start;
      yield decoder.decode(concatBytes(partial, partialLength));
      partial = [];
      partialLength = 0;
      start = newline + 1;
      newline = bytes.indexOf(NEWLINE, start);
    }
    if (start < bytes.length) {
      partial.push(bytes.subarray(start));
      partialLength += bytes.length - start;
    }
  }
}

export async function serveStdio(adapter, { input, write } = {}) {
  const lines = readLines(input ?? globalThis.process.stdin);
  const writeLine = write ?? writeTo(globalThis.process.stdout);
  for await (const line of lines) {
    if (BLANK.test(line)) continue;
    const parsed = parseRequest(line);
    const response = parsed.ok ? await adapter.handle(parsed.request, line) : parsed.response;
    await writeLine(`${responseText(response)}\n`);
    if (adapter.isShutDown) return;
  }
}
