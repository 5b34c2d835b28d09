// Token usage from the end of a response, JSON or SSE: OpenAI puts "usage" last in a JSON body
// and in the final chunk of a stream (stream_options.include_usage), so the proxy keeps only the
// last few chunks instead of parsing the whole body.

export interface Usage {
  /** Every input token, cached or not (OpenAI's meaning; for Anthropic, its three input counts added). */
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /**
   * The input tokens the provider read from its prompt cache (part of prompt_tokens), priced at
   * cached_input_per_1m; absent when none were reported.
   */
  cached_tokens?: number;
}

const USAGE_KEY = Buffer.from('"usage"');
// OpenAI's chat names, the Responses API's and Anthropic's input/output names, and the cache
// counts: OpenAI's prompt_tokens_details.cached_tokens (input_tokens_details in the Responses API,
// both part of the input count) and Anthropic's cache reads and writes (not part of input_tokens).
const FIELD =
  /"(prompt_tokens|completion_tokens|total_tokens|input_tokens|output_tokens|cached_tokens|cache_read_input_tokens|cache_creation_input_tokens)"\s*:\s*(\d+)/g;

/** The usage object reported at the end of `tail`, or null when there is none. */
export function usageFromTail(tail: string): Usage | null {
  const at = tail.lastIndexOf('"usage"');
  if (at < 0) return null;
  const window = tail.slice(at, at + 800);
  if (/^"usage"\s*:\s*null/.test(window)) return null;
  // The first occurrence of each name is the top-level one; nested *_details come later.
  const seen = new Map<string, number>();
  FIELD.lastIndex = 0;
  for (let match = FIELD.exec(window); match !== null; match = FIELD.exec(window)) {
    if (!seen.has(match[1] as string)) seen.set(match[1] as string, Number(match[2]));
  }
  return seen.size === 0 ? null : usageOf((name) => seen.get(name));
}

/**
 * One Usage from a provider's counts, by their names: OpenAI's (prompt_tokens, ...), or the
 * Responses API's and Anthropic's (input_tokens, ...); Anthropic's cache reads and writes are
 * input tokens too, and it reports no total.
 */
export function usageOf(count: (name: string) => number | undefined): Usage {
  const cacheRead = count('cache_read_input_tokens') ?? 0;
  const prompt = (count('prompt_tokens') ?? count('input_tokens') ?? 0) + cacheRead + (count('cache_creation_input_tokens') ?? 0);
  const completion = count('completion_tokens') ?? count('output_tokens') ?? 0;
  const usage: Usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: count('total_tokens') ?? prompt + completion };
  const cached = count('cached_tokens') ?? cacheRead;
  if (cached > 0) usage.cached_tokens = Math.min(cached, prompt);
  return usage;
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
