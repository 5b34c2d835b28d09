// https://URL: one PUT of the envelope, as presigned object-store URLs (S3, GCS, Azure SAS) take it.
// A PUT cannot read what is there, so ordering needs --current (a URL to GET the live bundle); the
// runtime's rollback refusal (MG_BUNDLE_ROLLBACK) is the backstop either way.
import { request } from 'undici';
import { type Destination, redactUrl } from './destination.ts';
import { readPublished } from './envelope.ts';
import { PublishError, type Published } from './errors.ts';
import { decidePublish } from './order.ts';

export interface HttpsPutOptions {
  /** Where the published bundle can be read back (the URL runtimes poll), to compare serials. */
  current: URL | null;
  timeoutMs: number;
  /** Reading the current bundle stops here (the runtime's cap is 4 MiB by default). */
  maxBytes?: number;
}

/** https://URL: a PUT to a (presigned) URL. */
export function httpsPutDestination(url: URL, options: HttpsPutOptions): Destination {
  const display = redactUrl(url);
  return {
    display,
    async publish(bundle) {
      const current = options.current === null ? null : await readCurrent(options.current, options);
      const decision = decidePublish(bundle, current, options.current === null ? display : redactUrl(options.current));
      const pollUrl = options.current === null ? null : redactUrl(options.current);
      if (decision === 'unchanged') return { status: 'unchanged', previous: current, pollUrl, notes: [] };
      await put(url, bundle.bytes, options.timeoutMs);
      const notes = options.current === null ? ['no --current URL: the serial was not compared with what was there (runtimes refuse a rollback)'] : [];
      return { status: 'published', previous: current, pollUrl, notes };
    },
  };
}

async function put(url: URL, bytes: Buffer, timeoutMs: number): Promise<void> {
  const display = redactUrl(url);
  let response;
  try {
    response = await request(url, {
      method: 'PUT',
      body: bytes,
      headers: { 'content-type': 'application/json', 'content-length': String(bytes.length) },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  } catch (error) {
    throw new PublishError('MG_PUBLISH_DESTINATION_FAILED', `PUT ${display} failed (${(error as { code?: string }).code ?? 'network error'})`, {
      cause: error,
    });
  }
  const text = await response.body.text().catch(() => '');
  if (response.statusCode < 200 || response.statusCode > 299) {
    // Object stores explain refusals in XML; only the short code is repeated (S3's messages can
    // quote the canonical request, query string included).
    const code = /<Code>([A-Za-z0-9.]{1,64})<\/Code>/.exec(text)?.[1];
    throw new PublishError(
      'MG_PUBLISH_DESTINATION_FAILED',
      `PUT ${display} answered HTTP ${response.statusCode}${code === undefined ? '' : ` (${code})`}${response.statusCode === 403 ? '; a presigned URL may have expired or been signed for another content-type' : ''}`,
    );
  }
}

async function readCurrent(url: URL, { timeoutMs, maxBytes = 4 * 1024 * 1024 }: HttpsPutOptions): Promise<Published | null> {
  const display = redactUrl(url);
  let response;
  try {
    response = await request(url, { method: 'GET', headers: { accept: 'application/json' }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  } catch (error) {
    throw new PublishError('MG_PUBLISH_DESTINATION_FAILED', `GET ${display} failed (${(error as { code?: string }).code ?? 'network error'})`, {
      cause: error,
    });
  }
  // Not there yet (S3 answers 403 for a missing key without ListBucket, so only 404 means "empty").
  if (response.statusCode === 404) {
    response.body.resume();
    return null;
  }
  if (response.statusCode !== 200) {
    response.body.resume();
    throw new PublishError('MG_PUBLISH_DESTINATION_FAILED', `GET ${display} (--current) answered HTTP ${response.statusCode}`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of response.body) {
    total += (chunk as Buffer).length;
    if (total > maxBytes) {
      response.body.destroy();
      throw new PublishError('MG_PUBLISH_CURRENT_UNREADABLE', `GET ${display} (--current) is larger than ${maxBytes} bytes; not a bundle`);
    }
    chunks.push(chunk as Buffer);
  }
  return readPublished(Buffer.concat(chunks, total), display);
}
