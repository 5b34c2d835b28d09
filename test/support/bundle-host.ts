// An in-process bundle server (OPA's download/testharness style): serves whatever bytes the test
// sets, with an ETag, honours If-None-Match, and counts what it was asked.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BundleHost {
  url: string;
  bytes: Buffer;
  requests: { ifNoneMatch: string | undefined; status: number }[];
  /** Declares a smaller Content-Length than the body: a lying server. */
  omitContentLength: boolean;
  close(): Promise<void>;
}

export async function startBundleHost(initial: Buffer, port = 0): Promise<BundleHost> {
  const host = { bytes: initial, requests: [] as BundleHost['requests'], omitContentLength: false };
  const server: Server = createServer((req, res) => {
    const etag = `"${createHash('sha256').update(host.bytes).digest('hex').slice(0, 16)}"`;
    const ifNoneMatch = req.headers['if-none-match'];
    if (ifNoneMatch === etag) {
      host.requests.push({ ifNoneMatch, status: 304 });
      res.writeHead(304, { etag });
      return res.end();
    }
    host.requests.push({ ifNoneMatch, status: 200 });
    const headers: Record<string, string> = { 'content-type': 'application/json', etag };
    if (host.omitContentLength) {
      headers['transfer-encoding'] = 'chunked';
      res.writeHead(200, headers);
      // Write in pieces: the gateway must stop reading at its cap, not after the whole body.
      for (let i = 0; i < host.bytes.length; i += 16 * 1024) res.write(host.bytes.subarray(i, i + 16 * 1024));
      return res.end();
    }
    res.writeHead(200, { ...headers, 'content-length': String(host.bytes.length) });
    res.end(host.bytes);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return Object.assign(host, {
    url: `http://127.0.0.1:${address.port}/bundle.json`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
