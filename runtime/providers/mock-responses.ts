// The mock provider's answers to OpenAI's Responses API (POST /v1/responses): a Response object,
// or its typed event stream (response.created ... response.completed), deterministic like the
// rest of the mock. https://platform.openai.com/docs/api-reference/responses
import type { MockReply } from './mock.ts';

const CREATED = 1_700_000_000;

/** The mock's answer to a Responses API call: text computed from the input, usage in input/output tokens. */
export function responsesReply(json: Record<string, unknown>, model: string, id: string, stream: boolean): MockReply {
  const prompt = inputText(json.input);
  const text = `This is a mock answer from ${model}: ${prompt.length} characters received.`;
  const inputTokens = Math.max(1, Math.ceil(prompt.length / 4));
  const outputTokens = text.split(' ').length;
  const messageId = `msg_mock_${id}`;
  const part = { type: 'output_text', text, annotations: [] };
  const item = { type: 'message', id: messageId, status: 'completed', role: 'assistant', content: [part] };
  const response = (status: string, output: unknown[], usage: unknown): Record<string, unknown> => ({
    id: `resp_mock_${id}`,
    object: 'response',
    created_at: CREATED,
    status,
    model,
    output,
    usage,
  });
  const usage = { input_tokens: inputTokens, output_tokens: outputTokens, total_tokens: inputTokens + outputTokens };
  if (!stream)
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, chunks: [Buffer.from(JSON.stringify(response('completed', [item], usage)))] };

  const events: Record<string, unknown>[] = [
    { type: 'response.created', response: response('in_progress', [], null) },
    { type: 'response.output_item.added', output_index: 0, item: { ...item, status: 'in_progress', content: [] } },
    { type: 'response.content_part.added', item_id: messageId, output_index: 0, content_index: 0, part: { ...part, text: '' } },
  ];
  for (const word of text.split(/(?<= )/))
    events.push({ type: 'response.output_text.delta', item_id: messageId, output_index: 0, content_index: 0, delta: word });
  events.push(
    { type: 'response.output_text.done', item_id: messageId, output_index: 0, content_index: 0, text },
    { type: 'response.content_part.done', item_id: messageId, output_index: 0, content_index: 0, part },
    { type: 'response.output_item.done', output_index: 0, item },
    { type: 'response.completed', response: response('completed', [item], usage) },
  );
  const chunks = events.map((event, i) => Buffer.from(`event: ${event.type}\ndata: ${JSON.stringify({ ...event, sequence_number: i })}\n\n`));
  return { statusCode: 200, headers: { 'content-type': 'text/event-stream' }, chunks };
}

/** The text of a Responses input: a string, or the text parts of its input items. */
function inputText(input: unknown): string {
  if (typeof input === 'string') return input;
  if (!Array.isArray(input)) return '';
  const texts: string[] = [];
  for (const item of input) {
    const content = (item as { content?: unknown } | null)?.content;
    if (typeof content === 'string') texts.push(content);
    else if (Array.isArray(content))
      for (const part of content) if (typeof (part as { text?: unknown } | null)?.text === 'string') texts.push((part as { text: string }).text);
  }
  return texts.join('\n');
}
