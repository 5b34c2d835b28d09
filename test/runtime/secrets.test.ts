// The secret resolver: env:// and file:// sources, caching, single flight, invalidation, and a
// clear refusal for stores that plug in later. Errors never carry the value.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretResolver } from '../../runtime/secrets/resolve.ts';
import { SecretError, type SecretSource } from '../../schemas/formats/secret-source.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mg-secrets-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const reasonOf = (promise: Promise<unknown>): Promise<string> =>
  promise.then(
    () => 'resolved',
    (e: unknown) => (e instanceof SecretError ? e.reason : 'other'),
  );

describe('when the reference is env://', () => {
  it('reads the variable, and reports not_found without the value when unset', async () => {
    const resolver = createSecretResolver();
    process.env.MG_SECRET_TEST = 'sk-env-value';
    expect(await resolver.resolve('env://MG_SECRET_TEST')).toBe('sk-env-value');
    expect(await reasonOf(resolver.resolve('env://MG_SECRET_UNSET_VAR'))).toBe('not_found');
    delete process.env.MG_SECRET_TEST;
  });

  it('reads the variable without a trailing newline, as file:// does', async () => {
    const resolver = createSecretResolver();
    process.env.MG_SECRET_TEST_NL = 'sk-env-value\r\n';
    expect(await resolver.resolve('env://MG_SECRET_TEST_NL')).toBe('sk-env-value');
    process.env.MG_SECRET_TEST_NL = '\n';
    expect(await reasonOf(createSecretResolver().resolve('env://MG_SECRET_TEST_NL'))).toBe('not_found');
    delete process.env.MG_SECRET_TEST_NL;
  });
});

describe('when the reference is file://', () => {
  it('reads the file without its trailing newline', async () => {
    await writeFile(join(dir, 'key'), 'file-secret-value\n');
    expect(await createSecretResolver().resolve(`file://${join(dir, 'key')}`)).toBe('file-secret-value');
  });

  it('reports not_found for a missing file, naming the path but no value', async () => {
    const error = await createSecretResolver()
      .resolve(`file://${join(dir, 'missing')}`)
      .catch((e: unknown) => e as SecretError);
    expect((error as SecretError).reason).toBe('not_found');
    expect((error as SecretError).message).toContain('missing');
  });
});

describe('when the reference names a store this runtime does not have yet', () => {
  it('refuses aws-ssm with unsupported_scheme, and a malformed reference with malformed_ref', async () => {
    const resolver = createSecretResolver();
    expect(await reasonOf(resolver.resolve('aws-ssm:///prod/openai?region=us-east-1'))).toBe('unsupported_scheme');
    expect(await reasonOf(resolver.resolve('sk-literal-key-pasted-here-1234567890'))).toBe('malformed_ref');
  });
});

describe('when a source is plugged in for a scheme', () => {
  it('caches values, shares concurrent reads, and invalidate() makes the next resolve wait for the store', async () => {
    let reads = 0;
    const source: SecretSource = {
      scheme: 'aws-ssm',
      read: async () => {
        reads += 1;
        await new Promise((r) => setTimeout(r, 10));
        return `value-${reads}`;
      },
    };
    const resolver = createSecretResolver({ sources: [source] });
    const ref = 'aws-ssm:///prod/openai?region=us-east-1';
    expect(resolver.peek(ref)).toBeUndefined();
    const [a, b] = await Promise.all([resolver.resolve(ref), resolver.resolve(ref)]);
    expect([a, b, reads]).toEqual(['value-1', 'value-1', 1]);
    expect(resolver.peek(ref)).toBe('value-1');
    expect(await resolver.resolve(ref)).toBe('value-1');
    resolver.invalidate(ref);
    expect(resolver.peek(ref)).toBeUndefined();
    expect(await resolver.resolve(ref)).toBe('value-2');
    resolver.close();
  });
});
