// serveStdio (js/stdio.js) as a third-party shell uses it: its own input (chunks cut anywhere,
// a character cut in two among them) and its own write, an adapter that answers with objects,
// with text, with a value JSON cannot carry, and that shuts down.
//
//   node stdio_check.mjs STDIO_JS
//
// Prints one JSON object: the lines written, the requests and texts the adapter was given, and
// what a failing adapter and an input without a final newline do.

import { pathToFileURL } from "node:url";

const { serveStdio } = await import(pathToFileURL(process.argv[2]).href);
const encoder = new TextEncoder();

/** `text` as byte chunks cut at `cuts` (byte offsets), as a pipe may deliver it. */
async function* chunks(text, cuts) {
  const bytes = encoder.encode(text);
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    yield bytes.subarray(start, cut);
    start = cut;
  }
}

function recorder() {
  const written = [];
  return { written, write: async (line) => void written.push(line) };
}

const requests = [];
const adapter = {
  isShutDown: false,
  async handle(request, line) {
    requests.push({ request, line });
    if (request.op === "text") return `{"seq":${request.seq},"status":"returned","value":"as sent"}`;
    if (request.op === "bigint") return { seq: request.seq, status: "returned", value: 10n };
    if (request.op === "shutdown") this.isShutDown = true;
    return { seq: request.seq, status: "returned", value: request.value ?? null };
  },
};
const input =
  '{"seq": 1, "op": "echo", "value": "caf\u00e9"}\n' +
  "\n   \n" +
  "not json {\n" +
  '{"seq": 2, "op": "text"}\n' +
  '{"seq": 3, "op": "bigint"}\n' +
  '{"seq": 4, "op": "shutdown"}\n' +
  '{"seq": 5, "op": "echo", "value": "after shutdown"}\n';
// Cut inside the first line, inside the two bytes of "é", and right after a newline.
const eAcute = encoder.encode(input).indexOf(0xc3);
const afterBlankLines = encoder.encode(input.slice(0, input.indexOf("not json"))).length;
const main = recorder();
await serveStdio(adapter, { input: chunks(input, [5, eAcute + 1, afterBlankLines]), write: main.write });

const failing = {
  async handle() {
    throw new Error("the runtime broke");
  },
};
let failure = null;
try {
  await serveStdio(failing, { input: chunks('{"seq": 1, "op": "hello"}\n', []), write: recorder().write });
} catch (error) {
  failure = error.message;
}

const unfinished = recorder();
const unfinishedRequests = [];
const counting = {
  async handle(request) {
    unfinishedRequests.push(request);
    return { seq: request.seq, status: "returned" };
  },
};
await serveStdio(counting, { input: chunks('{"seq": 1, "op": "a"}\n{"seq": 2, "op": "b"}', [3]), write: unfinished.write });

process.stdout.write(
  `${JSON.stringify({
    written: main.written,
    requests,
    failure,
    unfinished: { written: unfinished.written, requests: unfinishedRequests },
  })}\n`,
);
