// cloudSecretSources() plugged into the runtime's resolver, as the runtime wires it, against all
// three local stand-ins; and what each store reports when the machine has no credentials at all.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OAuth2Client } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudSecretSources } from '../../runtime/secrets/cloud-sources.ts';
import { envSecretSource } from '../../runtime/secrets/env-source.ts';
import type { GcpSmSourceOptions } from '../../runtime/secrets/gcp-sm-source.ts';
import { createSecretResolver } from '../../runtime/secrets/resolve.ts';
import { AZURE_TEST_TOKEN, type AzureKvServer, startAzureKvServer } from '../support/azure-kv-server.ts';
import { GCP_TEST_TOKEN, type GcpSmServer, startGcpSmServer } from '../support/gcp-sm-server.ts';
import { SSM_TEST_CREDENTIALS, type SsmServer, startSsmServer } from '../support/ssm-server.ts';
import { expectSecretError } from './expect-secret-error.ts';

// A machine with no cloud credentials anywhere: nothing in the environment, no config files, no
// metadata servers (so nothing is probed), an empty home directory.
const empty = mkdtempSync(join(tmpdir(), 'modelgate-no-creds-'));
for (const key of [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'GOOGLE_APPLICATION_CREDENTIALS',
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_SSM',
])
  delete process.env[key];
Object.assign(process.env, {
  HOME: empty,
  AWS_CONFIG_FILE: join(empty, 'config'),
  AWS_SHARED_CREDENTIALS_FILE: join(empty, 'credentials'),
  AWS_EC2_METADATA_DISABLED: 'true',
  METADATA_SERVER_DETECTION: 'none',
  CLOUDSDK_CONFIG: empty,
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
});

let ssm: SsmServer;
let gcp: GcpSmServer;
let azure: AzureKvServer;
beforeAll(async () => {
  [ssm, gcp, azure] = await Promise.all([startSsmServer(), startGcpSmServer(), startAzureKvServer()]);
});
afterAll(() => Promise.all([ssm.close(), gcp.close(), azure.close()]));

function testSources() {
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: GCP_TEST_TOKEN, expiry_date: Date.now() + 3_600_000 });
  return cloudSecretSources({
    aws: { endpoint: ssm.url, credentials: SSM_TEST_CREDENTIALS },
    gcp: { endpoint: gcp.url, authClient: authClient as unknown as GcpSmSourceOptions['authClient'] },
    azure: {
      vaultUrlTemplate: azure.urlTemplate,
      ca: azure.ca,
      credential: { getToken: async () => ({ token: AZURE_TEST_TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }) },
    },
  });
}

describe('when the three cloud sources are given to the resolver', () => {
  it('resolves a reference of each scheme', async () => {
    ssm.setParameter('/prod/a', 'aws-one');
    gcp.addVersion('acme', 'b', 'gcp-one');
    azure.setSecret('acme-kv', 'c', 'azure-one');
    const resolver = createSecretResolver({ sources: [envSecretSource({}), ...testSources()] });
    expect(await resolver.resolve('aws-ssm:///prod/a?region=us-east-1')).toBe('aws-one');
    expect(await resolver.resolve('gcp-sm://projects/acme/secrets/b/versions/latest')).toBe('gcp-one');
    expect(await resolver.resolve('azure-kv://acme-kv/c')).toBe('azure-one');
  });
});

describe('when a key is rotated and the runtime invalidates it', () => {
  it('serves the cached value until invalidated, then the new value from each store', async () => {
    ssm.setParameter('/prod/r', 'aws-old');
    gcp.addVersion('acme', 'r', 'gcp-old');
    azure.setSecret('acme-kv', 'r', 'azure-old');
    const resolver = createSecretResolver({ sources: testSources() });
    const refs = ['aws-ssm:///prod/r?region=us-east-1', 'gcp-sm://projects/acme/secrets/r/versions/latest', 'azure-kv://acme-kv/r'];
    expect(await Promise.all(refs.map((r) => resolver.resolve(r)))).toEqual(['aws-old', 'gcp-old', 'azure-old']);
    ssm.setParameter('/prod/r', 'aws-new');
    gcp.addVersion('acme', 'r', 'gcp-new');
    azure.setSecret('acme-kv', 'r', 'azure-new');
    expect(await Promise.all(refs.map((r) => resolver.resolve(r)))).toEqual(['aws-old', 'gcp-old', 'azure-old']);
    refs.forEach((r) => {
      resolver.invalidate(r);
    });
    expect(await Promise.all(refs.map((r) => resolver.resolve(r)))).toEqual(['aws-new', 'gcp-new', 'azure-new']);
  });
});

describe('when the machine has no AWS credentials', () => {
  it('rejects with access_denied saying the default chain found none', async () => {
    const [aws] = cloudSecretSources({ aws: { endpoint: ssm.url } });
    const error = await expectSecretError(aws!.read({ scheme: 'aws-ssm', name: '/prod/a', region: 'us-east-1' }, AbortSignal.timeout(5_000)), 'access_denied', {
      names: 'aws-ssm:///prod/a?region=us-east-1',
      never: ['aws-one'],
    });
    expect(error.message).toContain('default provider chain');
  });
});

describe('when the machine has no Google Application Default Credentials', () => {
  it('rejects with access_denied saying ADC found none', async () => {
    const [, google] = cloudSecretSources({ gcp: { endpoint: gcp.url } });
    const error = await expectSecretError(
      google!.read({ scheme: 'gcp-sm', project: 'acme', secret: 'b', version: 'latest' }, AbortSignal.timeout(5_000)),
      'access_denied',
      { names: 'gcp-sm://projects/acme/secrets/b/versions/latest', never: ['gcp-one'] },
    );
    expect(error.message).toContain('Application Default Credentials');
  });
});

describe('when a store cannot be reached', () => {
  it('rejects with read_failed and the connection error code', async () => {
    const [aws] = cloudSecretSources({ aws: { endpoint: 'http://127.0.0.1:9', credentials: SSM_TEST_CREDENTIALS } });
    const error = await expectSecretError(aws!.read({ scheme: 'aws-ssm', name: '/prod/a', region: 'us-east-1' }, AbortSignal.timeout(5_000)), 'read_failed', {
      names: 'aws-ssm:///prod/a?region=us-east-1',
      never: [],
    });
    expect(error.message).toContain('ECONNREFUSED');
  });
});
