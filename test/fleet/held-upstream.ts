// An OpenAI-shaped upstream on 127.0.0.1 whose streams the test holds open: each streamed chat
// completion sends its first chunk, then waits until the test releases it (release()) before it
// sends the rest and `data: [DONE]`; the model `hang-stream` is never released. Non-streamed
// completions answer at once. It checks the root key and records what it received.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HeldUpstream {
  url: string;
  /** Models of the requests received, in order. */
  received: string[];
  /** Streams that sent their first chunk and wait to be released. */
  held: number;
  /** Streams whose connection closed before they were finished. */
  aborted: number;
  /** Sends the rest of every held stream (except hang-stream). */
  release(): void;
  close(): Promise<void>;
}

const chunk = (model: string, content: string, finish: string | null = null): string =>
  `data: ${JSON.stringify({ id: 'chunk-1', object: 'chat.completion.chunk', created: 1_700_000_000, model, choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;

export async function startHeldUpstream(rootKey: string): Promise<HeldUpstream> {
  const waiting: (() => void)[] = [];
  const state = { received: [] as string[], held: 0, aborted: 0 };
  const answer = (req: IncomingMessage, res: ServerResponse, body: { model?: unknown; stream?: unknown }): void => {
    if (req.headers.authorization !== `Bearer ${rootKey}`) {
      res.writeHead(401, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ error: { message: 'Incorrect API key provided.', code: 'invalid_api_key' } }));
    }
    const model = String(body.model);
    state.received.push(model);
    if (body.stream !== true) {
      res.writeHead(200, { 'content-type': 'application/json' });
      const message = { role: 'assistant', content: `${model} says hi` };
      return void res.end(
        JSON.stringify({ id: 'cmpl-1', object: 'chat.completion', created: 1_700_000_000, model, choices: [{ index: 0, message, finish_reason: 'stop' }] }),
      );
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk(model, 'first '));
    state.held += 1;
    res.on('close', () => {
      if (!res.writableFinished) state.aborted += 1;
    });
    if (model === 'hang-stream') return;
    waiting.push(() => {
      if (res.destroyed) return;
      res.write(chunk(model, 'second'));
      res.write(chunk(model, '', 'stop'));
      res.end('data: [DONE]\n\n');
    });
  };
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      let body = {};
      try {
        body = JSON.parse(Buffer.concat(parts).toString('utf8')) as object;
      } catch {
        // an empty body is answered like any other
      }
      answer(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(state, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    release() {
      for (const send of waiting.splice(0)) send();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
