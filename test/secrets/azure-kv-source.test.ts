// The azure-kv:// source through the real @azure/keyvault-secrets client against a local Key Vault
// over HTTPS (self-signed certificate) with the bearer challenge flow.
import type { GetTokenOptions, TokenCredential } from '@azure/core-auth';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type AzureKvSourceOptions, createAzureKvSecretSource } from '../../runtime/secrets/azure-kv-source.ts';
import type { SecretRef } from '../../schemas/formats/secret-ref.ts';
import { AZURE_TEST_TENANT, AZURE_TEST_TOKEN, type AzureKvServer, startAzureKvServer } from '../support/azure-kv-server.ts';
import { scaled } from '../support/time-scale.ts';
import { expectSecretError } from './expect-secret-error.ts';

const VALUE = 'azure-kv-test-value-0001';
const ROTATED = 'azure-kv-test-value-0002';
const ref = (secret = 'openai-key', version?: string): SecretRef => ({
  scheme: 'azure-kv',
  vault: 'acme-prod-kv',
  secret,
  ...(version !== undefined ? { version } : {}),
});
const text = (secret = 'openai-key', version?: string) => `azure-kv://acme-prod-kv/${secret}${version !== undefined ? `?version=${version}` : ''}`;
const signal = () => AbortSignal.timeout(scaled(5_000));

