// Token usage from the end of a response, JSON or SSE: OpenAI puts "usage" last in a JSON body
// and in the final chunk of a stream (stream_options.include_usage), so the proxy keeps only the
// last few chunks instead of parsing the whole body.

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

const USAGE_KEY = Buffer.from('"usage"');
// OpenAI's chat names, and the Responses API's and Anthropic's input/output names (mapped onto them).
const FIELD = /"(prompt_tokens|completion_tokens|total_tokens|input_tokens|output_tokens)"\s*:\s*(\d+)/g;
const CANONICAL: Record<string, keyof Usage> = {
  prompt_tokens: 'prompt_tokens',
  input_tokens: 'prompt_tokens',
  completion_tokens: 'completion_tokens',
  output_tokens: 'completion_tokens',
  total_tokens: 'total_tokens',
};

/** The usage object reported at the end of `tail`, or null when there is none. */
export function usageFromTail(tail: string): Usage | null {
  const at = tail.lastIndexOf('"usage"');
  if (at < 0) return null;
  const window = tail.slice(at, at + 800);
  if (/^"usage"\s*:\s*null/.test(window)) return null;
  const usage: Usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
  let found = false;
  let total = false;
  FIELD.lastIndex = 0;
  for (let match = FIELD.exec(window); match !== null; match = FIELD.exec(window)) {
    const name = CANONICAL[match[1] as string] as keyof Usage;
    // The first occurrence of each name is the top-level one; nested *_details come later.
    if (usage[name] === 0) usage[name] = Number(match[2]);
    if (name === 'total_tokens') total = true;
    found = true;
  }
  // Anthropic reports no total.
  if (found && !total) usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
  return found ? usage : null;
}

/** Keeps references to the last few chunks (no copying on the hot path). */
export class ChunkTail {
  private readonly chunks: Buffer[] = [];
  constructor(private readonly keep = 4) {}
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    if (this.chunks.length > this.keep) this.chunks.shift();
  }
  /**
   * The end of the response from its last "usage" key on (at most 800 bytes of it), or '' when
   * the last maxBytes hold none. The key is found in the bytes, so only that window is decoded;
   * latin1: the usage keys and numbers are ASCII, and latin1 decoding never fails.
   */
  text(maxBytes = 16 * 1024): string {
    const all = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
    const at = all.lastIndexOf(USAGE_KEY);
    if (at < 0 || at < all.length - maxBytes) return '';
    return all.toString('latin1', at, Math.min(all.length, at + 800));
  }
}
