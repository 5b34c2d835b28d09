// The caller's credential never travels upstream, however it was presented: a provider sees only
// the gateway's own header set with the account's root key (runtime/providers/http-send.ts).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, type World } from '../support/world.ts';

let world: World;
beforeAll(async () => {
  world = await createWorld();
  // An OpenAI-compatible account on the same recording upstream (same root key variable), granted to alice.
  const local = (await readFile(join(world.policies, 'providers/local.yaml'), 'utf8')).split('\n');
  const compat = `name: compat\ntype: openai-compatible\n${local.find((l) => l.startsWith('base_url:'))}\n${local.find((l) => l.startsWith('secret:'))}\nmodels:\n  - name: gpt-4o-mini\n`;
  await world.publish(2, { extraProviders: { 'compat.yaml': compat }, extraRules: '  - models: ["compat/*"]\n    users: [alice]\n' });
  expect(await world.gateway.lifecycle.refresh()).toBe('activated');
});
afterAll(async () => {
  await world?.close();
});

const models: [string, string, (w: World) => Record<string, string>][] = [
  ['OpenAI', 'local/gpt-4o-mini', (w) => ({ authorization: `Bearer ${w.rootKeys.openai}` })],
  ['Azure OpenAI', 'azure/gpt-4o', (w) => ({ 'api-key': w.rootKeys.azure })],
  ['OpenAI-compatible', 'compat/gpt-4o-mini', (w) => ({ authorization: `Bearer ${w.rootKeys.openai}` })],
];

describe.each(models)('when the caller sends x-api-key for an %s account', (_type, model, rootAuth) => {
  it('sends the root key and neither x-api-key nor the caller key upstream', async () => {
    const before = world.upstream.received.length;
    const res = await fetch(`${world.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'x-api-key': world.keys.alice, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    expect(world.upstream.received.length).toBe(before + 1);
    const sent = world.upstream.received.at(-1)?.headers ?? {};
    expect(sent['x-api-key']).toBeUndefined();
    expect(sent).toMatchObject(rootAuth(world));
    expect(JSON.stringify(sent)).not.toContain(world.keys.alice);
    expect(JSON.stringify(sent)).not.toContain(world.keys.alice.split('_')[2]);
  });
});
