// Stage 1 of the bundle lifecycle: fetch the envelope bytes, nothing more (OPA's download/).
// The size cap is enforced while reading, so an oversized or endless bundle never fills memory.
import { open } from 'node:fs/promises';
import { setImmediate } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Dispatcher } from 'undici';
import { BundleError } from '../../schemas/bundle/bundle-error.ts';
import { isLoopbackHost } from '../../schemas/formats/loopback.ts';

export type BundleSource = { kind: 'file'; path: string } | { kind: 'http'; url: string };

export type Download = { modified: false } | { modified: true; bytes: Buffer; etag: string | null };

export interface DownloadOptions {
  /** The ETag of the active bundle (only set once that bundle activated). */
  etag: string | null;
  maxBytes: number;
  timeoutMs: number;
  dispatcher?: Dispatcher;
}

/** Parses --bundle: a path, file://, https://, or http:// on a loopback host (tests, sidecars). */
export function parseBundleSource(text: string): BundleSource | { problem: string } {
  if (text.startsWith('file://')) {
    try {
      return { kind: 'file', path: fileURLToPath(text) };
    } catch {
      return { problem: `--bundle ${text} is not a valid file:// URL` };
    }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return { problem: `--bundle ${text} is not a valid URL` };
    }
    if (url.protocol === 'https:') return { kind: 'http', url: url.href };
    if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return { kind: 'http', url: url.href };
    if (url.protocol === 'http:') return { problem: '--bundle over plain http:// is only allowed on a loopback host; use https://' };
    return { problem: `--bundle scheme ${url.protocol} is not supported (use a path, file://, or https://)` };
  }
  return { kind: 'file', path: text };
}

/** Fetches the bundle unless it is unchanged since `etag`. Throws BundleError. */
export async function downloadBundle(source: BundleSource, options: DownloadOptions): Promise<Download> {
  return source.kind === 'file' ? readFileSource(source.path, options) : fetchHttpSource(source.url, options);
}

// A file's "ETag" is its size and mtime: an unchanged file is not re-read or re-verified.
async function readFileSource(path: string, { etag, maxBytes }: DownloadOptions): Promise<Download> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw new BundleError('MG_BUNDLE_FETCH_FAILED', `cannot open the bundle file (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
  }
  try {
    const info = await handle.stat();
    const tag = `"${info.size}-${Math.trunc(info.mtimeMs)}"`;
    if (etag !== null && tag === etag) return { modified: false };
    if (info.size > maxBytes) throw tooLarge(maxBytes);
    const sink = new ByteSink(info.size);
    for await (const chunk of handle.createReadStream({ autoClose: false, highWaterMark: 64 * 1024 })) {
      // The file may grow between stat and read: count while reading too.
      if (sink.length + (chunk as Buffer).length > maxBytes) throw tooLarge(maxBytes);
      sink.add(chunk as Buffer);
      await sink.pace();
    }
    return { modified: true, bytes: sink.bytes(), etag: tag };
  } finally {
    await handle.close();
  }
}

// GitHub's releases/latest/download/NAME answers 302 to the asset, which answers 302 to storage:
// follow a few redirects by hand so that each hop passes the same scheme rule as --bundle.
const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

async function fetchHttpSource(url: string, { etag, maxBytes, timeoutMs, dispatcher }: DownloadOptions): Promise<Download> {
  // Loaded on the first HTTP download, not with this module: the activation worker (which imports
  // it) then starts without undici's half a megabyte of code when it activates bytes it was given
  // (a boot from the cache, npm run bench:compile: about 100 ms less per activation there).
  // Through `default` (module.exports): node gives a CommonJS module's named exports to import(),
  // esbuild's bundle (dist/) gives only the default.
  const { request } = (await import('undici')).default;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (etag !== null) headers['if-none-match'] = etag;
  let response: Dispatcher.ResponseData;
  let target = url;
  for (let hops = 0; ; hops++) {
    try {
      response = await request(target, { method: 'GET', headers, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, ...(dispatcher ? { dispatcher } : {}) });
    } catch (error) {
      throw new BundleError('MG_BUNDLE_FETCH_FAILED', `cannot fetch the bundle (${(error as { code?: string }).code ?? 'network error'})`, { cause: error });
    }
    if (!REDIRECTS.has(response.statusCode)) break;
    // dump() reads a small body to keep the connection reusable, and never throws unhandled.
    await response.body.dump().catch(() => {});
    if (hops === MAX_REDIRECTS) throw new BundleError('MG_BUNDLE_FETCH_FAILED', `the bundle host redirected more than ${MAX_REDIRECTS} times`);
    target = redirectTarget(target, response.headers.location);
  }
  const { statusCode, body } = response;
  if (statusCode === 304) {
    body.resume();
    return { modified: false };
  }
  if (statusCode !== 200) {
    body.resume();
    throw new BundleError('MG_BUNDLE_FETCH_FAILED', `the bundle host answered HTTP ${statusCode}`);
  }
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    // Destroying an unread undici body emits RequestAbortedError: without a listener it is uncaught.
    body.on('error', () => {});
    body.destroy();
    throw tooLarge(maxBytes);
  }
  const sink = new ByteSink(Number.isFinite(declared) ? declared : 0);
  try {
    for await (const chunk of body) {
      if (sink.length + (chunk as Buffer).length > maxBytes) {
        body.destroy();
        throw tooLarge(maxBytes);
      }
      sink.add(chunk as Buffer);
      await sink.pace();
    }
  } catch (error) {
    if (error instanceof BundleError) throw error;
    throw new BundleError('MG_BUNDLE_FETCH_FAILED', 'the bundle download was cut off', { cause: error });
  }
  const tag = response.headers.etag;
  return { modified: true, bytes: sink.bytes(), etag: typeof tag === 'string' ? tag : null };
}

// Redirect targets are often presigned storage URLs: the messages never include them.
function redirectTarget(from: string, location: string | string[] | undefined): string {
  if (typeof location !== 'string' || location === '')
    throw new BundleError('MG_BUNDLE_FETCH_FAILED', 'the bundle host answered a redirect without a Location');
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    throw new BundleError('MG_BUNDLE_FETCH_FAILED', 'the bundle host redirected to an invalid URL');
  }
  if (next.protocol === 'https:' || (next.protocol === 'http:' && isLoopbackHost(next.hostname) && new URL(from).protocol === 'http:')) return next.href;
  throw new BundleError(
    'MG_BUNDLE_FETCH_FAILED',
    `the bundle host redirected to ${next.protocol === 'http:' ? 'plain http://' : `a ${next.protocol} URL`}; only https:// is followed (http:// only from http:// on a loopback host)`,
  );
}

