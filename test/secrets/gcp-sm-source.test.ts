// The gcp-sm:// source through the real @google-cloud/secret-manager client (REST transport)
// against a local Secret Manager endpoint that checks the bearer token.
import { OAuth2Client } from 'google-auth-library';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGcpSmSecretSource, type GcpSmSourceOptions } from '../../runtime/secrets/gcp-sm-source.ts';
import type { SecretRef } from '../../schemas/formats/secret-ref.ts';
import { GCP_TEST_TOKEN, type GcpSmServer, startGcpSmServer } from '../support/gcp-sm-server.ts';
import { scaled } from '../support/time-scale.ts';
import { expectSecretError } from './expect-secret-error.ts';

process.env.METADATA_SERVER_DETECTION = 'none'; // never probe a metadata server

const VALUE = 'sk-gcp-sm-test-value-0001';
const ROTATED = 'sk-gcp-sm-test-value-0002';
const ref = (secret = 'openai-key', version = 'latest'): SecretRef => ({ scheme: 'gcp-sm', project: 'acme-llm', secret, version });
const text = (secret = 'openai-key', version = 'latest') => `gcp-sm://projects/acme-llm/secrets/${secret}/versions/${version}`;
const signal = () => AbortSignal.timeout(scaled(5_000));

function fixedToken(token = GCP_TEST_TOKEN): GcpSmSourceOptions['authClient'] {
  const client = new OAuth2Client();
  client.setCredentials({ access_token: token, expiry_date: Date.now() + 3_600_000 });
  // google-gax carries its own copy of google-auth-library; the classes are the same shape.
  return client as unknown as GcpSmSourceOptions['authClient'];
}

let server: GcpSmServer;
let first: number;
beforeAll(async () => {
  server = await startGcpSmServer();
  first = server.addVersion('acme-llm', 'openai-key', VALUE);
});
afterAll(() => server.close());
beforeEach(() => {
  server.setMode('ok');
  server.acceptTokens([GCP_TEST_TOKEN]);
});

const source = (options: GcpSmSourceOptions = {}) => createGcpSmSecretSource({ endpoint: server.url, authClient: fixedToken(), ...options });

describe('when the secret version exists', () => {
  it('returns the payload of the latest version', async () => {
    expect(await source().read(ref(), signal())).toBe(VALUE);
  });

  it('returns a pinned version', async () => {
    expect(await source().read(ref('openai-key', String(first)), signal())).toBe(VALUE);
  });

  it('trims the trailing newline that `gcloud ... --data-file=-` stores', async () => {
    server.addVersion('acme-llm', 'with-newline', 'line-value\n');
    expect(await source().read(ref('with-newline'), signal())).toBe('line-value');
  });
});

describe('when a new version is added (rotation)', () => {
  it('returns the new value for versions/latest on the next read', async () => {
    server.addVersion('acme-llm', 'rotating', VALUE);
    const s = source();
    expect(await s.read(ref('rotating'), signal())).toBe(VALUE);
    server.addVersion('acme-llm', 'rotating', ROTATED);
    expect(await s.read(ref('rotating'), signal())).toBe(ROTATED);
  });
});

describe('when the secret does not exist', () => {
  it('rejects with not_found and names the reference', async () => {
    await expectSecretError(source().read(ref('missing'), signal()), 'not_found', { names: text('missing'), never: [VALUE] });
  });
});

describe('when the pinned version does not exist', () => {
  it('rejects with not_found', async () => {
    await expectSecretError(source().read(ref('openai-key', '99'), signal()), 'not_found', { names: text('openai-key', '99'), never: [VALUE] });
  });
});

describe('when the pinned version is disabled', () => {
  it('rejects with not_found and says it is disabled', async () => {
    const version = server.addVersion('acme-llm', 'disabled-one', VALUE);
    server.disableVersion('acme-llm', 'disabled-one', version);
    const error = await expectSecretError(source().read(ref('disabled-one', String(version)), signal()), 'not_found', {
      names: text('disabled-one', String(version)),
      never: [VALUE],
    });
    expect(error.message).toContain('FAILED_PRECONDITION');
  });
});

describe('when IAM denies secretmanager.versions.access', () => {
  it('rejects with access_denied and names the role to grant', async () => {
    server.setMode('permission_denied');
    const error = await expectSecretError(source().read(ref(), signal()), 'access_denied', { names: text(), never: [VALUE] });
    expect(error.message).toContain('roles/secretmanager.secretAccessor');
  });
});

describe('when the access token is not accepted', () => {
  it('rejects with access_denied and never repeats the token', async () => {
    server.acceptTokens(['some-other-token']);
    await expectSecretError(source().read(ref(), signal()), 'access_denied', { names: text(), never: [VALUE, GCP_TEST_TOKEN] });
  });
});

describe('when Secret Manager throttles', () => {
  it('rejects with throttled after a single request (the resolver owns retries)', async () => {
    server.setMode('throttle');
    const before = server.reads.length;
    await expectSecretError(source().read(ref(), signal()), 'throttled', { names: text(), never: [VALUE] });
    expect(server.reads.length - before).toBe(1);
  });
});

describe('when Secret Manager is unavailable', () => {
  it('rejects with read_failed after a single request', async () => {
    server.setMode('unavailable');
    const before = server.reads.length;
    await expectSecretError(source().read(ref(), signal()), 'read_failed', { names: text(), never: [VALUE] });
    expect(server.reads.length - before).toBe(1);
  });
});

describe('when Secret Manager does not answer', () => {
  it('rejects with timeout when the signal fires, once the request is in flight', async () => {
    const s = source();
    await s.read(ref(), signal()); // the SDK is loaded and the client built: the deadline is all network
    server.setMode('hang');
    const before = server.reads.length;
    await expectSecretError(s.read(ref(), AbortSignal.timeout(300)), 'timeout', { names: text(), never: [VALUE] });
    expect(server.reads.length - before).toBe(1);
  });
});

describe('when the endpoint comes from MODELGATE_GCP_SM_ENDPOINT', () => {
  it('sends the request there', async () => {
    const s = createGcpSmSecretSource({ authClient: fixedToken(), env: { MODELGATE_GCP_SM_ENDPOINT: server.url } });
    expect(await s.read(ref(), signal())).toBe(VALUE);
  });
});

describe('when given a reference of another scheme', () => {
  it('rejects with malformed_ref', async () => {
    await expectSecretError(source().read({ scheme: 'env', variable: 'X' }, signal()), 'malformed_ref', { names: 'gcp-sm://', never: [] });
  });
});
