// Two sessions of interpreter.js live at once in one runtime, as a Worker reached by two
// WebSockets has them: each unhandled rejection is credited the way workerd-worker.js does
// (to the adapter that owns the promise, else to every live one).
//
//   node owns_check.mjs INTERPRETER_JS
//
// Prints one JSON object: both sessions' `end` reports and a few direct `owns` answers.

import { pathToFileURL } from "node:url";
import { connect } from "./fake_socket.mjs";

const { createAdapter } = await import(pathToFileURL(process.argv[2]).href);
const make = (name) => createAdapter({ name, version: "1", runtime: "node", capabilities: [], connect });
const first = make("first");
const second = make("second");
const live = [first, second];
const stranger = Promise.reject(new Error("nobody's"));
let strangerNoted = null;

process.on("unhandledRejection", (reason, promise) => {
  const owners = live.filter((adapter) => adapter.owns(promise));
  for (const adapter of owners.length > 0 ? owners : live) adapter.noteUnhandled(reason);
  if (promise === stranger) strangerNoted = owners.length;
});

const call = (adapter, request) => adapter.handle({ seq: 1, ...request });
await call(first, { op: "begin", case: "refused" });
await call(second, { op: "begin", case: "echo" });
await call(first, { op: "connect", address: "refused:1" }); // opened and closed reject, unhandled
await call(second, { op: "connect", address: "echo:1" });
await new Promise((resolve) => setTimeout(resolve, 400));
const ends = {
  first: (await call(first, { op: "end", timeout_ms: 200 })).value,
  second: (await call(second, { op: "end", timeout_ms: 200 })).value,
};
const answers = {
  ends,
  stranger_owners: strangerNoted,
  owns_non_promise: first.owns(42),
  owns_fresh_promise: first.owns(Promise.resolve()),
};
process.stdout.write(`${JSON.stringify(answers)}\n`, () => process.exit(0));
