// Bundle download over HTTP redirects (GitHub's releases/latest/download answers 302): bounded,
// https-only (http only on loopback), with the ETag, size cap and fetch error code kept.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadBundle } from '../../runtime/bundle/download.ts';

const BODY = Buffer.from('{"payloadType":"x","payload":"","signatures":[]}');
let server: Server;
let base: string;
const seen: { path: string; ifNoneMatch: string | undefined }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', base);
    seen.push({ path: url.pathname, ifNoneMatch: req.headers['if-none-match'] });
    const hops = /^\/hop\/(\d+)$/.exec(url.pathname);
    if (hops !== null) {
      const left = Number(hops[1]);
      res.writeHead(left === 0 ? 302 : 307, { location: left === 0 ? `${base}/asset?X-Amz-Signature=s3cr3t` : `/hop/${left - 1}` });
      return res.end('redirecting');
    }
    if (url.pathname === '/asset') {
      if (req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304, { etag: '"v1"' });
        return res.end();
      }
      res.writeHead(200, { etag: '"v1"', 'content-length': String(BODY.length) });
      return res.end(BODY);
    }
    if (url.pathname === '/to-plain-http') {
      res.writeHead(302, { location: 'http://bundles.example.com/b.json?X-Amz-Signature=s3cr3t' });
      return res.end();
    }
    if (url.pathname === '/to-ftp') {
      res.writeHead(301, { location: 'ftp://127.0.0.1/b.json' });
      return res.end();
    }
    if (url.pathname === '/no-location') {
      res.writeHead(302);
      return res.end();
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const options: { etag: string | null; maxBytes: number; timeoutMs: number } = { etag: null, maxBytes: 1024, timeoutMs: 2000 };
const fetchFrom = (path: string, extra: Partial<typeof options> = {}) => downloadBundle({ kind: 'http', url: `${base}${path}` }, { ...options, ...extra });

describe('when the bundle URL redirects', () => {
  it('follows relative and absolute redirects to the bytes and keeps the final ETag', async () => {
    await expect(fetchFrom('/hop/4')).resolves.toEqual({ modified: true, bytes: BODY, etag: '"v1"' });
  });

  it('sends If-None-Match on every hop and reports not-modified on a 304 at the end', async () => {
    seen.length = 0;
    await expect(fetchFrom('/hop/1', { etag: '"v1"' })).resolves.toEqual({ modified: false });
    expect(seen).toEqual([
      { path: '/hop/1', ifNoneMatch: '"v1"' },
      { path: '/hop/0', ifNoneMatch: '"v1"' },
      { path: '/asset', ifNoneMatch: '"v1"' },
    ]);
  });

  it('keeps the size cap after a redirect', async () => {
    await expect(fetchFrom('/hop/0', { maxBytes: 10 })).rejects.toMatchObject({ code: 'MG_BUNDLE_TOO_LARGE' });
  });
});

describe('when the redirects do not end well', () => {
  it('gives up after 5 redirects with MG_BUNDLE_FETCH_FAILED', async () => {
    await expect(fetchFrom('/hop/4')).resolves.toMatchObject({ modified: true });
    await expect(fetchFrom('/hop/5')).rejects.toMatchObject({ code: 'MG_BUNDLE_FETCH_FAILED', message: 'the bundle host redirected more than 5 times' });
  });

  it('refuses plain http:// off loopback and other schemes, without repeating the target URL', async () => {
    const plain = fetchFrom('/to-plain-http');
    await expect(plain).rejects.toMatchObject({ code: 'MG_BUNDLE_FETCH_FAILED' });
    await expect(plain).rejects.toThrow(/redirected to plain http:\/\//);
    await plain.catch((error: Error) => expect(error.message).not.toMatch(/s3cr3t|example\.com/));
    await expect(fetchFrom('/to-ftp')).rejects.toThrow(/a ftp: URL; only https:\/\/ is followed/);
    await expect(fetchFrom('/no-location')).rejects.toThrow(/without a Location/);
  });
});
