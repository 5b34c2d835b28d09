// `modelgate secrets check` end to end: the real CLI in a child process, with the ambient credential
// chains pointed at the local stand-ins by environment only, as an operator would on a gateway host:
// AWS keys in the environment, Google ADC from a service account key file (self-signed JWT), Azure
// DefaultAzureCredential through an App Service managed identity endpoint.
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKeyPair } from '../../schemas/formats/signing-keys.ts';
import { type AzureKvServer, startAzureKvServer } from '../support/azure-kv-server.ts';
import { type GcpSmServer, startGcpSmServer } from '../support/gcp-sm-server.ts';
import { runCli } from '../support/run-cli.ts';
import { SSM_TEST_CREDENTIALS, type SsmServer, startSsmServer } from '../support/ssm-server.ts';
import { scaled } from '../support/time-scale.ts';

const VALUES = {
  env: 'sk-cli-env-value-0001',
  file: 'sk-cli-file-value-0002',
  aws: 'sk-cli-aws-value-0003',
  gcp: 'sk-cli-gcp-value-0004',
  azure: 'cli-azure-value-0005',
};
const SA_EMAIL = 'gateway@acme-llm.iam.gserviceaccount.com';

let ssm: SsmServer;
let gcp: GcpSmServer;
let azure: AzureKvServer;
let dir: string;
let env: NodeJS.ProcessEnv;

function provider(name: string, secret: string): string {
  return [`name: ${name}`, 'type: openai-compatible', 'base_url: https://llm.example.com/v1', `secret: ${secret}`, 'models:', '  - name: m1', ''].join('\n');
}

async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
}

beforeAll(async () => {
  [ssm, gcp, azure] = await Promise.all([startSsmServer(), startGcpSmServer(), startAzureKvServer()]);
  dir = await mkdtemp(join(tmpdir(), 'modelgate-secrets-check-'));
  ssm.setParameter('/prod/llm/openai', VALUES.aws);
  gcp.addVersion('acme-llm', 'gateway-key', VALUES.gcp);
  azure.setSecret('acme-prod-kv', 'azure-openai-key', VALUES.azure);

  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  gcp.trustServiceAccount(SA_EMAIL, publicKey.export({ type: 'spki', format: 'pem' }).toString());
  const serviceAccount = {
    type: 'service_account',
    project_id: 'acme-llm',
    private_key_id: 'test-key-1',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: SA_EMAIL,
    client_id: '1',
    token_uri: `${gcp.url}/token`,
  };
  const signing = generateSigningKeyPair();
  await writeTree(dir, {
    'signing-key.pem': signing.privatePem,
    'signing-key.pub.pem': signing.publicPem,
    'other-key.pub.pem': generateSigningKeyPair().publicPem,
    'gcp-sa.json': JSON.stringify(serviceAccount),
    'azure-ca.pem': azure.ca,
    'root-key.txt': `${VALUES.file}\n`,
    'policies/gateway.yaml': 'audience: test-gateway\n',
    'policies/directory.yaml': 'users:\n  - username: alice\n    id: u-1\n',
    'policies/authz.yaml': 'authz_rules:\n  - models:\n      - from-env/m1\n    users: [alice]\n',
    'policies/providers/from-env.yaml': provider('from-env', 'env://CLI_TEST_ROOT_KEY'),
    'policies/providers/from-file.yaml': provider('from-file', `file://${join(dir, 'root-key.txt')}`),
    'policies/providers/from-aws.yaml': provider('from-aws', 'aws-ssm:///prod/llm/openai?region=eu-west-1'),
    'policies/providers/from-gcp.yaml': provider('from-gcp', 'gcp-sm://projects/acme-llm/secrets/gateway-key/versions/latest'),
    'policies/providers/from-azure.yaml': provider('from-azure', 'azure-kv://acme-prod-kv/azure-openai-key'),
  });

  env = {
    CLI_TEST_ROOT_KEY: VALUES.env,
    // AWS: keys from the environment (first in the default chain), the endpoint the SDK's own way.
    AWS_ACCESS_KEY_ID: SSM_TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: SSM_TEST_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_SSM: ssm.url,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    // Google: ADC from a key file; no metadata server probing.
    GOOGLE_APPLICATION_CREDENTIALS: join(dir, 'gcp-sa.json'),
    METADATA_SERVER_DETECTION: 'none',
    MODELGATE_GCP_SM_ENDPOINT: gcp.url,
    // Azure: DefaultAzureCredential (production credentials only) via a managed identity endpoint.
    AZURE_TOKEN_CREDENTIALS: 'prod',
    ...azure.managedIdentity,
    MODELGATE_AZURE_KV_URL_TEMPLATE: azure.urlTemplate,
    NODE_EXTRA_CA_CERTS: join(dir, 'azure-ca.pem'),
  };
});

afterAll(async () => {
  await Promise.all([ssm.close(), gcp.close(), azure.close()]);
  await rm(dir, { recursive: true, force: true });
});

// The per-read deadline also covers loading the store's SDK, which a busy machine slows down:
// scaled like every other guard, so only the test about --timeout itself sees a timeout.
const READ_TIMEOUT = ['--timeout', `${scaled(10_000)}ms`];

