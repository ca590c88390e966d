// The miniflare adapter: a stdio adapter that starts Miniflare with the adapter Worker
// (workerd-worker.js and the modules it imports) and relays the protocol's lines to it over
// WebSocket; the lines are read and written by stdio.js.
//
// This is the pattern for any Worker-like runtime (docs/adapters.md, section 2): the
// harness starts this process with the run's CA in its environment, so the runtime
// is configured to trust it before the Worker starts; each case session (`begin` ...
// `end`) gets a WebSocket of its own, as the Worker expects.
//
// Environment (set by conformance/adapters/miniflare.py):
//   CONNECT_CONFORMANCE_CA_PEM          the run's CA (the harness sets it for every stdio adapter);
//                                       without it the Worker trusts nothing and declares no tls/starttls
//   CONNECT_CONFORMANCE_MINIFLARE       the folder of the `miniflare` package to import
//   CONNECT_CONFORMANCE_WORKER_INFO     JSON: the Worker's ADAPTER binding (name, version, runtime,
//                                       capabilities), its compatibility_date and its modules
//   CONNECT_CONFORMANCE_DRIVERS         optional, JSON {flags, drivers: {name: {path, module,
//                                       version}}}: the drivers profile (a second Worker with the
//                                       bundles, reached through DRIVERS; workerd-worker.js); with it
//                                       the adapter declares `drivers`
//
// stdout carries protocol lines only: anything else that writes to it (Miniflare, the
// workerd it starts, the Worker's console) is sent to stderr instead.

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { serveStdio, writeTo } from "./stdio.js";

const writeProtocol = process.stdout.write.bind(process.stdout);
process.stdout.write = process.stderr.write.bind(process.stderr);

const REPLY_TIMEOUT_MS = 10 * 60 * 1000; // the harness's own deadlines are far shorter

function log(...parts) {
  process.stderr.write(`miniflare adapter: ${parts.join(" ")}\n`);
}

const FOLDER = fileURLToPath(new URL(".", import.meta.url));

/**
 * A Worker made of these modules of this folder, the main one first, each listed (the adapter
 * Worker's dynamic import of a driver's bundle is one Miniflare cannot follow by itself).
 */
function workerModules(names) {
  return { modules: names.map((name) => ({ type: "ESModule", path: join(FOLDER, name) })), modulesRoot: FOLDER };
}

async function startMiniflare() {
  const folder = process.env.CONNECT_CONFORMANCE_MINIFLARE;
  if (!folder) throw new Error("CONNECT_CONFORMANCE_MINIFLARE is not set (the folder of the miniflare package)");
  const info = JSON.parse(process.env.CONNECT_CONFORMANCE_WORKER_INFO ?? "{}");
  const ca = process.env.CONNECT_CONFORMANCE_CA_PEM ?? "";
  const manifest = JSON.parse(await readFile(join(folder, "package.json"), "utf8"));
  const entry = join(folder, manifest.main ?? "dist/src/index.js");
  const { Miniflare } = await import(pathToFileURL(entry).href);
  const drivers = process.env.CONNECT_CONFORMANCE_DRIVERS ? JSON.parse(process.env.CONNECT_CONFORMANCE_DRIVERS) : null;
  const capabilities = (info.capabilities ?? []).filter((name) => ca || (name !== "tls" && name !== "starttls"));
  if (drivers !== null) capabilities.push("drivers");
  // The adapter Worker and every module it imports (conformance/adapters/workerd_config.py, INTERPRETER_MODULES).
  const adapterModules = info.modules ?? ["workerd-worker.js"];
  const adapterWorker = workerModules(adapterModules);
  const ADAPTER = { name: info.name, version: info.version, runtime: info.runtime, capabilities };
  if (drivers !== null) {
    ADAPTER.drivers = Object.fromEntries(
      Object.entries(drivers.drivers).map(([name, entry]) => [name, { version: entry.version }]),
    );
  }
  // connect() goes out through the Worker's outbound service: loopback only, and only the run's CA.
  // (Miniflare's default allows public addresses and trusts the system's CAs.)
  const network = {
    network: {
      allow: ["local", ...JSON.parse(process.env.CONNECT_CONFORMANCE_EXTRA_ALLOW ?? "[]")],
      tlsOptions: { trustBrowserCas: false, trustedCertificates: ca ? [ca] : [] },
    },
  };
  // The same services as the workerd adapter's config (workerd_config.py): the adapter Worker, which
  // reaches itself for a second request (SELF), its Outbound-Worker profile and its drivers profile.
  const extra = drivers === null ? [] : [await driversProfile(drivers, adapterModules, info, ADAPTER, network)];
  const mf = new Miniflare({
    workers: [
      {
        name: "adapter",
        ...adapterWorker,
        compatibilityDate: info.compatibility_date,
        bindings: { ADAPTER },
        serviceBindings: {
          SELF: "adapter",
          OUTBOUND_WORKER: "outbound-worker-profile",
          ...(drivers === null ? {} : { DRIVERS: "drivers-profile" }),
        },
        outboundService: network,
      },
      ...extra,
      {
        name: "outbound-worker-profile",
        ...adapterWorker,
        compatibilityDate: info.compatibility_date,
        bindings: { ADAPTER },
        serviceBindings: { SELF: "outbound-worker-profile" },
        outboundService: "fetch-only-outbound",
      },
      {
        name: "fetch-only-outbound",
        ...workerModules(["fetch-only-outbound.js"]),
        compatibilityDate: info.compatibility_date,
        outboundService: network,
      },
    ],
    host: "127.0.0.1",
    port: 0,
  });
  const url = await mf.ready;
  return { mf, url: new URL(url) };
}

