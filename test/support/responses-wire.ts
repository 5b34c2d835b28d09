// OpenAI's Responses API as the test upstream speaks it (POST /v1/responses): a Response object,
// or the typed event stream (event: + data: lines, response.created ... response.completed with
// the usage), as api.openai.com sends them.
import type { ServerResponse } from 'node:http';

export const RESPONSES_USAGE = {
  input_tokens: 9,
  input_tokens_details: { cached_tokens: 0 },
  output_tokens: 5,
  output_tokens_details: { reasoning_tokens: 0 },
  total_tokens: 14,
};

/** Answers one Responses API call for model (the rewritten name) as OpenAI would. */
export async function answerResponses(body: Record<string, unknown>, model: string, res: ServerResponse): Promise<void> {
  const text = `upstream ${model} says hi`;
  const part = { type: 'output_text', text, annotations: [] };
  const item = { id: 'msg_1', type: 'message', status: 'completed', role: 'assistant', content: [part] };
  const response = (status: string, output: unknown[], usage: unknown): unknown => ({
    id: 'resp_1',
    object: 'response',
    created_at: 1_700_000_000,
    status,
    error: null,
    model,
    output,
    parallel_tool_calls: true,
    usage,
    user: null,
    metadata: {},
  });
  if (body.stream !== true) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(response('completed', [item], RESPONSES_USAGE)));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
  let sequence = 0;
  const event = (value: { type: string } & Record<string, unknown>): boolean =>
    res.write(`event: ${value.type}\ndata: ${JSON.stringify({ ...value, sequence_number: sequence++ })}\n\n`);
  event({ type: 'response.created', response: response('in_progress', [], null) });
  event({ type: 'response.output_item.added', output_index: 0, item: { ...item, status: 'in_progress', content: [] } });
  for (const word of text.split(/(?<= )/)) {
    event({ type: 'response.output_text.delta', item_id: 'msg_1', output_index: 0, content_index: 0, delta: word });
    await new Promise((r) => setImmediate(r));
  }
  event({ type: 'response.output_text.done', item_id: 'msg_1', output_index: 0, content_index: 0, text });
  event({ type: 'response.output_item.done', output_index: 0, item });
  event({ type: 'response.completed', response: response('completed', [item], RESPONSES_USAGE) });
  res.end();
}
