// A local Anthropic Messages API on 127.0.0.1 for the gateway tests: POST /v1/messages (JSON or
// the event stream) and /v1/messages/count_tokens, answering only with the root key in x-api-key
// (and no Authorization header), recording what it received. Misbehaves by model name:
//   overloaded      answers 529 overloaded_error, with the root key in the message
//   broken-stream   sends message_start and one delta, then drops the connection
//   firehose        streams ~64 MB of deltas honouring its own backpressure (firehoseBytes)
//   cached-claude   reports cache reads (100) and writes (20) beside its input tokens
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AnthropicRequest {
  url: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

export interface AnthropicUpstream {
  url: string;
  received: AnthropicRequest[];
  firehoseBytes: number;
  close(): Promise<void>;
}

/** input_tokens in message_start (and JSON answers), output_tokens in message_delta. */
export const ANTHROPIC_USAGE = { input_tokens: 12, output_tokens: 6 };

export async function startAnthropicUpstream(rootKey: string): Promise<AnthropicUpstream> {
  const state = { received: [] as AnthropicRequest[], firehoseBytes: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        // keep {}
      }
      state.received.push({ url: req.url ?? '', headers: req.headers, body });
      void answer(req.url ?? '', req.headers, body, res);
    });
  });

  const error = (res: ServerResponse, status: number, type: string, message: string): void => {
    res.writeHead(status, { 'content-type': 'application/json', 'request-id': 'req_upstream_1' });
    res.end(JSON.stringify({ type: 'error', error: { type, message } }));
  };

  const answer = async (url: string, headers: IncomingHttpHeaders, body: Record<string, unknown>, res: ServerResponse): Promise<void> => {
    const path = url.split('?')[0];
    if (path !== '/v1/messages' && path !== '/v1/messages/count_tokens') return error(res, 404, 'not_found_error', `no route ${url}`);
    if (headers['x-api-key'] !== rootKey || headers.authorization !== undefined) return error(res, 401, 'authentication_error', 'invalid x-api-key');
    if (typeof headers['anthropic-version'] !== 'string') return error(res, 400, 'invalid_request_error', 'anthropic-version: header is required');
    const model = String(body.model);
    if (model === 'overloaded') return error(res, 529, 'overloaded_error', `Overloaded (key ${rootKey} was fine)`);
    if (path === '/v1/messages/count_tokens') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ input_tokens: ANTHROPIC_USAGE.input_tokens }));
    }
    const text = `upstream ${model} says hi`;
    const message = (content: unknown[], usage: unknown, stop: string | null): unknown => ({
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model,
      content,
      stop_reason: stop,
      stop_sequence: null,
      usage,
    });
    // cached-claude: 100 input tokens read from the prompt cache and 20 written to it (Anthropic
    // counts both apart from input_tokens).
    const cache =
      model === 'cached-claude'
        ? { cache_creation_input_tokens: 20, cache_read_input_tokens: 100 }
        : { cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    const fullUsage = { ...ANTHROPIC_USAGE, ...cache };
    if (body.stream !== true) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify(message([{ type: 'text', text }], fullUsage, 'end_turn')));
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
    const event = (value: { type: string } & Record<string, unknown>): boolean => res.write(`event: ${value.type}\ndata: ${JSON.stringify(value)}\n\n`);
    const delta = (piece: string): boolean => event({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: piece } });
    event({ type: 'message_start', message: message([], { ...fullUsage, output_tokens: 1 }, null) });
    event({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    event({ type: 'ping' });
    if (model === 'broken-stream') {
      delta('half ');
      setTimeout(() => res.socket?.destroy(), 20);
      return;
    }
    if (model === 'firehose') {
      const piece = 'x'.repeat(8000);
      while (state.firehoseBytes < 64 * 1024 * 1024 && !res.destroyed) {
        state.firehoseBytes += piece.length;
        if (!delta(piece))
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
    } else {
      for (const word of text.split(/(?<= )/)) {
        delta(word);
        await new Promise((r) => setImmediate(r));
      }
    }
    if (res.destroyed) return;
    event({ type: 'content_block_stop', index: 0 });
    event({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: ANTHROPIC_USAGE.output_tokens } });
    event({ type: 'message_stop' });
    res.end();
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
