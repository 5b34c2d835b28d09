// The aws-ssm:// source through the real @aws-sdk/client-ssm against a local SSM endpoint that
// checks every SigV4 signature.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAwsSsmSecretSource } from '../../runtime/secrets/aws-ssm-source.ts';
import type { SecretRef } from '../../schemas/formats/secret-ref.ts';
import { SSM_TEST_CREDENTIALS, type SsmServer, startSsmServer } from '../support/ssm-server.ts';
import { scaled } from '../support/time-scale.ts';
import { expectSecretError } from './expect-secret-error.ts';

process.env.AWS_EC2_METADATA_DISABLED = 'true'; // belt and braces: static keys are always given
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const VALUE = 'sk-aws-ssm-test-value-0001';
const ROTATED = 'sk-aws-ssm-test-value-0002';
const ref = (name = '/prod/llm/openai-main'): SecretRef => ({ scheme: 'aws-ssm', name, region: 'us-east-1' });
const text = (name = '/prod/llm/openai-main') => `aws-ssm://${name}?region=us-east-1`;
const signal = () => AbortSignal.timeout(scaled(5_000));

let server: SsmServer;
beforeAll(async () => {
  server = await startSsmServer();
});
afterAll(() => server.close());
beforeEach(() => {
  server.setMode('ok');
  server.setParameter('/prod/llm/openai-main', VALUE);
});

const source = () => createAwsSsmSecretSource({ endpoint: server.url, credentials: SSM_TEST_CREDENTIALS });

describe('when the parameter exists', () => {
  it('returns the decrypted value of a SecureString', async () => {
    expect(await source().read(ref(), signal())).toBe(VALUE);
  });

  it('returns a String parameter and trims a trailing newline', async () => {
    server.setParameter('/dev/plain', 'plain-value\n', 'String');
    expect(await source().read(ref('/dev/plain'), signal())).toBe('plain-value');
  });
});

describe('when the value is rotated', () => {
  it('returns the new value on the next read', async () => {
    const s = source();
    expect(await s.read(ref(), signal())).toBe(VALUE);
    server.setParameter('/prod/llm/openai-main', ROTATED);
    expect(await s.read(ref(), signal())).toBe(ROTATED);
  });
});

describe('when the parameter does not exist', () => {
  it('rejects with not_found and names the reference', async () => {
    await expectSecretError(source().read(ref('/prod/missing'), signal()), 'not_found', { names: text('/prod/missing'), never: [VALUE] });
  });
});

describe('when IAM denies ssm:GetParameter', () => {
  it('rejects with access_denied, names the reference and says which permission is needed', async () => {
    server.setMode('access_denied');
    const error = await expectSecretError(source().read(ref(), signal()), 'access_denied', { names: text(), never: [VALUE] });
    expect(error.message).toContain('ssm:GetParameter');
    // The SDK's message (which quotes the ARN and the caller) is not passed through.
    expect(error.message).not.toContain('arn:aws');
  });
});

describe('when the secret access key is wrong', () => {
  it('is refused by the signature check and rejects with access_denied', async () => {
    const before = server.reads.length;
    const wrong = createAwsSsmSecretSource({
      endpoint: server.url,
      credentials: { accessKeyId: SSM_TEST_CREDENTIALS.accessKeyId, secretAccessKey: 'not-the-right-secret' },
    });
    const error = await expectSecretError(wrong.read(ref(), signal()), 'access_denied', { names: text(), never: [VALUE, 'not-the-right-secret'] });
    expect(error.message).toContain('InvalidSignatureException');
    expect(server.reads.length).toBe(before);
  });
});

describe('when the access key id is unknown', () => {
  it('rejects with access_denied', async () => {
    const unknown = createAwsSsmSecretSource({
      endpoint: server.url,
      credentials: { accessKeyId: 'MGUNKNOWNKEYID', secretAccessKey: SSM_TEST_CREDENTIALS.secretAccessKey },
    });
    const error = await expectSecretError(unknown.read(ref(), signal()), 'access_denied', {
      names: text(),
      never: [VALUE, SSM_TEST_CREDENTIALS.secretAccessKey],
    });
    expect(error.message).toContain('UnrecognizedClientException');
  });
});

describe('when SSM throttles', () => {
  it('rejects with throttled after a single attempt (the resolver owns retries)', async () => {
    server.setMode('throttle');
    const before = server.reads.length;
    await expectSecretError(source().read(ref(), signal()), 'throttled', { names: text(), never: [VALUE] });
    expect(server.reads.length - before).toBe(1);
  });
});

describe('when SSM fails with a server error', () => {
  it('rejects with read_failed', async () => {
    server.setMode('internal_error');
    await expectSecretError(source().read(ref(), signal()), 'read_failed', { names: text(), never: [VALUE] });
  });
});

describe('when SSM does not answer', () => {
  it('rejects with timeout when the signal fires, once the request is in flight', async () => {
    const s = source();
    await s.read(ref(), signal()); // the SDK is loaded and the client built: the deadline is all network
    server.setMode('hang');
    const before = server.reads.length;
    await expectSecretError(s.read(ref(), AbortSignal.timeout(300)), 'timeout', { names: text(), never: [VALUE] });
    expect(server.reads.length - before).toBe(1);
  });
});

describe('when the endpoint comes from the environment', () => {
  const saved = { ssm: process.env.AWS_ENDPOINT_URL_SSM, any: process.env.AWS_ENDPOINT_URL };
  afterEach(() => {
    for (const [key, value] of [
      ['AWS_ENDPOINT_URL_SSM', saved.ssm],
      ['AWS_ENDPOINT_URL', saved.any],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  it('honours AWS_ENDPOINT_URL_SSM (the SDK reads it natively)', async () => {
    process.env.AWS_ENDPOINT_URL_SSM = server.url;
    delete process.env.AWS_ENDPOINT_URL;
    expect(await createAwsSsmSecretSource({ credentials: SSM_TEST_CREDENTIALS }).read(ref(), signal())).toBe(VALUE);
  });

  it('falls back to AWS_ENDPOINT_URL', async () => {
    delete process.env.AWS_ENDPOINT_URL_SSM;
    process.env.AWS_ENDPOINT_URL = server.url;
    expect(await createAwsSsmSecretSource({ credentials: SSM_TEST_CREDENTIALS }).read(ref(), signal())).toBe(VALUE);
  });

  it('lets the endpoint option win over AWS_ENDPOINT_URL_SSM', async () => {
    process.env.AWS_ENDPOINT_URL_SSM = 'http://127.0.0.1:9';
    expect(await source().read(ref(), signal())).toBe(VALUE);
  });
});

describe('when given a reference of another scheme', () => {
  it('rejects with malformed_ref', async () => {
    await expectSecretError(source().read({ scheme: 'env', variable: 'X' }, signal()), 'malformed_ref', { names: 'aws-ssm://', never: [] });
  });
});
