// Raw HTTP/1.1 over node:net, for tests where the wire matters: partial requests, pipelining,
// malformed input. An exchange records every byte the server sent and whether it closed.
import { connect, type Socket } from 'node:net';

export interface RawExchange {
  socket: Socket;
  /** Everything received so far. */
  text(): string;
  /** Resolves once the server closed the connection (or the hang guard passed: then rejects). */
  closed(guardMs?: number): Promise<string>;
  /** Resolves once the received text matches (hang guard: rejects after guardMs). */
  until(pattern: RegExp, guardMs?: number): Promise<string>;
}

/** Connects to the gateway at url and writes text (more can be written on .socket). */
export function rawExchange(url: string, text: string): RawExchange {
  const { port } = new URL(url);
  const socket = connect(Number(port), '127.0.0.1');
  let received = '';
  let isClosed = false;
  const waiters: (() => void)[] = [];
  const wake = (): void => {
    for (const w of waiters.splice(0)) w();
  };
  socket.on('data', (d: Buffer) => {
    received += d.toString('utf8');
    wake();
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    isClosed = true;
    wake();
  });
  if (text !== '') socket.write(text);
  const wait = (done: () => boolean, guardMs: number, what: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const guard = setTimeout(() => reject(new Error(`hang guard: ${what} after ${guardMs} ms; received ${JSON.stringify(received.slice(0, 300))}`)), guardMs);
      const check = (): void => {
        if (done()) {
          clearTimeout(guard);
          resolve(received);
        } else waiters.push(check);
      };
      check();
    });
  return {
    socket,
    text: () => received,
    closed: (guardMs = 10_000) => wait(() => isClosed, guardMs, 'not closed'),
    until: (pattern, guardMs = 10_000) => wait(() => pattern.test(received), guardMs, `no ${pattern}`),
  };
}

/** The responses in a raw text: status, lower-case headers, body (by content-length). */
export function parseResponses(text: string): { status: number; headers: Record<string, string>; body: string }[] {
  const out: { status: number; headers: Record<string, string>; body: string }[] = [];
  let rest = text;
  while (rest.startsWith('HTTP/1.1 ')) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const bodyBytes = Buffer.from(rest.slice(end + 4), 'utf8');
    let body = '';
    let used = 0;
    if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const lineEnd = bodyBytes.indexOf('\r\n', used);
        if (lineEnd < 0) break;
        const size = Number.parseInt(bodyBytes.toString('latin1', used, lineEnd), 16);
        body += bodyBytes.toString('utf8', lineEnd + 2, lineEnd + 2 + size);
        used = lineEnd + 2 + size + 2;
        if (size === 0 || Number.isNaN(size)) break;
      }
    } else {
      used = Number(headers['content-length'] ?? 0);
      body = bodyBytes.subarray(0, used).toString('utf8');
    }
    out.push({ status: Number((statusLine as string).split(' ')[1]), headers, body });
    rest = bodyBytes.subarray(used).toString('utf8');
  }
  return out;
}
