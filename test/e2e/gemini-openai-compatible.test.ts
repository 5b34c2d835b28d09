// Google Gemini through its OpenAI-compatible endpoint, configured as docs/providers.md shows
// (type openai-compatible, base_url .../v1beta/openai, the Gemini API key as the secret): a
// recording upstream at that path checks the bearer root key and the rewritten model.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaled } from '../support/time-scale.ts';
import { createWorld, type World } from '../support/world.ts';

let world: World;
let server: Server;
const received: { url: string; headers: IncomingHttpHeaders; body: Record<string, unknown> }[] = [];
const geminiKey = `AIza${randomBytes(17).toString('hex')}`;
const keyVar = `MG_TEST_GEMINI_KEY_${randomBytes(4).toString('hex').toUpperCase()}`;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      received.push({ url: req.url ?? '', headers: req.headers, body });
      res.setHeader('content-type', 'application/json');
      if (req.url !== '/v1beta/openai/chat/completions' || req.headers.authorization !== `Bearer ${geminiKey}`) {
        res.statusCode = 400;
        return res.end(JSON.stringify([{ error: { code: 400, message: 'API key not valid', status: 'INVALID_ARGUMENT' } }]));
      }
      res.end(
        JSON.stringify({
          id: 'gemini-1',
          object: 'chat.completion',
          created: 1_700_000_000,
          model: body.model,
          choices: [{ index: 0, message: { role: 'assistant', content: `gemini ${String(body.model)} says hi` }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env[keyVar] = geminiKey;
  world = await createWorld({
    tree: {
      extraProviders: {
        'gemini.yaml': `name: gemini\ntype: openai-compatible\nbase_url: ${url}/v1beta/openai\nsecret: env://${keyVar}\nmodels:\n  - name: gemini-2.5-flash\n`,
      },
      extraRules: '  - models: ["gemini/*"]\n    users: [alice]\n',
    },
  });
});
afterAll(async () => {
  await world?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  delete process.env[keyVar];
});

describe("when alice calls a Gemini model through Gemini's OpenAI-compatible endpoint", () => {
  it('sends to /v1beta/openai/chat/completions with the Gemini key as the bearer and the model rewritten', async () => {
    const client = new OpenAI({ baseURL: `${world.gateway.url}/v1`, apiKey: world.keys.alice, maxRetries: 0, timeout: scaled(10_000) });
    const completion = await client.chat.completions.create({ model: 'gemini/gemini-2.5-flash', messages: [{ role: 'user', content: 'hello' }] });
    expect(completion.choices[0]?.message.content).toBe('gemini gemini-2.5-flash says hi');
    const sent = received.at(-1)!;
    expect(sent.url).toBe('/v1beta/openai/chat/completions');
    expect(sent.headers.authorization).toBe(`Bearer ${geminiKey}`);
    expect(sent.body.model).toBe('gemini-2.5-flash');
    expect(JSON.stringify(sent.headers)).not.toContain(world.keys.alice);
    expect(world.gateway.logs.entries('request').at(-1)).toMatchObject({
      account: 'gemini',
      usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
    });
  });
});