/**
 * The drivers profile: the adapter Worker again, its modules listed one by one with every driver's
 * bundle beside them (imported when a scenario first needs it), and the flags the drivers need.
 */
async function driversProfile(drivers, adapterModules, info, ADAPTER, network) {
  const { modules } = workerModules(adapterModules);
  const table = {};
  for (const [name, entry] of Object.entries(drivers.drivers)) {
    modules.push({ type: "ESModule", path: join(FOLDER, entry.module), contents: await readFile(entry.path, "utf8") });
    table[name] = { version: entry.version, module: entry.module };
  }
  return {
    name: "drivers-profile",
    modules,
    modulesRoot: FOLDER,
    compatibilityDate: info.compatibility_date,
    compatibilityFlags: drivers.flags,
    bindings: { ADAPTER: { ...ADAPTER, drivers: table } },
    outboundService: network,
  };
}

/** One WebSocket to the Worker: a session. Replies come back in order. */
class Session {
  constructor(url) {
    this.waiting = [];
    this.closed = false;
    const address = new URL(url);
    address.protocol = address.protocol === "https:" ? "wss:" : "ws:";
    this.socket = new WebSocket(address);
    this.opened = new Promise((resolve, reject) => {
      this.socket.addEventListener("open", resolve, { once: true });
      this.socket.addEventListener("error", () => reject(new Error("the WebSocket to the Worker failed")), {
        once: true,
      });
    });
    this.socket.addEventListener("message", (event) => {
      const next = this.waiting.shift();
      if (next) next.resolve(typeof event.data === "string" ? event.data : new TextDecoder().decode(event.data));
      else log("a reply nobody asked for:", String(event.data).slice(0, 200));
    });
    this.socket.addEventListener("close", () => {
      this.closed = true;
      for (const next of this.waiting.splice(0)) next.reject(new Error("the Worker closed the WebSocket"));
    });
  }

  async exchange(line) {
    await this.opened;
    if (this.closed) throw new Error("the Worker closed the WebSocket");
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no reply from the Worker")), REPLY_TIMEOUT_MS);
      this.waiting.push({
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.socket.send(line);
    });
  }

  close() {
    if (!this.closed) {
      try {
        this.socket.close(1000, "session over");
      } catch {
        // already closing
      }
    }
  }
}

/**
 * The stdio side's adapter (stdio.js): each request line goes, as it came, to the current session's
 * WebSocket, and the Worker's reply text comes back. A session per case: `begin` opens a fresh
 * WebSocket, the answer to `end` closes it.
 */
class Relay {
  constructor(url) {
    this.url = url;
    this.session = null;
    this.isShutDown = false;
  }

  async handle(request, line) {
    const op = request?.op ?? null;
    if (op === "begin" && this.session !== null) this.close();
    this.session ??= new Session(this.url);
    let reply;
    try {
      reply = await this.session.exchange(line);
    } catch (error) {
      throw new Error(`cannot relay ${op ?? "a line"}: ${error.message}`);
    }
    if (op === "end" || op === "hello" || op === "shutdown") this.close();
    if (op === "shutdown") this.isShutDown = true;
    return reply;
  }

  close() {
    this.session?.close();
    this.session = null;
  }
}

async function main() {
  const { mf, url } = await startMiniflare();
  const relay = new Relay(url);
  let stopping = false;
  const stop = async (code) => {
    if (stopping) return;
    stopping = true;
    relay.close();
    try {
      await mf.dispose();
    } catch (error) {
      log("dispose failed:", String(error));
    }
    process.exit(code);
  };
  process.on("SIGTERM", () => stop(0));
  try {
    await serveStdio(relay, { write: writeTo({ write: writeProtocol }) });
  } catch (error) {
    // The runtime broke: exit, so the harness sees a broken adapter and restarts it.
    log(error.message);
    await stop(1);
    return;
  }
  await stop(0);
}

main().catch((error) => {
  log("cannot start:", error && error.stack ? error.stack : String(error));
  process.exit(1);
});
