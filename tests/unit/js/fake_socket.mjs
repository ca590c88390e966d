// A fake `connect()` for the interpreter's unit tests: in-memory sockets, no network.
//
// The test fixture installs this file as the package `@arrowood.dev/socket`
// in a temporary node_modules folder, so node-socket.mjs loads it exactly as it
// loads the real package. The host part of the address picks a behaviour:
//
//   echo      opened resolves with {remoteAddress, localAddress: undefined}; every
//             written chunk comes back from the readable as the very same object
//             (so views round-trip); writer.close() ends the readable
//   refused   opened rejects with Error("connection refused") after 50 ms and closed
//             after 150 ms, with no handler attached (unhandled unless someone awaits)
//   undef     opened rejects with undefined (handled: nobody else notices)
//   silent    opened never settles
//   slow      writes resolve after 300 ms
//   failing   writes reject after 200 ms with Error("write failed")
//   hang      close() and closed never settle
//   evil      opened resolves with an object whose property getter throws
//   throw     connect() throws TypeError("connect refused the address")
//
// connect() with no argument at all throws TypeError("connect() got no arguments").
//
// A string address must look like "host:port"; options.bare makes a socket
// without `opened` and `upgraded` properties.

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function settled(promise) {
  promise.catch(() => {});
  return promise;
}

class FakeSocket {
  constructor(host, remoteAddress, options) {
    const self = this;
    this.secureTransport = options.secureTransport ?? "off";
    this.upgraded = false;
    this.startTlsCalled = false;
    let resolveClosed;
    let rejectClosed;
    this.closed = new Promise((resolve, reject) => {
      resolveClosed = resolve;
      rejectClosed = reject;
    });
    this.resolveClosed = resolveClosed;
    this.host = host;

    if (host === "refused") {
      const error = new Error("connection refused");
      this.opened = new Promise((_, reject) => setTimeout(() => reject(error), 50));
      setTimeout(() => rejectClosed(error), 150);
    } else if (host === "undef") {
      this.opened = settled(Promise.reject(undefined));
    } else if (host === "silent") {
      this.opened = new Promise(() => {});
    } else if (host === "evil") {
      const info = {};
      Object.defineProperty(info, "boom", { enumerable: true, get() { throw new Error("getter exploded"); } });
      this.opened = Promise.resolve(info);
    } else if (host === "hang") {
      this.closed = new Promise(() => {});
      this.opened = Promise.resolve({ remoteAddress, localAddress: undefined });
    } else {
      this.opened = Promise.resolve({ remoteAddress, localAddress: undefined });
    }

    let controller;
    this.readable = new ReadableStream({
      start(c) {
        controller = c;
      },
    });
    this.controller = controller;
    this.writable = new WritableStream({
      async write(chunk) {
        if (host === "slow") await delay(300);
        if (host === "failing") {
          await delay(200);
          throw new Error("write failed");
        }
        if (typeof chunk === "string") chunk = new TextEncoder().encode(chunk);
        if (!(chunk instanceof ArrayBuffer) && !ArrayBuffer.isView(chunk)) {
          throw new TypeError(`cannot write ${chunk === null ? "null" : typeof chunk}`);
        }
        self.controller.enqueue(chunk);
      },
      close() {
        try {
          self.controller.close();
        } catch {
          // already closed
        }
      },
      abort(reason) {
        try {
          self.controller.error(reason);
        } catch {
          // already errored
        }
      },
    });
    if (options.bare) {
      delete this.opened;
      delete this.upgraded;
    }
  }

  close() {
    if (this.host === "hang") return new Promise(() => {});
    try {
      this.controller.close();
    } catch {
      // already closed
    }
    this.resolveClosed();
    return Promise.resolve();
  }

  startTls(options) {
    if (this.secureTransport !== "starttls") throw new TypeError("secureTransport must be starttls");
    if (this.startTlsCalled) throw new TypeError("startTls was already called");
    this.startTlsCalled = true;
    this.upgraded = true;
    this.resolveClosed();
    const upgraded = new FakeSocket(this.host, "upgraded", { ...(options ?? {}), secureTransport: "on" });
    return upgraded;
  }
}

export function connect(address, options) {
  if (arguments.length === 0) throw new TypeError("connect() got no arguments");
  let host;
  let remoteAddress;
  if (typeof address === "string") {
    const colon = address.lastIndexOf(":");
    if (colon <= 0) throw new TypeError("Specified address is missing port.");
    host = address.slice(0, colon);
    remoteAddress = address;
  } else if (address !== null && typeof address === "object") {
    host = String(address.hostname);
    remoteAddress = `${address.hostname}:${address.port}`;
  } else {
    throw new TypeError("bad address");
  }
  if (host === "throw") throw new TypeError("connect refused the address");
  return new FakeSocket(host, remoteAddress, options ?? {});
}
