// Audit logs as lines, in constant memory: files, gzip files (recognized by their magic bytes,
// whatever their name) and stdin ("-"), one after the other. A line longer than LINE_MAX is
// not kept whole: it is reported once as overlong and skipped up to its newline.
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/** Longer than any audit line (each caller-chosen field is bounded): 1 MiB. */
export const LINE_MAX = 1024 * 1024;
const NEWLINE = 0x0a;

export interface LineSink {
  line(text: string): void;
  overlong(): void;
}

/** The raw bytes of an input, decompressed when they start with gzip's magic bytes. */
async function* decoded(source: Readable): AsyncGenerator<Buffer> {
  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await iterator.next();
  if (first.done === true) return;
  const head = first.value;
  async function* all(): AsyncGenerator<Buffer> {
    yield head;
    for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) yield next.value;
  }
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    const gunzip = createGunzip();
    // The compressed bytes are fed as gunzip asks for them (backpressure through pipe-like writes).
    const feed = (async () => {
      try {
        for await (const chunk of all()) if (!gunzip.write(chunk)) await new Promise((r) => gunzip.once('drain', r));
        gunzip.end();
      } catch (error) {
        gunzip.destroy(error as Error);
      }
    })();
    yield* gunzip as AsyncIterable<Buffer>;
    await feed;
  } else yield* all();
}

/**
 * Sends every line of input (a path, or "-" for stdin) to sink. Lines are cut at "\n" (a "\r"
 * before it is dropped by the reader of the line: JSON.parse ignores it); a last line without a
 * newline is a line. onBytes gets the count of decoded bytes after each chunk (for progress).
 */
export async function readLines(input: string, sink: LineSink, onBytes?: (bytes: number) => void): Promise<void> {
  const source = input === '-' ? process.stdin : createReadStream(input, { highWaterMark: 1024 * 1024 });
  let carry: Buffer | null = null;
  let skipping = false;
  for await (const chunk of decoded(source)) {
    onBytes?.(chunk.length);
    let from = 0;
    for (let nl = chunk.indexOf(NEWLINE, from); nl >= 0; nl = chunk.indexOf(NEWLINE, from)) {
      if (skipping) skipping = false;
      else if (carry !== null) sink.line(Buffer.concat([carry, chunk.subarray(from, nl)]).toString('utf8'));
      else emitRange(chunk, from, nl, sink);
      carry = null;
      from = nl + 1;
    }
    if (from < chunk.length && !skipping) {
      const rest = chunk.subarray(from);
      carry = carry === null ? Buffer.from(rest) : Buffer.concat([carry, rest]);
      if (carry.length > LINE_MAX) {
        sink.overlong();
        carry = null;
        skipping = true;
      }
    }
  }
  if (carry !== null && !skipping) sink.line(carry.toString('utf8'));
}

function emitRange(chunk: Buffer, from: number, to: number, sink: LineSink): void {
  if (to - from > LINE_MAX) return sink.overlong();
  sink.line(chunk.toString('utf8', from, to));
}
