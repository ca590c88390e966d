// A case session's state (`begin` ... `end`): its sockets by handle, each with its current reader
// and writer, the promises its ops awaited (`Tracked`: a handler attached for good), the pending
// ones by handle, and the rejections the runtime reported as unhandled. Standard JavaScript only.

import { isObjectLike, isThenable } from "./values.js";

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One awaited promise, with a handler attached for good. */
export class Tracked {
  constructor(promise) {
    this.settled = false;
    this.fulfilled = false;
    this.value = undefined;
    this.reason = undefined;
    this.waiters = new Set();
    Promise.resolve(promise).then(
      (value) => this.settle(true, value),
      (reason) => this.settle(false, reason),
    );
  }

  settle(fulfilled, result) {
    this.settled = true;
    this.fulfilled = fulfilled;
    if (fulfilled) this.value = result;
    else this.reason = result;
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }

  /** Waits at most `ms` (0: one timer turn, so an already-settled promise counts). */
  within(ms) {
    if (this.settled) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.waiters.add(wake);
    });
  }
}

/** A socket of the session, with its current reader and writer (null: none held). */
export class SocketEntry {
  reader = null;
  writer = null;
  // Bytes a read_bytes took from the stream beyond its n; served first by the next read.
  leftover = null;

  constructor(socket) {
    this.socket = socket;
  }
}

export class Session {
  constructor(caseId = null) {
    this.caseId = caseId;
    this.sockets = new Map();
    this.tracked = new Map(); // promise -> Tracked
    this.parked = new Map(); // handle -> {tracked, encode}
    this.handleOf = new Map(); // Tracked -> handle
    this.unhandled = [];
  }

  addSocket(socket) {
    const handle = `s${this.sockets.size + 1}`;
    this.sockets.set(handle, new SocketEntry(socket));
    return handle;
  }

  track(promise) {
    if (!isObjectLike(promise)) return new Tracked(promise);
    let tracked = this.tracked.get(promise);
    if (tracked === undefined) {
      tracked = new Tracked(promise);
      this.tracked.set(promise, tracked);
    }
    return tracked;
  }

  /** A handle for a promise still pending; `encodeReason` reads its rejection (default: encodeError). */
  park(tracked, encode, encodeReason = undefined) {
    let handle = this.handleOf.get(tracked);
    if (handle === undefined) {
      handle = `p${this.parked.size + 1}`;
      this.parked.set(handle, { tracked, encode, encodeReason });
      this.handleOf.set(tracked, handle);
    }
    return handle;
  }

  /**
   * Whether `promise` belongs to this session: a socket's opened or closed, or a promise an op
   * returned. Never throws (a getter of the implementation that throws counts as "no").
   */
  owns(promise) {
    if (!isObjectLike(promise)) return false;
    if (this.tracked.has(promise)) return true;
    for (const entry of this.sockets.values()) {
      try {
        if (entry.socket.opened === promise || entry.socket.closed === promise) return true;
      } catch {
        // an implementation whose getter throws: not this one
      }
    }
    return false;
  }

  /** What `owns` still needs once the session has ended: its sockets and tracked promises. */
  retired() {
    const copy = new Session(this.caseId);
    for (const [handle, entry] of this.sockets) copy.sockets.set(handle, new SocketEntry(entry.socket));
    for (const [promise, tracked] of this.tracked) copy.tracked.set(promise, tracked);
    return copy;
  }

  /** Forgets every handle (the sockets are not closed). */
  clear() {
    this.sockets.clear();
    this.parked.clear();
    this.handleOf.clear();
    this.tracked.clear();
  }

  /** Closes what is still open without waiting; for a session left behind. Never throws. */
  discard() {
    for (const entry of this.sockets.values()) {
      try {
        const closing = entry.socket.close();
        if (isThenable(closing)) Promise.resolve(closing).catch(() => {});
      } catch {
        // a socket that cannot close is dropped anyway
      }
    }
    this.clear();
  }
}
