// `cloudflare:sockets` as the scenario modules and the drivers see it: the bundler resolves every
// import of `cloudflare:sockets` to this module (its own import is the real one), so each socket
// a driver opens is recorded and a `shutdown` scenario can tell whether its `closed` settled.
// On Node the real one is the host's connect() (the node-socket adapter's implementation under test),
// else the polyfill @arrowood.dev/socket (drivers-build.mjs).
import { connect as realConnect } from "cloudflare:sockets";
import { describeError, settlesWithin } from "./_common.js";

const made = [];

function track(socket, how) {
  const entry = { how, socket, closed: null };
  // A handler on `closed` for good: the scenario reports it, it never counts as unhandled.
  entry.closed = socket.closed.then(
    () => ({ outcome: "fulfilled" }),
    (error) => ({ outcome: "rejected", error: describeError(error) }),
  );
  made.push(entry);
  const startTls = socket.startTls;
  if (typeof startTls === "function") {
    try {
      Object.defineProperty(socket, "startTls", {
        configurable: true,
        value(...args) {
          return track(startTls.apply(socket, args), "startTls");
        },
      });
    } catch {
      // not extensible: the upgraded socket goes unrecorded
    }
  }
  return socket;
}

export function connect(address, options) {
  return track(realConnect(address, options), "connect");
}

/** Forget every socket recorded so far (at the start of a scenario). */
export function resetSockets() {
  made.length = 0;
}

/** The recorded sockets: how many, and whether each one's `closed` settled within `ms`. */
export async function socketsReport(ms = 2000) {
  const sockets = [];
  for (const entry of made) {
    const settled = await settlesWithin(entry.closed, ms);
    const outcome = settled.settled ? await entry.closed : { outcome: "pending" };
    sockets.push(outcome.error ? { how: entry.how, closed: outcome.outcome, error: outcome.error } : { how: entry.how, closed: outcome.outcome });
  }
  return sockets;
}
