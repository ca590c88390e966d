// Runs the pure helpers of the driver scenarios (copied next to this file by the test, with a
// package.json that makes .js files ES modules) and prints what they did, as one JSON object.
import { describeError, digestOf, patternBytes, patternText, settlesWithin, uniqueName, utf8 } from "./_common.js";
import { runScenario, scenarioNames } from "./_runner.js";
import { dotStuff, parseReceipt } from "./_smtp_wire.js";

const coded = Object.assign(new Error("duplicate key"), { code: "23505", severity: "ERROR", ignored: { deep: 1 } });
const circular = {};
circular.self = circular;
const module = {
  value: async ({ server, options }) => ({ host: server.host, text: options.text }),
  nothing: async () => undefined,
  coded: async () => {
    throw coded;
  },
  notAnError: async () => {
    throw undefined;
  },
  aString: async () => {
    throw "text";
  },
  caused: async () => {
    throw new Error("Connection is closed.", { cause: new TypeError("handshake failed") });
  },
  aggregate: async () => {
    throw new AggregateError([new Error("a"), new Error("b")], "all failed");
  },
  hangs: () => new Promise(() => {}),
  circular: async () => circular,
  big: async () => 1n,
  NOT_A_FUNCTION: 1,
};
const input = { server: { host: "127.0.0.1" }, options: { text: "caf\u00e9 \u{1F600}", timeout_ms: 50 } };
const out = { runs: {} };
for (const name of [...scenarioNames(module), "missing", "NOT_A_FUNCTION"]) {
  const result = await runScenario(module, name, input);
  out.runs[name] = { ...result, elapsed_ms: typeof result.elapsed_ms };
}
out.names = scenarioNames(module);
out.stuffed = Array.from(dotStuff(utf8(".start\r\nmiddle\r\n..two\r\nend.")));
out.receipt = parseReceipt({ code: 250, lines: ["OK tls=TLSv1.3 bytes=1048576 sha256=abc123"] });
out.receiptWithout = parseReceipt({ code: 250, lines: ["OK"] });
out.pattern = { mib: await digestOf(patternBytes(1024 * 1024)), tenMibText: await digestOf(patternText(10 * 1024 * 1024)), odd: await digestOf(patternBytes(21)) };
out.unique = [uniqueName({ name: "lane 3/case.x-Y" }, "cc"), uniqueName({}, "cc")];
out.settles = [await settlesWithin(Promise.resolve(1), 50), await settlesWithin(Promise.reject(new Error("no")), 50), await settlesWithin(new Promise(() => {}), 20)];
out.described = describeError(null);
process.stdout.write(JSON.stringify(out) + "\n");