/** A TokenCredential that hands out a fixed token and records what it was asked for. */
function fixedCredential(token = AZURE_TEST_TOKEN): TokenCredential & { asked: { scopes: string[]; tenantId: string | undefined }[] } {
  const asked: { scopes: string[]; tenantId: string | undefined }[] = [];
  return {
    asked,
    getToken: async (scopes: string | string[], options?: GetTokenOptions) => {
      asked.push({ scopes: [scopes].flat(), tenantId: options?.tenantId });
      return { token, expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  };
}

let server: AzureKvServer;
let firstVersion: string;
beforeAll(async () => {
  server = await startAzureKvServer();
  firstVersion = server.setSecret('acme-prod-kv', 'openai-key', VALUE);
});
afterAll(() => server.close());
beforeEach(() => {
  server.setMode('ok');
  server.acceptTokens([AZURE_TEST_TOKEN]);
});

const source = (options: AzureKvSourceOptions = {}) =>
  createAzureKvSecretSource({ vaultUrlTemplate: server.urlTemplate, ca: server.ca, credential: fixedCredential(), ...options });

describe('when the secret exists', () => {
  it('returns the current version after the challenge, asking for a vault token in the challenged tenant', async () => {
    const credential = fixedCredential();
    const before = server.requests.length;
    expect(await source({ credential }).read(ref(), signal())).toBe(VALUE);
    const seen = server.requests.slice(before);
    expect(seen.map((r) => r.authorized)).toEqual([false, true]);
    expect(seen[0]?.apiVersion).toMatch(/^\d{4}-\d{2}-\d{2}$|^7\.\d$/);
    expect(credential.asked).toEqual([{ scopes: ['https://vault.azure.net/.default'], tenantId: AZURE_TEST_TENANT }]);
  });

  it('reuses the challenge for later reads from the same vault', async () => {
    const s = source();
    await s.read(ref(), signal());
    const before = server.requests.length;
    expect(await s.read(ref(), signal())).toBe(VALUE);
    expect(server.requests.slice(before).map((r) => r.authorized)).toEqual([true]);
  });

  it('returns a pinned version', async () => {
    expect(await source().read(ref('openai-key', firstVersion), signal())).toBe(VALUE);
  });
});

describe('when a new version is set (rotation)', () => {
  it('returns the new value on the next read, and the pinned old version still reads', async () => {
    const old = server.setSecret('acme-prod-kv', 'rotating', VALUE);
    const s = source();
    expect(await s.read(ref('rotating'), signal())).toBe(VALUE);
    server.setSecret('acme-prod-kv', 'rotating', ROTATED);
    expect(await s.read(ref('rotating'), signal())).toBe(ROTATED);
    expect(await s.read(ref('rotating', old), signal())).toBe(VALUE);
  });
});

describe('when the secret does not exist', () => {
  it('rejects with not_found and names the reference', async () => {
    const error = await expectSecretError(source().read(ref('missing'), signal()), 'not_found', { names: text('missing'), never: [VALUE] });
    expect(error.message).toContain('SecretNotFound');
  });
});

describe('when the secret is disabled', () => {
  it('rejects with not_found and says it is disabled', async () => {
    server.setSecret('acme-prod-kv', 'disabled-one', VALUE, { enabled: false });
    const error = await expectSecretError(source().read(ref('disabled-one'), signal()), 'not_found', { names: text('disabled-one'), never: [VALUE] });
    expect(error.message).toContain('disabled');
  });
});

describe('when RBAC denies getting secrets', () => {
  it('rejects with access_denied and names the role to grant', async () => {
    server.setMode('forbidden');
    const error = await expectSecretError(source().read(ref(), signal()), 'access_denied', { names: text(), never: [VALUE] });
    expect(error.message).toContain('Key Vault Secrets User');
  });
});

describe('when the token is not accepted', () => {
  it('rejects with access_denied and never repeats the token', async () => {
    server.acceptTokens(['another-token']);
    await expectSecretError(source().read(ref(), signal()), 'access_denied', { names: text(), never: [VALUE, AZURE_TEST_TOKEN] });
  });
});

describe('when Key Vault throttles', () => {
  it('rejects with throttled without retrying (the resolver owns retries)', async () => {
    const s = source();
    await s.read(ref(), signal()); // past the challenge
    server.setMode('throttle');
    const before = server.requests.length;
    await expectSecretError(s.read(ref(), signal()), 'throttled', { names: text(), never: [VALUE] });
    expect(server.requests.length - before).toBe(1);
  });
});

describe('when Key Vault does not answer', () => {
  it('rejects with timeout when the signal fires, once the request is in flight', async () => {
    const s = source();
    await s.read(ref(), signal()); // past the challenge: the next request carries the token
    server.setMode('hang');
    const before = server.requests.length;
    await expectSecretError(s.read(ref(), AbortSignal.timeout(300)), 'timeout', { names: text(), never: [VALUE] });
    expect(server.requests.slice(before).map((r) => r.authorized)).toEqual([true]);
  });
});

describe('when the vault certificate is not trusted', () => {
  it('rejects with read_failed before any token is requested', async () => {
    const credential = fixedCredential();
    const s = createAzureKvSecretSource({ vaultUrlTemplate: server.urlTemplate, credential });
    const error = await expectSecretError(s.read(ref(), signal()), 'read_failed', { names: text(), never: [VALUE] });
    expect(error.message).toContain('SELF_SIGNED');
    expect(credential.asked).toEqual([]);
  });
});

describe('when challenge resource verification is on for a host outside vault.azure.net', () => {
  it('refuses to send a token', async () => {
    const credential = fixedCredential();
    const before = server.requests.length;
    await expectSecretError(source({ credential, verifyChallengeResource: true }).read(ref(), signal()), 'read_failed', { names: text(), never: [VALUE] });
    expect(credential.asked).toEqual([]);
    expect(server.requests.slice(before).every((r) => !r.authorized)).toBe(true);
  });
});

describe('when the vault URL template comes from MODELGATE_AZURE_KV_URL_TEMPLATE', () => {
  it('reads from the templated URL', async () => {
    const s = createAzureKvSecretSource({ ca: server.ca, credential: fixedCredential(), env: { MODELGATE_AZURE_KV_URL_TEMPLATE: server.urlTemplate } });
    expect(await s.read(ref(), signal())).toBe(VALUE);
  });
});

describe('when given a reference of another scheme', () => {
  it('rejects with malformed_ref', async () => {
    await expectSecretError(source().read({ scheme: 'env', variable: 'X' }, signal()), 'malformed_ref', { names: 'azure-kv://', never: [] });
  });
});
