// Audit logs as lines, in constant memory: files, gzip files (recognized by their magic bytes,
// whatever their name) and stdin ("-"), one after the other. A line longer than LINE_MAX is
// not kept whole: it is reported once as overlong and skipped up to its newline.
import { isAscii } from 'node:buffer';
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
 * before it stays: JSON.parse ignores it); a last line without a newline is a line. Each read is
 * decoded once, up to its last newline, and its lines are slices of that text (no copy per
 * line); the bytes after the last newline wait for the next read. onBytes gets the count of
 * decoded bytes after each read (for progress).
 */
export async function readLines(input: string, sink: LineSink, onBytes?: (bytes: number) => void): Promise<void> {
  const source = input === '-' ? process.stdin : createReadStream(input, { highWaterMark: 1024 * 1024 });
  let carry: Buffer | null = null;
  /** The current line is over LINE_MAX: reported once, skipped up to its newline. */
  let skipping = false;
  for await (const chunk of decoded(source)) {
    onBytes?.(chunk.length);
    const lastNewline = chunk.lastIndexOf(NEWLINE);
    if (lastNewline < 0) {
      if (skipping) continue;
      carry = carry === null ? Buffer.from(chunk) : Buffer.concat([carry, chunk]);
      if (carry.length > LINE_MAX) {
        sink.overlong();
        carry = null;
        skipping = true;
      }
      continue;
    }
    // The line begun in an earlier read is finished on its own, so that the read is decoded in
    // place rather than copied after it.
    let start = 0;
    if (carry !== null || skipping) {
      const firstNewline = chunk.indexOf(NEWLINE);
      if (skipping) skipping = false;
      else if (carry !== null) emitLine(Buffer.concat([carry, chunk.subarray(0, firstNewline)]), sink);
      start = firstNewline + 1;
    }
    carry = lastNewline + 1 < chunk.length ? Buffer.from(chunk.subarray(lastNewline + 1)) : null;
    if (start > lastNewline) continue;
    const text = decode(chunk, start, lastNewline);
    let from = 0;
    while (from <= text.length) {
      let end = text.indexOf('\n', from);
      if (end < 0) end = text.length;
      if (end - from > LINE_MAX) sink.overlong();
      else sink.line(text.slice(from, end));
      from = end + 1;
    }
  }
  if (carry !== null && !skipping) emitLine(carry, sink);
}

function emitLine(bytes: Buffer, sink: LineSink): void {
  if (bytes.length > LINE_MAX) sink.overlong();
  else sink.line(bytes.toString('utf8'));
}

/** bytes[start, end) as text: ASCII (audit lines nearly always are) is copied as it is, faster than UTF-8 decoding. */
function decode(bytes: Buffer, start: number, end: number): string {
  const part = bytes.subarray(start, end);
  return isAscii(part) ? part.toString('latin1') : part.toString('utf8');
}
