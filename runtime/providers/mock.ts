// The mock provider: deterministic OpenAI-shaped answers computed in-process, streaming included.
// For offline trials (npm start) and tests; it never touches the network.
import { createHash } from 'node:crypto';
import type { BundleProvider } from '../../schemas/types.generated.ts';
import { responsesReply } from './mock-responses.ts';
import type { Provider, UpstreamCall, UpstreamController, UpstreamHandler } from './provider.ts';

const CREATED = 1_700_000_000;
const MOCK_URL = { origin: 'mock:', path: '/' }; // never requested

/** The in-process mock provider of an account (no network, no key). */
export function createMockProvider(spec: BundleProvider): Provider {
  return {
    name: spec.name,
    type: spec.type,
    secretRef: undefined,
    // The mock answers stream_options.include_usage as OpenAI does.
    streamUsage: spec.stream_usage !== false,
    prepare: (model) => ({ upstream: model.upstream, urls: { chat: MOCK_URL, completions: MOCK_URL, embeddings: MOCK_URL, responses: MOCK_URL } }),
    dispatch: (call, handler) => replay(answer(call), handler),
  };
}

/** A computed answer: status, headers and the chunks of its body. */
export interface MockReply {
  statusCode: number;
  headers: Record<string, string>;
  chunks: Buffer[];
}

/**
 * Hands reply to handler as undici would: onRequestStart now, the answer from the next turn on,
 * one chunk at a time while the handler does not pause, and an abort ends it with an error.
 */
function replay(reply: MockReply, handler: UpstreamHandler): void {
  const controller = new MockReplay(reply, handler);
  handler.onRequestStart?.(controller, {});
  setImmediate(startReply, controller);
}

function startReply(controller: MockReplay): void {
  controller.start();
}

function pumpReply(controller: MockReplay): void {
  controller.pump();
}

/**
 * One replayed answer and its controller. A class: a controller made per call as an object
 * literal with getters made its requests' objects outlive them (about a quarter of all that the
 * gateway allocated survived young collections, measured with --trace-gc-nvp; with the class, a
 * twentieth), and bench:swap drives its traffic through this provider.
 */
class MockReplay implements UpstreamController {
  private next = 0;
  paused = false;
  private over = false;
  reason: Error | null = null;

  constructor(
    private readonly reply: MockReply,
    private readonly handler: UpstreamHandler,
  ) {}

  get aborted(): boolean {
    return this.reason !== null;
  }

  start(): void {
    if (this.over) return;
    this.handler.onResponseStart?.(this, this.reply.statusCode, this.reply.headers, 'OK');
    this.pump();
  }

  pump(): void {
    const { chunks } = this.reply;
    while (!this.over && !this.paused && this.next < chunks.length) this.handler.onResponseData?.(this, chunks[this.next++] as Buffer);
    if (!this.over && !this.paused) {
      this.over = true;
      this.handler.onResponseEnd?.(this, {});
    }
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    setImmediate(pumpReply, this);
  }

  abort(error: Error): void {
    if (this.over) return;
    this.over = true;
    this.reason = error;
    this.handler.onResponseError?.(this, error);
  }
}

function answer(call: UpstreamCall): MockReply {
  const { json } = call;
  const model = call.target.upstream;
  const id = createHash('sha256').update(call.body).digest('hex').slice(0, 16);
  if (call.operation === 'embeddings') return jsonReply(embeddings(json, model));
  if (call.operation === 'responses') return responsesReply(json, model, id, call.stream);
  const prompt = call.operation === 'chat' ? chatPromptText(json.messages) : String(json.prompt ?? '');
  const turns = Array.isArray(json.messages) ? json.messages.length : 1;
  const text = `This is a mock answer from ${model}: ${turns} message(s), ${prompt.length} characters received.`;
  const usage = { prompt_tokens: tokens(prompt), completion_tokens: text.split(' ').length, total_tokens: tokens(prompt) + text.split(' ').length };
  const chat = call.operation === 'chat';
  if (!call.stream) {
    const choice = chat
      ? { index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: 'stop' }
      : { index: 0, text, logprobs: null, finish_reason: 'stop' };
    return jsonReply({
      id: `${chat ? 'chatcmpl' : 'cmpl'}-mock-${id}`,
      object: chat ? 'chat.completion' : 'text_completion',
      created: CREATED,
      model,
      choices: [choice],
      usage,
    });
  }
  const object = chat ? 'chat.completion.chunk' : 'text_completion';
  const base = { id: `${chat ? 'chatcmpl' : 'cmpl'}-mock-${id}`, object, created: CREATED, model };
  const events: unknown[] = [];
  const words = text.split(/(?<= )/);
  if (chat) events.push({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] });
  for (const word of words) {
    events.push({
      ...base,
      choices: [
        chat ? { index: 0, delta: { content: word }, logprobs: null, finish_reason: null } : { index: 0, text: word, logprobs: null, finish_reason: null },
      ],
    });
  }
  events.push({
    ...base,
    choices: [chat ? { index: 0, delta: {}, logprobs: null, finish_reason: 'stop' } : { index: 0, text: '', logprobs: null, finish_reason: 'stop' }],
  });
  const options = json.stream_options as { include_usage?: boolean } | undefined;
  if (options?.include_usage === true) events.push({ ...base, choices: [], usage });
  const lines = events.map((e) => Buffer.from(`data: ${JSON.stringify(e)}\n\n`));
  lines.push(Buffer.from('data: [DONE]\n\n'));
  return { statusCode: 200, headers: { 'content-type': 'text/event-stream' }, chunks: lines };
}

function embeddings(json: Record<string, unknown>, model: string): unknown {
  const inputs = Array.isArray(json.input) ? json.input : [json.input];
  const dims = typeof json.dimensions === 'number' && json.dimensions > 0 && json.dimensions <= 4096 ? json.dimensions : 8;
  const base64 = json.encoding_format === 'base64';
  let prompt = 0;
  const data = inputs.map((input, index) => {
    const text = typeof input === 'string' ? input : JSON.stringify(input);
    prompt += tokens(text);
    const vector = unitVector(text, dims);
    return { object: 'embedding', index, embedding: base64 ? Buffer.from(vector.buffer).toString('base64') : Array.from(vector) };
  });
  return { object: 'list', data, model, usage: { prompt_tokens: prompt, total_tokens: prompt } };
}

// A deterministic unit vector from the text's hash: equal texts embed equally.
function unitVector(text: string, dims: number): Float32Array {
  const out = new Float32Array(dims);
  let seed = createHash('sha256').update(text).digest();
  let norm = 0;
  for (let i = 0; i < dims; i++) {
    if (i > 0 && i % 32 === 0) seed = createHash('sha256').update(seed).digest();
    const v = ((seed[i % 32] as number) - 127.5) / 127.5;
    out[i] = v;
    norm += v * v;
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < dims; i++) out[i] = (out[i] as number) * scale;
  return out;
}

function chatPromptText(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  return messages.map((m) => (typeof (m as { content?: unknown }).content === 'string' ? (m as { content: string }).content : '')).join('\n');
}

const tokens = (text: string): number => Math.max(1, Math.ceil(text.length / 4));

function jsonReply(value: unknown): MockReply {
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, chunks: [Buffer.from(JSON.stringify(value))] };
}
