// Token usage of an Anthropic Messages stream: the input tokens are reported once, in the first
// event (message_start's message.usage), and the output tokens at the end (message_delta's usage,
// cumulative). A JSON answer has both at its end and goes through usageFromTail like the others.
// Cache reads and writes are input tokens too (usage.ts).
// https://docs.anthropic.com/en/docs/build-with-claude/streaming
import { type Usage, usageFromTail } from './usage.ts';

const USAGE_KEY = Buffer.from('"usage"');

/** The usage of a Messages stream from its first bytes (message_start) and its tail (message_delta). */
export function messagesStreamUsage(first: Buffer | undefined, tail: string): Usage | null {
  const at = first === undefined ? -1 : first.indexOf(USAGE_KEY);
  const start = at < 0 ? null : usageFromTail((first as Buffer).toString('latin1', at, at + 800));
  const end = usageFromTail(tail);
  if (start === null) return end;
  if (end === null) return start;
  // message_delta's usage may repeat the input counts (newer API versions) and always has the final output count.
  const prompt = Math.max(start.prompt_tokens, end.prompt_tokens);
  const completion = Math.max(start.completion_tokens, end.completion_tokens);
  const usage: Usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  const cached = Math.max(start.cached_tokens ?? 0, end.cached_tokens ?? 0);
  if (cached > 0) usage.cached_tokens = cached;
  return usage;
}
