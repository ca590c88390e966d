// The pure parts of the SMTP client (no socket): what goes on the wire and what comes back.

/** A line that starts with "." gets one more (RFC 5321, 4.5.2). */
export function dotStuff(content) {
  const out = [];
  let lineStart = true;
  for (const byte of content) {
    if (lineStart && byte === 46) out.push(46);
    out.push(byte);
    lineStart = byte === 10;
  }
  return Uint8Array.from(out);
}

/** The server's proof in its reply to DATA: `250 OK tls=TLSv1.3 bytes=N sha256=HEX`. */
export function parseReceipt(reply) {
  const text = reply.lines.join(" ");
  const field = (name) => new RegExp(`${name}=(\\S+)`).exec(text)?.[1] ?? null;
  const bytes = field("bytes");
  return { code: reply.code, tls: field("tls"), bytes: bytes === null ? null : Number(bytes), sha256: field("sha256") };
}