/**
 * Collects a body into one buffer of the announced size, chunk by chunk: the copying (and, on
 * some machines, the page faults of a fresh 30 MB buffer, which held the event loop for up to a
 * second in one Buffer.concat) is spread over the chunks' arrival. A buffer filled exactly is
 * handed on whole, so activation can move it to its worker thread instead of copying it.
 * Chunks that arrive together (a fast host fills the socket's buffer) are copied in one go by the
 * read loop, with no turn of the event loop in between: pace() yields one every PACE_BYTES, so
 * requests wait a few milliseconds at most (30 ms streaks before, in npm run bench:swap).
 */
class ByteSink {
  length = 0;
  #sincePause = 0;
  #buffer: Buffer | null;
  #chunks: Buffer[] = [];
  constructor(expected: number) {
    this.#buffer = expected > 0 ? Buffer.allocUnsafeSlow(expected) : null;
  }
  add(chunk: Buffer): void {
    if (this.#buffer !== null && this.length + chunk.length <= this.#buffer.length) {
      chunk.copy(this.#buffer, this.length);
    } else {
      // More than announced (or nothing announced): keep chunks, joined at the end.
      if (this.#buffer !== null) this.#chunks.push(this.#buffer.subarray(0, this.length));
      this.#buffer = null;
      this.#chunks.push(chunk);
    }
    this.length += chunk.length;
    this.#sincePause += chunk.length;
  }
  /** Lets the event loop run once every PACE_BYTES added. */
  async pace(): Promise<void> {
    if (this.#sincePause < PACE_BYTES) return;
    this.#sincePause = 0;
    await setImmediate();
  }
  bytes(): Buffer {
    if (this.#buffer !== null) return this.length === this.#buffer.length ? this.#buffer : this.#buffer.subarray(0, this.length);
    return Buffer.concat(this.#chunks, this.length);
  }
}

const PACE_BYTES = 256 * 1024;

function tooLarge(maxBytes: number): BundleError {
  return new BundleError('MG_BUNDLE_TOO_LARGE', `the bundle is larger than the ${maxBytes}-byte cap`);
}
