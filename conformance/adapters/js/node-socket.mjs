// The node-socket adapter: `@arrowood.dev/socket` on Node, behind the stdio transport.
//
// Requests arrive on stdin and responses leave on stdout, one JSON object per
// line (docs/adapter-protocol.md), handled one at a time in order by
// interpreter.js. Logs go to stderr only. Launched by
// conformance/adapters/node_socket.py with:
//   CONNECT_CONFORMANCE_NODE_MODULES  the node_modules folder holding the package
//   NODE_EXTRA_CA_CERTS               the run's CA (Node reads it at start-up)

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";

const PACKAGE = "@arrowood.dev/socket";

function log(...parts) {
  process.stderr.write(`node-socket adapter: ${parts.join(" ")}\n`);
}

// interpreter.js is an ES module in a folder without a package.json saying so;
// importing its text as a data: URL makes Node load it as a module whatever the folder.
async function importInterpreter() {
  const source = await readFile(new URL("./interpreter.js", import.meta.url), "utf8");
  return import(`data:text/javascript;base64,${Buffer.from(source, "utf8").toString("base64")}`);
}

async function importPackage() {
  const modules = process.env.CONNECT_CONFORMANCE_NODE_MODULES;
  if (!modules) throw new Error("CONNECT_CONFORMANCE_NODE_MODULES is not set (the node_modules folder of the package)");
  const folder = join(modules, ...PACKAGE.split("/"));
  const manifest = JSON.parse(await readFile(join(folder, "package.json"), "utf8"));
  const entry = join(folder, manifest.main || "index.js");
  const loaded = await import(pathToFileURL(entry).href);
  const connect = loaded.connect ?? loaded.default?.connect;
  if (typeof connect !== "function") throw new Error(`${entry} exports no connect function`);
  return { connect, version: String(manifest.version) };
}

function writeLine(text) {
  return new Promise((resolve, reject) => {
    process.stdout.write(text, (error) => (error ? reject(error) : resolve()));
  });
}

async function main() {
  const [{ createAdapter }, { connect, version }] = await Promise.all([importInterpreter(), importPackage()]);
  const adapter = createAdapter({
    name: "node-socket",
    version,
    runtime: `Node ${process.version}`,
    capabilities: ["ipv6", "tls", "starttls", "unhandled-rejections"],
    connect,
  });
  // The package leaves rejected `closed` promises unhandled; without this hook Node would
  // exit. They are the implementation's behaviour, reported by `end`.
  process.on("unhandledRejection", (reason) => adapter.noteUnhandled(reason));
  // A rejection reported above and awaited later (an op, or `end` closing the socket) is
  // normal here; without a listener Node prints a PromiseRejectionHandledWarning each time.
  process.on("rejectionHandled", () => {});
  process.on("uncaughtException", (error) => {
    log("uncaught exception (the process goes on):", error && error.stack ? error.stack : String(error));
  });

  const pending = []; // complete lines not handled yet
  let partial = []; // chunks of the line being received
  let ended = false;
  let wake = null;

  process.stdin.on("data", (chunk) => {
    let start = 0;
    let newline = chunk.indexOf(10);
    while (newline !== -1) {
      partial.push(chunk.subarray(start, newline));
      pending.push(Buffer.concat(partial).toString("utf8"));
      partial = [];
      start = newline + 1;
      newline = chunk.indexOf(10, start);
    }
    if (start < chunk.length) partial.push(chunk.subarray(start));
    if (wake) wake();
  });
  process.stdin.on("end", () => {
    ended = true;
    if (wake) wake();
  });

  for (;;) {
    while (pending.length === 0 && !ended) await new Promise((resolve) => (wake = resolve));
    wake = null;
    if (pending.length === 0) break;
    const line = pending.shift();
    if (line.trim() === "") continue;
    let request;
    try {
      request = JSON.parse(line);
    } catch (error) {
      log("a request line is not JSON:", String(error));
      // seq 0 answers a request whose own seq cannot be known (docs/adapters.md).
      await writeLine(`${JSON.stringify({ seq: 0, status: "protocol_error", reason: "the request is not JSON" })}\n`);
      continue;
    }
    const response = await adapter.handle(request);
    let text;
    try {
      text = JSON.stringify(response);
    } catch (error) {
      text = JSON.stringify({ seq: response.seq ?? 0, status: "protocol_error", reason: `cannot serialise the response: ${error}` });
    }
    await writeLine(`${text}\n`);
    if (adapter.isShutDown) break;
  }
  process.exit(0);
}

main().catch((error) => {
  log("cannot start:", error && error.stack ? error.stack : String(error));
  process.exit(1);
});
