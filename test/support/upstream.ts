// A local OpenAI- and Azure-OpenAI-shaped upstream on 127.0.0.1 for the gateway tests. It checks
// the root key it expects, records what it received, and misbehaves on request by model name:
//   slow-*          waits delayMs before answering, or until the caller leaves (timeouts)
//   broken-stream   sends two SSE chunks, then drops the connection
//   hang-stream     sends one SSE chunk and never finishes (client abort)
//   leaky-error     answers 500 with the root key and a key-shaped string in the message
//   rate-limited    answers 429 with retry-after
//   firehose        streams ~64 MB honouring its own backpressure; bytes written go to firehoseBytes
//   root-key-refused answers 401 as if the root key had been rotated away
//   split-usage     streams with its usage chunk (when asked for) split across two writes
//   cached-prompt   reports 10 of its 11 prompt tokens as read from the prompt cache
// OpenAI-shaped paths accept any bearer key in `openaiKeys` (tests rotate keys by editing the set).
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerResponses } from './responses-wire.ts';

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

export interface Upstream {
  url: string;
  received: ReceivedRequest[];
  /** Requests whose connection closed before the upstream finished answering. */
  aborted: string[];
  /** Requests currently being answered. */
  open: Set<string>;
  delayMs: number;
  firehoseBytes: number;
  /** Bearer keys accepted on OpenAI-shaped paths: openaiKey and extraOpenaiKeys at start. */
  openaiKeys: Set<string>;
  close(): Promise<void>;
}

export interface UpstreamOptions {
  /** Bearer key expected on OpenAI-shaped paths. */
  openaiKey: string;
  /** More bearer keys accepted on OpenAI-shaped paths. */
  extraOpenaiKeys?: string[];
  /** api-key header expected on Azure-shaped paths. */
  azureKey: string;
  azureApiVersion?: string;
}

const CREATED = 1_700_000_000;

