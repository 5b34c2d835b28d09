// The operator's allow-lists: a bundle whose providers reference a secret or name a host outside
// them is refused at activation (the active bundle, if any, keeps serving); without them the
// gateway warns at start. Flags and environment variables set them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServeArgs } from '../../runtime/config/parse-args.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { createWorld, type World } from '../support/world.ts';

let world: World;
beforeAll(async () => {
  world = await createWorld();
});
afterAll(async () => {
  await world?.close();
});

async function gatewayWith(allow: { allowSecretRefs?: string[]; allowUpstreamHosts?: string[] }): Promise<TestGateway> {
  return startTestGateway({ bundle: world.bundlePath, publicKeys: [world.signer.publicKey], ...allow });
}

async function readyz(gateway: TestGateway): Promise<{ status: number; body: { bundle: unknown; last_error: { code: string } | null } }> {
  const res = await fetch(`${gateway.url}/readyz`);
  return { status: res.status, body: (await res.json()) as never };
}

describe('when every provider is inside the allow-lists', () => {
  it('activates the bundle and logs no warning', async () => {
    const gateway = await gatewayWith({ allowSecretRefs: ['env://MG_TEST_OPENAI_KEY_', `file://${world.dir}/`], allowUpstreamHosts: ['127.0.0.1'] });
    try {
      expect((await readyz(gateway)).status).toBe(200);
      expect(gateway.logs.entries().some((e) => e.event === 'allow_list_unset')).toBe(false);
    } finally {
      await gateway.close();
    }
  });
});

describe('when a provider references a secret outside --allow-secret-ref', () => {
  it('refuses the bundle with MG_BUNDLE_SECRET_REF_NOT_ALLOWED', async () => {
    const gateway = await gatewayWith({ allowSecretRefs: [`file://${world.dir}/`], allowUpstreamHosts: ['127.0.0.1'] });
    try {
      const ready = await readyz(gateway);
      expect(ready.status).toBe(503);
      expect(ready.body.last_error?.code).toBe('MG_BUNDLE_SECRET_REF_NOT_ALLOWED');
      expect(gateway.logs.entries().some((e) => e.event === 'bundle_rejected' && e.code === 'MG_BUNDLE_SECRET_REF_NOT_ALLOWED')).toBe(true);
    } finally {
      await gateway.close();
    }
  });
});

describe('when a provider names a host outside --allow-upstream-host', () => {
  it('refuses the bundle with MG_BUNDLE_UPSTREAM_NOT_ALLOWED', async () => {
    const gateway = await gatewayWith({ allowUpstreamHosts: ['api.openai.com', '*.openai.azure.com'] });
    try {
      const ready = await readyz(gateway);
      expect(ready.status).toBe(503);
      expect(ready.body.last_error?.code).toBe('MG_BUNDLE_UPSTREAM_NOT_ALLOWED');
      // One list set, the other not: still warned about.
      expect(gateway.logs.entries().some((e) => e.event === 'allow_list_unset')).toBe(true);
    } finally {
      await gateway.close();
    }
  });
});

describe('when no allow-list is set', () => {
  it('allows any provider and warns at start', () => {
    expect(world.gateway.logs.entries().some((e) => e.event === 'allow_list_unset' && e.level === 'warn')).toBe(true);
  });
});

describe('when the allow-lists are given as flags or environment variables', () => {
  const base = ['--bundle', '/tmp/b.json', '--public-key', '/tmp/k.pem', '--audience', 'a'];
  it('repeats flags, splits the variables on commas, and leaves them null when unset', () => {
    const flags = parseServeArgs(
      [...base, '--allow-secret-ref', 'env://OPENAI_', '--allow-secret-ref', 'aws-ssm:///prod/', '--allow-upstream-host', 'api.openai.com'],
      {},
    );
    expect(flags).toMatchObject({ settings: { allowSecretRefs: ['env://OPENAI_', 'aws-ssm:///prod/'], allowUpstreamHosts: ['api.openai.com'] } });
    const env = parseServeArgs(base, { MODELGATE_ALLOW_SECRET_REFS: 'env://A_, file:///run/', MODELGATE_ALLOW_UPSTREAM_HOSTS: '*.openai.azure.com' });
    expect(env).toMatchObject({ settings: { allowSecretRefs: ['env://A_', 'file:///run/'], allowUpstreamHosts: ['*.openai.azure.com'] } });
    expect(parseServeArgs(base, {})).toMatchObject({ settings: { allowSecretRefs: null, allowUpstreamHosts: null } });
  });

  it('reads the receive deadlines and the connection cap, and refuses a header timeout over the request timeout', () => {
    expect(parseServeArgs([...base, '--header-timeout', '5s', '--request-timeout', '30s', '--max-connections', '100'], {})).toMatchObject({
      settings: { headerTimeoutMs: 5_000, requestTimeoutMs: 30_000, maxConnections: 100 },
    });
    expect(parseServeArgs(base, { MODELGATE_HEADER_TIMEOUT: '2s' })).toMatchObject({
      settings: { headerTimeoutMs: 2_000, requestTimeoutMs: 60_000, maxConnections: 4096 },
    });
    expect(parseServeArgs([...base, '--header-timeout', '90s'], {})).toMatchObject({ problem: expect.stringContaining('--header-timeout') });
  });
});
