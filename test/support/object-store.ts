// A tiny object store on 127.0.0.1 that speaks like a presigned-URL bucket: PUT with the right
// signature in the query stores the bytes, GET serves them with an ETag and honours If-None-Match.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ObjectStore {
  url: string;
  /** The query string a PUT must carry, like X-Amz-Signature on a presigned URL. */
  signature: string;
  objects: Map<string, Buffer>;
  puts: number;
  close(): Promise<void>;
}

export async function startObjectStore(signature: string): Promise<ObjectStore> {
  const store = { url: '', signature, objects: new Map<string, Buffer>(), puts: 0, close: async () => {} };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method === 'PUT') {
        if (url.searchParams.get('X-Amz-Signature') !== signature) {
          res.writeHead(403, { 'content-type': 'application/xml' });
          return res.end('<Error><Code>SignatureDoesNotMatch</Code></Error>');
        }
        store.objects.set(url.pathname, Buffer.concat(chunks));
        store.puts++;
        res.writeHead(200, { etag: etagOf(store.objects.get(url.pathname)!) });
        return res.end();
      }
      const body = store.objects.get(url.pathname);
      if (req.method !== 'GET' || body === undefined) {
        res.writeHead(404);
        return res.end();
      }
      const etag = etagOf(body);
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { etag });
        return res.end();
      }
      res.writeHead(200, { etag, 'content-type': 'application/json', 'content-length': String(body.length) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  store.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  store.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return store;
}

function etagOf(bytes: Buffer): string {
  return `"${createHash('sha256').update(bytes).digest('hex').slice(0, 20)}"`;
}
