// Usage on every stream, the response half: when the gateway asked for usage on the caller's
// behalf (stream-usage.ts), the provider sends one more event before `data: [DONE]`, a chunk with
// `"choices":[]` and the usage, and adds `"usage":null` to every other chunk. Both are removed
// here, so the caller receives the bytes a direct call would have given, and the usage goes to the
// audit line.
//
// Only whole events are inspected: bytes after the last event boundary wait for the rest of their
// event (a caller's SSE parser cannot use half an event anyway), so an event split across reads,
// or sharing one with `data: [DONE]`, is handled alike. The scans are native Buffer searches for
// two fixed byte strings; an event is parsed only when it holds `"choices":[]`.
import { type Usage, usageOf } from './usage.ts';

const EMPTY = Buffer.alloc(0);
const LF_LF = Buffer.from('\n\n');
const LF_CRLF = Buffer.from('\n\r\n');
const EMPTY_CHOICES = Buffer.from('"choices":[]');
// Compact JSON (OpenAI, Azure, vLLM, llama.cpp): the last member of a chunk, before its closing brace.
const USAGE_NULL = Buffer.from(',"usage":null}');
const USAGE_NULL_MEMBER = USAGE_NULL.length - 1;
const LF = 0x0a;
const CR = 0x0d;
/** An unfinished event longer than this is not a usage chunk: it is let through but for its last bytes. */
const PENDING_MAX = 64 * 1024;
const PENDING_KEEP = 64;

/** Index just past the last event boundary in data at or before `before`, or 0 when there is none. */
function eventStart(data: Buffer, before: number): number {
  const lf = data.lastIndexOf(LF_LF, before);
  const crlf = data.lastIndexOf(LF_CRLF, before);
  return Math.max(lf < 0 ? 0 : lf + 2, crlf < 0 ? 0 : crlf + 3);
}

/** Index just past the first event boundary in data from `from`, or -1. */
function eventEnd(data: Buffer, from: number): number {
  const lf = data.indexOf(LF_LF, from);
  const crlf = data.indexOf(LF_CRLF, from);
  if (lf < 0) return crlf < 0 ? -1 : crlf + 3;
  if (crlf < 0) return lf + 2;
  return Math.min(lf + 2, crlf + 3);
}

/** The usage of an event that is a usage-only chunk (`choices` empty, `usage` an object), else null. */
function usageOnly(event: Buffer): Usage | null {
  let text = '';
  for (const line of event.toString('utf8').split(/\r?\n/)) if (line.startsWith('data:')) text += line.slice(5).trimStart();
  try {
    const value = JSON.parse(text) as { choices?: unknown; usage?: Record<string, unknown> | null };
    if (!Array.isArray(value.choices) || value.choices.length > 0 || typeof value.usage !== 'object' || value.usage === null) return null;
    const usage = value.usage;
    const details = usage.prompt_tokens_details as Record<string, unknown> | null | undefined;
    return usageOf((name) => {
      const n = name === 'cached_tokens' ? details?.cached_tokens : usage[name];
      return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
    });
  } catch {
    return null;
  }
}

/** One stream's filter: what may go to the caller, and the usage it took out. */
export class UsageFilter {
  /** The usage of the removed usage-only chunk, once it has passed. */
  usage: Usage | null = null;
  private pending: Buffer | undefined;

  /** The bytes of chunk (after what was held back before it) that may go to the caller now. */
  pass(chunk: Buffer): Buffer {
    const data = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    let end = eventStart(data, data.length);
    // One very long event: not the usage chunk; let it through but for a tail that may still
    // hold the start of its `,"usage":null}` (so memory and copying stay bounded).
    if (end === 0 && data.length > PENDING_MAX) end = data.length - PENDING_KEEP;
    this.pending = end < data.length ? data.subarray(end) : undefined;
    return end === 0 ? EMPTY : this.clean(data.subarray(0, end));
  }

  /** What is still held back, at the end of the stream (an unfinished last event, as it came). */
  flush(): Buffer {
    const rest = this.pending ?? EMPTY;
    this.pending = undefined;
    return rest;
  }

  /** events without the usage-only event and without each chunk's trailing `,"usage":null`. */
  private clean(events: Buffer): Buffer {
    const cuts: [number, number][] = [];
    for (let at = events.indexOf(EMPTY_CHOICES); at >= 0; at = events.indexOf(EMPTY_CHOICES, at + 1)) {
      const start = eventStart(events, at);
      const end = eventEnd(events, at);
      if (end < 0) break;
      const usage = usageOnly(events.subarray(start, end));
      if (usage === null) continue;
      this.usage = usage;
      cuts.push([start, end]);
      at = end - 1;
    }
    for (let at = events.indexOf(USAGE_NULL); at >= 0; at = events.indexOf(USAGE_NULL, at + 1)) {
      // Only at the end of a data line: the chunk's own member, not one nested deeper.
      const next = events[at + USAGE_NULL.length];
      if (next !== LF && next !== CR) continue;
      if (!cuts.some(([start, end]) => at >= start && at < end)) cuts.push([at, at + USAGE_NULL_MEMBER]);
    }
    if (cuts.length === 0) return events;
    cuts.sort((a, b) => a[0] - b[0]);
    const parts: Buffer[] = [];
    let from = 0;
    for (const [start, end] of cuts) {
      parts.push(events.subarray(from, start));
      from = end;
    }
    parts.push(events.subarray(from));
    return Buffer.concat(parts);
  }
}
