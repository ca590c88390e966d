// The node-socket adapter: `@arrowood.dev/socket` on Node, behind the stdio transport.
//
// Requests arrive on stdin and responses leave on stdout, one JSON object per
// line (docs/adapter-protocol.md), read by stdio.js and handled one at a time in order by
// interpreter.js. Logs go to stderr only. Launched by
// conformance/adapters/node_socket.py with:
//   CONNECT_CONFORMANCE_NODE_MODULES  the node_modules folder holding the package
//   NODE_EXTRA_CA_CERTS               the run's CA (Node reads it at start-up)
//   CONNECT_CONFORMANCE_DRIVERS       optional, JSON {driver: {path, version}}: the drivers area's Node
//                                     bundles (cloudflare:sockets is the polyfill inside them); with
//                                     it the adapter declares `drivers` and serves the `driver` op

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { createAdapter } from "./interpreter.js";
import { serveStdio } from "./stdio.js";

const PACKAGE = "@arrowood.dev/socket";

function log(...parts) {
  process.stderr.write(`node-socket adapter: ${parts.join(" ")}\n`);
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

/** The drivers the harness gave (their bundles are imported when a scenario first needs them), or undefined. */
function drivers() {
  const given = process.env.CONNECT_CONFORMANCE_DRIVERS;
  if (!given) return undefined;
  const table = JSON.parse(given);
  const versions = Object.fromEntries(Object.entries(table).map(([name, entry]) => [name, String(entry.version)]));
  const load = (name) => import(pathToFileURL(table[name].path).href);
  return { versions, load };
}

async function main() {
  const { connect, version } = await importPackage();
  const driverSet = drivers();
  // The Node bundles' `cloudflare:sockets` (drivers-build.mjs): the very connect() this adapter tests.
  globalThis[Symbol.for("connect-conformance.sockets")] = { connect };
  const adapter = createAdapter({
    name: "node-socket",
    version,
    runtime: `Node ${process.version}`,
    capabilities: ["ipv6", "tls", "starttls", "unhandled-rejections", ...(driverSet ? ["drivers"] : [])],
    connect,
    drivers: driverSet,
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
  await serveStdio(adapter);
  process.exit(0);
}

main().catch((error) => {
  log("cannot start:", error && error.stack ? error.stack : String(error));
  process.exit(1);
});
