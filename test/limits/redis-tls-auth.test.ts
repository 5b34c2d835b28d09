// rediss:// with a password in the URL, as a fleet runs against a managed Redis: a gateway
// process trusting the server's CA (NODE_EXTRA_CA_CERTS) counts there; with a wrong password it
// answers per --limits-on-store-error and never logs the password.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { type APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signingPair, waitFor } from '../support/gateway.ts';
import { withLimits } from '../support/limits.ts';
import { AUDIENCE, buildBundle, mintTestKeys, type TestKeys, writePolicyTree } from '../support/policies.ts';
import { type RedisServer, startRedis } from '../support/redis-server.ts';
import { type ServeProcess, startServeProcess } from '../support/serve-process.ts';
import { scaled } from '../support/time-scale.ts';
import { selfSignedCertificate } from '../support/tls-cert.ts';
import { startUpstream, type Upstream } from '../support/upstream.ts';

const PASSWORD = 'tls-redis-pass-7Q2w9e';
let dir: string;
let redis: RedisServer;
let upstream: Upstream;
let keys: TestKeys;
let serveArgs: string[];
const rootKey = 'sk-tls-redis-0123456789abcdef0123';
const keyVar = `MG_REDIS_TLS_KEY_${process.pid}`;
const running: ServeProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mg-redis-tls-'));
  redis = await startRedis({ password: PASSWORD, tls: { ...selfSignedCertificate(), dir } });
  keys = mintTestKeys();
  upstream = await startUpstream({ openaiKey: rootKey, azureKey: 'unused' });
  const signer = signingPair();
  const policies = join(dir, 'policies');
  await writePolicyTree(policies, keys, { upstreamUrl: upstream.url, azureKeyFile: join(dir, 'none.key'), openaiKeyVar: keyVar });
  await writeFile(
    join(dir, 'bundle.json'),
    await buildBundle(policies, 1, signer.privateKey, (payload) =>
      withLimits(payload, [{ id: 'tls-rpm', models: ['local/gpt-4o-mini'], principals: ['alice'], requests_per_minute: 50 }]),
    ),
  );
  await writeFile(join(dir, 'public.pem'), signer.publicKey.export({ type: 'spki', format: 'pem' }));
  serveArgs = [
    '--bundle',
    join(dir, 'bundle.json'),
    '--public-key',
    join(dir, 'public.pem'),
    '--audience',
    AUDIENCE,
    '--limits-store-timeout',
    `${scaled(3_000)}ms`,
  ];
}, scaled(60_000));

afterAll(async () => {
  for (const gateway of running) await gateway.stop();
  await redis?.stop();
  await upstream?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const ask = (gateway: ServeProcess) =>
  new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: keys.alice, maxRetries: 0, timeout: scaled(15_000) }).chat.completions
    .create({ model: 'local/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
    .withResponse();

describe('when the limits store is rediss:// with a password', () => {
  it('counts in that Redis over TLS', async () => {
    expect(redis.url.startsWith('rediss://')).toBe(true);
    const gateway = await startServeProcess([...serveArgs, '--limits-store', redis.url], { [keyVar]: rootKey, NODE_EXTRA_CA_CERTS: redis.caFile as string });
    running.push(gateway);
    await waitFor(async () => (await fetch(`${gateway.url}/readyz`)).status === 200, scaled(10_000));
    const { response } = await ask(gateway);
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('49');
    expect(await redis.command('KEYS *')).toContain('mg:l:tls-rpm|u-1|requests_per_minute');
  });

  it('refuses (deny) with a wrong password, and logs neither password', async () => {
    const wrong = redis.url.replace(PASSWORD, 'not-the-password-3x');
    const gateway = await startServeProcess([...serveArgs, '--limits-store', wrong], { [keyVar]: rootKey, NODE_EXTRA_CA_CERTS: redis.caFile as string });
    running.push(gateway);
    await waitFor(async () => (await fetch(`${gateway.url}/readyz`)).status === 200, scaled(10_000));
    const refused = await ask(gateway).catch((e: unknown) => e);
    expect((refused as APIError).status).toBe(503);
    expect((refused as APIError).code).toBe('MG_LIMITS_UNAVAILABLE');
    await waitFor(() => gateway.lines.some((l) => l.includes('"event":"limits_store_error"')));
    for (const line of gateway.lines) {
      expect(line).not.toContain('not-the-password-3x');
      expect(line).not.toContain(PASSWORD);
    }
  });
});
