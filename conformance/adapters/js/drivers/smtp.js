// SMTP with STARTTLS over connect(), by hand (_smtp.js): there is no SMTP driver for Workers.
// The server's reply to DATA carries its own proof (TLS version, byte count, SHA-256).
import { MiB, SAMPLE_TEXT, attempt, digestOf, uniqueName, utf8 } from "./_common.js";
import { SmtpClient } from "./_smtp.js";
import { parseReceipt } from "./_smtp_wire.js";
import { resetSockets, socketsReport } from "./_sockets.js";

function tlsOptions(options) {
  return options.servername ? { expectedServerHostname: options.servername } : undefined;
}

function mailbox(options) {
  return `${uniqueName(options, "cc")}@example.test`;
}

/** EHLO, STARTTLS, EHLO, AUTH PLAIN: the extensions before and after TLS, and the AUTH reply code. */
export async function connect({ server, options }) {
  const client = await SmtpClient.open(server.host, server.port);
  const before = await client.ehlo();
  await client.startTls(tlsOptions(options));
  const after = await client.ehlo();
  const auth = await client.authPlain(server.user, server.password);
  const quit = await client.quit();
  return {
    greeting: client.greeting.code,
    before_tls: before,
    after_tls: after,
    auth: auth.code,
    quit: quit.code,
    eof_after_quit: quit.eof,
  };
}

/** What the server answers without TLS: AUTH and MAIL must be refused. */
export async function plain({ server, options }) {
  const client = await SmtpClient.open(server.host, server.port);
  const extensions = await client.ehlo();
  const auth = await client.command(`AUTH PLAIN ${btoa(`\0${server.user}\0${server.password}`)}`);
  const mail = await client.command(`MAIL FROM:<${mailbox(options)}>`);
  await client.quit();
  return { extensions, auth: auth.code, mail: mail.code };
}

async function deliver(server, options, content) {
  const client = await SmtpClient.open(server.host, server.port);
  await client.ehlo();
  await client.startTls(tlsOptions(options));
  await client.ehlo();
  await client.authPlain(server.user, server.password);
  const to = mailbox(options);
  const receipt = parseReceipt(await client.sendMail(to, to, content));
  const quit = await client.quit();
  return { receipt, sent: await digestOf(content), eof_after_quit: quit.eof };
}

function message(body) {
  const text = `Subject: conformance\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${body}\r\n`;
  return utf8(text.replace(/\r?\n/g, "\r\n"));
}

/** TLS with the run's CA through STARTTLS; the server's proof from its DATA reply. A bad certificate rejects. */
export async function tls({ server, options }) {
  const { receipt } = await deliver(server, options, message("tls"));
  return { tls: receipt.tls };
}

/** A message with exact UTF-8 content (non-BMP too) and lines that need dot-stuffing: what the server got. */
export async function query({ server, options }) {
  const body = `${options.text ?? SAMPLE_TEXT}\r\n.a line that starts with a dot\r\n..and two`;
  const { receipt, sent } = await deliver(server, options, message(body));
  return { receipt, sent, equal: receipt.bytes === sent.bytes && receipt.sha256 === sent.sha256 };
}

/** DATA of 1 MiB (default): lines of PATTERN; what the server got. */
export async function large({ server, options }) {
  const size = options.bytes ?? MiB;
  const line = "0123456789abcdef".repeat(4) + "\r\n"; // 66 bytes
  const content = new Uint8Array(size);
  const unit = utf8(line);
  for (let i = 0; i < size; i += unit.length) content.set(unit.subarray(0, Math.min(unit.length, size - i)), i);
  content.set(utf8("\r\n"), size - 2); // end on a line break
  const { receipt, sent } = await deliver(server, options, content);
  return { receipt, sent, equal: receipt.bytes === sent.bytes && receipt.sha256 === sent.sha256 };
}

/** QUIT after a delivery: does each socket's `closed` settle? */
export async function shutdown({ server, options }) {
  resetSockets();
  const sent = await attempt(() => deliver(server, options, message("shutdown")));
  return {
    ended: !sent.error,
    error: sent.error ?? null,
    eof_after_quit: sent.value?.eof_after_quit ?? null,
    sockets: await socketsReport(options.closed_wait_ms),
  };
}