export async function startUpstream(options: UpstreamOptions): Promise<Upstream> {
  const state = {
    received: [] as ReceivedRequest[],
    aborted: [] as string[],
    open: new Set<string>(),
    delayMs: 2000,
    firehoseBytes: 0,
    openaiKeys: new Set([options.openaiKey, ...(options.extraOpenaiKeys ?? [])]),
  };
  let counter = 0;
  const server: Server = createServer((req, res) => {
    const id = `u${++counter}`;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        // keep {}
      }
      state.received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      state.open.add(id);
      res.on('close', () => {
        state.open.delete(id);
        if (!res.writableFinished) state.aborted.push(id);
      });
      void answer(req.url ?? '', req.headers, body, res);
    });
  });

  const answer = async (url: string, headers: IncomingHttpHeaders, body: Record<string, unknown>, res: import('node:http').ServerResponse): Promise<void> => {
    const azure = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|completions|embeddings)\?api-version=([^&]+)$/.exec(url);
    const openai = /^\/v1\/(chat\/completions|completions|embeddings|responses)$/.exec(url);
    const json = (status: number, value: unknown, extra: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'application/json', ...extra });
      res.end(JSON.stringify(value));
    };
    // Azure's v1 Responses API: one path, the deployment in the body's model, no api-version.
    const azureV1 = url === '/openai/v1/responses';
    if (azure || azureV1) {
      if (headers['api-key'] !== options.azureKey || headers.authorization !== undefined)
        return json(401, { error: { code: '401', message: 'Access denied due to invalid subscription key.' } });
      if (azure && options.azureApiVersion !== undefined && azure[3] !== options.azureApiVersion)
        return json(404, { error: { code: 'DeploymentNotFound', message: 'wrong api-version' } });
    } else if (openai) {
      if (!state.openaiKeys.has(/^Bearer (.+)$/.exec(headers.authorization ?? '')?.[1] ?? ''))
        return json(401, { error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' } });
    } else {
      return json(404, { error: { message: `no route ${url}` } });
    }
    const operation = azureV1 ? 'responses' : ((azure?.[2] ?? openai?.[1]) as string);
    const model = azure ? (azure[1] as string) : String(body.model);
    if (model.startsWith('slow')) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, state.delayMs);
        res.on('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    if (res.destroyed) return;
    if (model === 'leaky-error')
      return json(500, {
        error: { message: `internal failure using key ${options.openaiKey} (also tried sk-proj-abcdefghijklmnopqrstuvwx)`, type: 'server_error', code: 'boom' },
      });
    if (model === 'root-key-refused')
      return json(401, {
        error: { message: `Incorrect API key provided: ${options.openaiKey.slice(0, 7)}****`, type: 'invalid_request_error', code: 'invalid_api_key' },
      });
    if (model === 'rate-limited')
      return json(
        429,
        { error: { message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded' } },
        { 'retry-after': '7', 'x-ratelimit-remaining-requests': '0', 'set-cookie': 'upstream=secret' },
      );
    if (operation === 'responses') return answerResponses(body, model, res);
    if (operation === 'embeddings') {
      const inputs = Array.isArray(body.input) ? body.input : [body.input];
      const vector = new Float32Array([0.25, -0.5, 0.75]);
      const data = inputs.map((_, index) => ({
        object: 'embedding',
        index,
        embedding: body.encoding_format === 'base64' ? Buffer.from(vector.buffer).toString('base64') : Array.from(vector),
      }));
      return json(200, { object: 'list', data, model, usage: { prompt_tokens: 5, total_tokens: 5 } });
    }
    const chat = operation === 'chat/completions';
    const text = `upstream ${model} says hi`;
    const usage = {
      prompt_tokens: 11,
      completion_tokens: 4,
      total_tokens: 15,
      // cached-prompt: 10 of the 11 input tokens came from OpenAI's prompt cache.
      ...(model === 'cached-prompt' ? { prompt_tokens_details: { cached_tokens: 10, audio_tokens: 0 } } : {}),
      completion_tokens_details: { reasoning_tokens: 0 },
    };
    if (body.stream !== true) {
      const choice = chat ? { index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' } : { index: 0, text, finish_reason: 'stop' };
      return json(
        200,
        { id: 'cmpl-1', object: chat ? 'chat.completion' : 'text_completion', created: CREATED, model, choices: [choice], usage },
        { 'set-cookie': 'upstream=secret', 'x-upstream-internal': 'yes' },
      );
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const event = (value: unknown): boolean => res.write(`data: ${JSON.stringify(value)}\n\n`);
    // As OpenAI does: asked for usage, every chunk carries "usage":null and one more chunk the usage.
    const streamOptions = body.stream_options as { include_usage?: boolean } | undefined;
    const withUsage = streamOptions?.include_usage === true;
    const chunk = (content: string, finish: string | null = null): unknown => ({
      id: 'chunk-1',
      object: chat ? 'chat.completion.chunk' : 'text_completion',
      created: CREATED,
      model,
      choices: [chat ? { index: 0, delta: { content }, finish_reason: finish } : { index: 0, text: content, finish_reason: finish }],
      ...(withUsage ? { usage: null } : {}),
    });
    if (model === 'hang-stream') {
      event(chunk('still '));
      return; // never ends; the test expects the gateway to close this when its caller leaves
    }
    if (model === 'firehose') {
      const line = Buffer.from(`data: ${JSON.stringify(chunk('x'.repeat(8000)))}\n\n`);
      while (state.firehoseBytes < 64 * 1024 * 1024 && !res.destroyed) {
        state.firehoseBytes += line.length;
        if (!res.write(line)) {
          await new Promise<void>((resolve) => {
            const done = (): void => {
              res.off('drain', done);
              res.off('close', done);
              resolve();
            };
            res.on('drain', done);
            res.on('close', done);
          });
        }
      }
      res.end('data: [DONE]\n\n');
      return;
    }
    if (model === 'broken-stream') {
      event(chunk('half '));
      event(chunk('an '));
      setTimeout(() => res.socket?.destroy(), 20);
      return;
    }
    for (const word of text.split(' ')) {
      event(chunk(word + ' '));
      await new Promise((r) => setImmediate(r));
    }
    event(chunk('', 'stop'));
    const usageChunk = `data: ${JSON.stringify({ id: 'chunk-1', object: 'chat.completion.chunk', created: CREATED, model, choices: [], usage })}\n\n`;
    // split-usage: the usage chunk cut in two writes, the second one shared with [DONE].
    if (withUsage && model === 'split-usage') {
      res.write(usageChunk.slice(0, 25));
      await new Promise((r) => setTimeout(r, 5));
      return void res.end(`${usageChunk.slice(25)}data: [DONE]\n\n`);
    }
    if (withUsage) event(JSON.parse(usageChunk.slice(6)));
    res.end('data: [DONE]\n\n');
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