const leaks = (text: string) => Object.values(VALUES).filter((v) => text.includes(v));

describe('when every referenced secret is readable with the ambient credentials', () => {
  it('prints ok for each reference, never a value, and exits 0', async () => {
    const r = await runCli(['secrets', 'check', '--policies', join(dir, 'policies'), ...READ_TIMEOUT], { env });
    expect(r.stderr).toContain('5 of 5 secret references readable');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(5);
    for (const line of lines) expect(line).toMatch(/^ok\s/);
    expect(r.stdout).toContain('aws-ssm:///prod/llm/openai?region=eu-west-1  (from-aws)');
    expect(leaks(r.stdout + r.stderr)).toEqual([]);
  });
});

describe('when some secrets cannot be read', () => {
  it('names each failing reference with its reason and exits 1', async () => {
    const r = await runCli(['secrets', 'check', '--policies', join(dir, 'policies'), '--format', 'json', ...READ_TIMEOUT], {
      env: {
        ...env,
        CLI_TEST_ROOT_KEY: '',
        AWS_SECRET_ACCESS_KEY: 'a-wrong-secret-access-key',
        MODELGATE_AZURE_KV_URL_TEMPLATE: `${azure.url}/{vault}-missing`,
      },
    });
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { ok: boolean; secrets: { ref: string; ok: boolean; reason?: string; message?: string }[] };
    expect(out.ok).toBe(false);
    const byRef = Object.fromEntries(out.secrets.map((s) => [s.ref, s]));
    expect(byRef['env://CLI_TEST_ROOT_KEY']?.reason).toBe('not_found');
    expect(byRef['aws-ssm:///prod/llm/openai?region=eu-west-1']?.reason).toBe('access_denied');
    expect(byRef['azure-kv://acme-prod-kv/azure-openai-key']?.reason).toBe('not_found');
    expect(byRef['gcp-sm://projects/acme-llm/secrets/gateway-key/versions/latest']?.ok).toBe(true);
    expect(leaks(r.stdout + r.stderr)).toEqual([]);
    expect(r.stdout + r.stderr).not.toContain('a-wrong-secret-access-key');
  });
});

describe('when a store is throttling', () => {
  it('reports throttled for that reference', async () => {
    gcp.setMode('throttle');
    try {
      const r = await runCli(['secrets', 'check', '--policies', join(dir, 'policies'), ...READ_TIMEOUT], { env });
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/^throttled\s+gcp-sm:\/\/projects\/acme-llm\/secrets\/gateway-key\/versions\/latest {2}\(from-gcp\): /m);
    } finally {
      gcp.setMode('ok');
    }
  });
});

describe('when a store does not answer', () => {
  it('reports timeout once --timeout passes', async () => {
    ssm.setMode('hang');
    try {
      const r = await runCli(['secrets', 'check', '--policies', join(dir, 'policies'), '--timeout', '300ms'], { env });
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/^timeout\s+aws-ssm:\/\/\/prod\/llm\/openai\?region=eu-west-1/m);
    } finally {
      ssm.setMode('ok');
    }
  });
});

describe('when checking a signed bundle', () => {
  it('reads the references the bundle carries', async () => {
    const bundle = join(dir, 'bundle.json');
    const compiled = await runCli([
      'compile',
      '--policies',
      join(dir, 'policies'),
      '--out',
      bundle,
      '--signing-key',
      join(dir, 'signing-key.pem'),
      '--revision',
      'test',
    ]);
    expect(compiled.code, compiled.stderr).toBe(0);
    const r = await runCli(['secrets', 'check', '--bundle', bundle, '--public-key', join(dir, 'signing-key.pub.pem'), ...READ_TIMEOUT], { env });
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(5);
    expect(leaks(r.stdout + r.stderr)).toEqual([]);
  });

  it('refuses a bundle signed by another key (exit 1, MG_BUNDLE_BAD_SIGNATURE)', async () => {
    const r = await runCli(['secrets', 'check', '--bundle', join(dir, 'bundle.json'), '--public-key', join(dir, 'other-key.pub.pem')], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('MG_BUNDLE_BAD_SIGNATURE');
  });
});

describe('when a provider holds a pasted key instead of a reference', () => {
  it('reports malformed_ref with the file, without printing the key', async () => {
    const pasted = 'sk-proj-ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
    const tree = join(dir, 'pasted');
    await writeTree(tree, { 'gateway.yaml': 'audience: test-gateway\n', 'providers/leaky.yaml': provider('leaky', pasted) });
    const r = await runCli(['secrets', 'check', '--policies', tree], { env });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^malformed_ref\s+<unparsable reference in providers\/leaky\.yaml>/m);
    expect(r.stdout + r.stderr).not.toContain(pasted);
  });
});

describe('when both --policies and --bundle are given', () => {
  it('is a usage error (exit 2)', async () => {
    const r = await runCli(['secrets', 'check', '--policies', 'p', '--bundle', 'b', '--public-key', 'k']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('either --policies or --bundle');
  });
});
