// A small SMTP client on connect() (RFC 5321, STARTTLS RFC 3207, AUTH PLAIN RFC 4954): what a
// Worker that sends mail does by hand. It keeps every reply, so a scenario reports what it saw.
import { connect } from "cloudflare:sockets";
import { fromUtf8, utf8, within } from "./_common.js";
import { dotStuff } from "./_smtp_wire.js";

/** How long `quit()` waits for the server's end of the stream. */
export const EOF_WAIT_MS = 2000;

export class SmtpError extends Error {
  constructor(command, reply) {
    super(`${command} was answered ${reply.code} ${reply.lines.join(" / ")}`);
    this.name = "SmtpError";
    this.code = reply.code;
  }
}

export class SmtpClient {
  constructor(socket) {
    this.socket = socket;
    this.buffer = "";
    this.attach();
  }

  static async open(host, port) {
    const client = new SmtpClient(connect({ hostname: host, port }, { secureTransport: "starttls" }));
    client.greeting = await client.reply();
    return client;
  }

  attach() {
    this.reader = this.socket.readable.getReader();
    this.writer = this.socket.writable.getWriter();
  }

  /** One reply: `{code, lines}` (a multi-line reply's lines joined). */
  async reply() {
    const lines = [];
    for (;;) {
      let end = this.buffer.indexOf("\r\n");
      while (end === -1) {
        const { done, value } = await this.reader.read();
        if (done) throw new Error(`the server closed the connection (after ${JSON.stringify(this.buffer)})`);
        this.buffer += fromUtf8(value);
        end = this.buffer.indexOf("\r\n");
      }
      const line = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      lines.push(line.slice(4));
      if (line[3] !== "-") return { code: Number(line.slice(0, 3)), lines };
    }
  }

  async send(data) {
    await this.writer.write(typeof data === "string" ? utf8(data) : data);
  }

  /** Sends `line`; the reply, or an SmtpError when its code is not `expected`. */
  async command(line, expected) {
    await this.send(`${line}\r\n`);
    const reply = await this.reply();
    if (expected !== undefined && reply.code !== expected) throw new SmtpError(line.split(" ")[0], reply);
    return reply;
  }

  async ehlo(name = "worker.conformance.invalid") {
    const reply = await this.command(`EHLO ${name}`, 250);
    return reply.lines.slice(1).map((line) => line.split(" ")[0].toUpperCase());
  }

  /** STARTTLS, then the TLS socket in place of the plain one (startTls() with the given options). */
  async startTls(options) {
    await this.command("STARTTLS", 220);
    this.reader.releaseLock();
    this.writer.releaseLock();
    this.plain = this.socket;
    this.socket = options ? this.socket.startTls(options) : this.socket.startTls();
    this.buffer = "";
    this.attach();
  }

  async authPlain(user, password) {
    return this.command(`AUTH PLAIN ${btoa(String.fromCharCode(...utf8(`\0${user}\0${password}`)))}`, 235);
  }

  /** MAIL, RCPT, DATA with `content` (bytes, CRLF lines), dot-stuffed here; the reply to the final dot. */
  async sendMail(from, to, content) {
    await this.command(`MAIL FROM:<${from}>`, 250);
    await this.command(`RCPT TO:<${to}>`, 250);
    await this.command("DATA", 354);
    await this.send(dotStuff(content));
    await this.send(content.length && content[content.length - 1] === 10 ? ".\r\n" : "\r\n.\r\n");
    return this.reply();
  }

  /**
   * QUIT, then the stream read to its end (until then `closed` does not settle on every runtime),
   * then close(). `eof`: whether the end came within EOF_WAIT_MS after the server closed.
   */
  async quit() {
    const reply = await this.command("QUIT");
    const drained = (async () => {
      for (;;) {
        const { done } = await this.reader.read();
        if (done) return true;
      }
    })();
    reply.eof = await within(drained, EOF_WAIT_MS, () => false);
    await this.socket.close();
    return reply;
  }
}
