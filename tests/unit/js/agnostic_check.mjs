// Runs interpreter.js with Node's own globals (Buffer, process, require) removed, the way
// a Worker sees the world, against the in-memory fake connect().
//
//   node agnostic_check.mjs INTERPRETER_JS REQUESTS_JSON
//
// Prints one JSON array: the responses to the requests, in order.

import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { connect } from "./fake_socket.mjs";

const [interpreterPath, requestsPath] = process.argv.slice(2);
const interpreterUrl = pathToFileURL(interpreterPath).href;
const requests = JSON.parse(readFileSync(requestsPath, "utf8"));
const stdout = process.stdout;
const exit = process.exit.bind(process);

for (const name of ["Buffer", "process", "require", "global"]) {
  delete globalThis[name];
  if (name in globalThis) throw new Error(`cannot remove ${name}`);
}

// Imported only now: the interpreter's modules, too, are evaluated without those globals.
const { createAdapter } = await import(interpreterUrl);
const adapter = createAdapter({ name: "agnostic", version: "1", runtime: "no node globals", capabilities: [], connect });
const responses = [];
for (const request of requests) responses.push(await adapter.handle(request));
stdout.write(`${JSON.stringify(responses)}\n`, () => exit(0));
