// Root keys from AWS SSM, Google Secret Manager and Azure Key Vault, end to end: the real gateway
// with the three local stand-ins configured as an operator would (credentials and endpoints from the
// environment: AWS keys, a Google service account key file, an Azure managed identity endpoint),
// driven with the official openai client. Covers the first read at bundle activation, rotation
// (upstream 401 -> one re-read -> one retry), a store outage served from memory, and an account
// whose key was never read answering 503 while the others work.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AzureKvServer, startAzureKvServer } from '../support/azure-kv-server.ts';
import { startTestGateway, type TestGateway, waitFor } from '../support/gateway.ts';
import { type GcpSmServer, startGcpSmServer } from '../support/gcp-sm-server.ts';
import { leakedSecrets } from '../support/logs.ts';
import { SSM_TEST_CREDENTIALS, type SsmServer, startSsmServer } from '../support/ssm-server.ts';
import { scaled } from '../support/time-scale.ts';
import { createWorld, type World } from '../support/world.ts';

const SA_EMAIL = 'gateway@acme-llm.iam.gserviceaccount.com';

interface Store {
  account: string;
  ref: string;
  /** Writes a new current value into the store. */
  put(value: string): void;
  /** Authenticated reads of this reference the store has answered. */
  reads(): number;
}

let ssm: SsmServer;
let gcp: GcpSmServer;
let azure: AzureKvServer;
let world: World;
let hostDir: string;
/** Every root key value used here, old and new: searched for in logs, /readyz and /metrics. */
const values: string[] = [];
/** /readyz and /metrics bodies seen during the run. */
const exposed: string[] = [];

const STORES: Store[] = [
  {
    account: 'from-aws',
    ref: 'aws-ssm:///prod/llm/openai?region=eu-west-1',
    put: (v) => ssm.setParameter('/prod/llm/openai', v),
    reads: () => ssm.reads.filter((n) => n === '/prod/llm/openai').length,
  },
  {
    account: 'from-gcp',
    ref: 'gcp-sm://projects/acme-llm/secrets/gateway-key/versions/latest',
    put: (v) => void gcp.addVersion('acme-llm', 'gateway-key', v),
    reads: () => gcp.reads.filter((n) => n === 'projects/acme-llm/secrets/gateway-key/versions/latest').length,
  },
  {
    account: 'from-azure',
    ref: 'azure-kv://acme-prod-kv/azure-openai-key',
    put: (v) => void azure.setSecret('acme-prod-kv', 'azure-openai-key', v),
    reads: () => azure.requests.filter((r) => r.authorized && r.path === 'acme-prod-kv/azure-openai-key').length,
  },
];
const NEVER_READ = { account: 'from-nowhere', ref: 'aws-ssm:///prod/llm/missing?region=eu-west-1' };

/** A fresh root key value for an account, remembered for the leak checks. */
function newKey(account: string): string {
  const value = `sk-${account}-${randomBytes(12).toString('hex')}`;
  values.push(value);
  return value;
}

function providerFile(account: string, ref: string, upstreamUrl: string): string {
  return `name: ${account}\ntype: openai\nbase_url: ${upstreamUrl}/v1\nsecret: ${ref}\nmodels:\n  - name: gpt-4o-mini\n`;
}

const client = (gateway: TestGateway): OpenAI => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: world.keys.alice, maxRetries: 0, timeout: scaled(10_000) });
const ask = (gateway: TestGateway, account: string, stream = false) => {
  const request = { model: `${account}/gpt-4o-mini`, messages: [{ role: 'user' as const, content: 'hi' }] };
  return stream
    ? client(gateway)
        .chat.completions.create({ ...request, stream: true })
        .then(async (chunks) => {
          let text = '';
          for await (const chunk of chunks) text += chunk.choices[0]?.delta.content ?? '';
          return text.trim();
        })
    : client(gateway)
        .chat.completions.create(request)
        .then((c) => c.choices[0]?.message.content ?? '');
};

interface ReferenceState {
  ref: string;
  accounts: string[];
  state: string;
  age_seconds: number | null;
  failing_since: string | null;
  last_error: { reason: string; message: string } | null;
}

async function readyz(gateway: TestGateway): Promise<{ status: number; ready: boolean; refs: Map<string, ReferenceState> }> {
  const res = await fetch(`${gateway.url}/readyz`);
  const text = await res.text();
  exposed.push(text);
  const body = JSON.parse(text) as { ready: boolean; secrets: { references: ReferenceState[] } };
  return { status: res.status, ready: body.ready, refs: new Map(body.secrets.references.map((r) => [r.ref, r])) };
}

async function metricsText(gateway: TestGateway): Promise<string> {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  exposed.push(text);
  return text;
}

const refsOf = async (gateway: TestGateway): Promise<Map<string, ReferenceState>> => (await readyz(gateway)).refs;
const allIn = async (gateway: TestGateway, state: string): Promise<boolean> => {
  const refs = await refsOf(gateway);
  return STORES.every((s) => refs.get(s.ref)?.state === state);
};

beforeAll(async () => {
  [ssm, gcp, azure] = await Promise.all([startSsmServer(), startGcpSmServer(), startAzureKvServer()]);
  hostDir = await mkdtemp(join(tmpdir(), 'mg-secret-stores-'));

  // Credentials and endpoints the way an operator sets them on a gateway host.
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  gcp.trustServiceAccount(SA_EMAIL, publicKey.export({ type: 'spki', format: 'pem' }).toString());
  const keyFile = join(hostDir, 'gcp-sa.json');
  await writeFile(
    keyFile,
    JSON.stringify({
      type: 'service_account',
      project_id: 'acme-llm',
      private_key_id: 'k1',
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: SA_EMAIL,
      client_id: '1',
      token_uri: `${gcp.url}/token`,
    }),
  );
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: SSM_TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: SSM_TEST_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_SSM: ssm.url,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(hostDir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(hostDir, 'no-aws-credentials'),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    GOOGLE_APPLICATION_CREDENTIALS: keyFile,
    METADATA_SERVER_DETECTION: 'none',
    MODELGATE_GCP_SM_ENDPOINT: gcp.url,
    AZURE_TOKEN_CREDENTIALS: 'prod',
    ...azure.managedIdentity,
    MODELGATE_AZURE_KV_URL_TEMPLATE: azure.urlTemplate,
  });

  // The stand-in vault's CA is the one thing the environment cannot give an in-process gateway
  // (NODE_EXTRA_CA_CERTS is read when node starts), so it is an option.
  world = await createWorld({ gateway: { cloudSecrets: { azure: { ca: azure.ca } } } });
  for (const store of STORES) {
    const value = newKey(store.account);
    store.put(value);
    world.upstream.openaiKeys.add(value);
  }
  // Serial 2 adds the cloud-keyed accounts: their keys are read when it activates.
  await world.publish(2, {
    extraProviders: Object.fromEntries([...STORES, NEVER_READ].map((s) => [`${s.account}.yaml`, providerFile(s.account, s.ref, world.upstream.url)])),
    extraRules: `  - models: [${[...STORES, NEVER_READ].map((s) => `"${s.account}/*"`).join(', ')}]\n    users: [alice]\n`,
  });
  expect(await world.gateway.lifecycle.refresh()).toBe('activated');
}, scaled(20_000));

afterAll(async () => {
  await world?.close();
  await Promise.all([ssm?.close(), gcp?.close(), azure?.close()]);
  await rm(hostDir, { recursive: true, force: true });
});

describe('when a bundle activates with accounts keyed in each cloud store', () => {
  it('reads every key at activation, before any request', async () => {
    await waitFor(async () => [...(await readyz(world.gateway)).refs.values()].every((r) => r.state !== 'pending'));
    const { refs, status } = await readyz(world.gateway);
    expect(status).toBe(200);
    for (const store of STORES) expect(refs.get(store.ref)).toMatchObject({ accounts: [store.account], state: 'ok', last_error: null });
    for (const store of STORES) expect(store.reads()).toBe(1);
  });

  it.each(STORES.map((s) => [s.account, s]))('serves a request whose root key came from its store (%s)', async (_name, store) => {
    expect(await ask(world.gateway, store.account)).toBe('upstream gpt-4o-mini says hi');
    const sent = world.upstream.received.at(-1)!;
    expect(sent.headers.authorization).toBe(`Bearer ${values[STORES.indexOf(store)]}`);
    expect(store.reads()).toBe(1); // from memory
  });
});

describe("when an account's key was never read (its reference does not exist)", () => {
  it('answers 503 MG_SECRET_UNAVAILABLE for that account while the others keep working', async () => {
    const error = await ask(world.gateway, NEVER_READ.account).catch((e: unknown) => e as APIError);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).status).toBe(503);
    expect((error as APIError).code).toBe('MG_SECRET_UNAVAILABLE');
    expect(await ask(world.gateway, 'from-aws')).toBe('upstream gpt-4o-mini says hi');
  });

  it('reports it unavailable with its reason in /readyz and metrics, and stays ready', async () => {
    const { status, ready, refs } = await readyz(world.gateway);
    expect([status, ready]).toEqual([200, true]);
    expect(refs.get(NEVER_READ.ref)).toMatchObject({
      accounts: [NEVER_READ.account],
      state: 'unavailable',
      age_seconds: null,
      last_error: { reason: 'not_found' },
    });
    const metrics = await metricsText(world.gateway);
    expect(metrics).toContain(`modelgate_secret_unavailable{account="${NEVER_READ.account}"} 1`);
    expect(metrics).toContain('modelgate_secret_unavailable{account="from-aws"} 0');
  });
});

describe('when a key is rotated in its store and the provider stops accepting the old one', () => {
  it.each(STORES.map((s) => [s.account, s]))('re-reads once on the provider 401 and retries, with no restart (%s)', async (_name, store) => {
    const old = values[STORES.indexOf(store)] as string;
    const rotated = newKey(store.account);
    store.put(rotated);
    world.upstream.openaiKeys.delete(old);
    world.upstream.openaiKeys.add(rotated);
    const readsBefore = store.reads();
    const sentBefore = world.upstream.received.length;

    // Three at once, one of them streaming: every one gets a 401 with the old key, one re-read serves all.
    const answers = await Promise.all([ask(world.gateway, store.account), ask(world.gateway, store.account, true), ask(world.gateway, store.account)]);
    expect(answers).toEqual(['upstream gpt-4o-mini says hi', 'upstream gpt-4o-mini says hi', 'upstream gpt-4o-mini says hi']);
    expect(store.reads()).toBe(readsBefore + 1);
    const keysSent = world.upstream.received.slice(sentBefore).map((r) => r.headers.authorization);
    expect(keysSent.filter((k) => k === `Bearer ${rotated}`)).toHaveLength(3);
    expect(keysSent.filter((k) => k === `Bearer ${old}`).length).toBeGreaterThanOrEqual(1);

    // The next request uses the new key straight away.
    const sentNow = world.upstream.received.length;
    expect(await ask(world.gateway, store.account)).toBe('upstream gpt-4o-mini says hi');
    expect(world.upstream.received.slice(sentNow).map((r) => r.headers.authorization)).toEqual([`Bearer ${rotated}`]);
    values[STORES.indexOf(store)] = rotated;
    expect(world.gateway.logs.entries().some((e) => e.event === 'secret_rotated' && e.ref === store.ref)).toBe(true);
  });

  it('answers 502 MG_UPSTREAM_AUTH_FAILED when the provider refuses the re-read key too (one retry only)', async () => {
    const store = STORES[0] as Store;
    const current = values[0] as string;
    const unaccepted = newKey(store.account);
    store.put(unaccepted);
    world.upstream.openaiKeys.delete(current);
    const sentBefore = world.upstream.received.length;
    const error = await ask(world.gateway, store.account).catch((e: unknown) => e as APIError);
    expect((error as APIError).status).toBe(502);
    expect((error as APIError).code).toBe('MG_UPSTREAM_AUTH_FAILED');
    expect(world.upstream.received.slice(sentBefore).map((r) => r.headers.authorization)).toEqual([`Bearer ${current}`, `Bearer ${unaccepted}`]);
    // Once the provider accepts the key the store holds, requests work again without another read.
    world.upstream.openaiKeys.add(unaccepted);
    values[0] = unaccepted;
    const reads = store.reads();
    expect(await ask(world.gateway, store.account)).toBe('upstream gpt-4o-mini says hi');
    expect(store.reads()).toBe(reads);
  });
});

describe('when every store goes down after the keys were read', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    // A gateway refreshing every 150 ms, so the outage is seen at once.
    gateway = await startTestGateway({
      bundle: world.bundlePath,
      publicKeys: [world.signer.publicKey],
      cloudSecrets: { azure: { ca: azure.ca } },
      secretTtlMs: 150,
      secretTimeoutMs: scaled(1_000),
    });
    await waitFor(() => allIn(gateway, 'ok'));
    ssm.setMode('internal_error');
    gcp.setMode('unavailable');
    azure.setMode('throttle');
    await waitFor(() => allIn(gateway, 'stale'));
  });
  afterAll(async () => {
    ssm.setMode('ok');
    gcp.setMode('ok');
    azure.setMode('ok');
    await gateway?.close();
  });

  it.each(STORES.map((s) => [s.account, s]))('keeps serving %s with the key held in memory', async (_name, store) => {
    expect(await ask(gateway, store.account)).toBe('upstream gpt-4o-mini says hi');
  });

  it('stays ready and shows each key stale in /readyz with the reason and since when', async () => {
    const { status, ready, refs } = await readyz(gateway);
    expect([status, ready]).toEqual([200, true]);
    expect(refs.get(STORES[0]!.ref)).toMatchObject({ state: 'stale', last_error: { reason: 'read_failed' } });
    expect(refs.get(STORES[1]!.ref)).toMatchObject({ state: 'stale', last_error: { reason: 'read_failed' } });
    expect(refs.get(STORES[2]!.ref)).toMatchObject({ state: 'stale', last_error: { reason: 'throttled' } });
    for (const store of STORES) expect(Date.parse(refs.get(store.ref)!.failing_since as string)).toBeLessThanOrEqual(Date.now());
    expect([...refs.values()].find((r) => r.accounts.includes('local'))?.state).toBe('ok');
  });

  it('exports staleness, key age and read failures by reason as metrics', async () => {
    const metrics = await metricsText(gateway);
    for (const store of STORES) expect(metrics).toContain(`modelgate_secret_stale{account="${store.account}"} 1`);
    expect(metrics).toContain('modelgate_secret_stale{account="local"} 0');
    expect(metrics).toMatch(/modelgate_secret_read_failures_total\{reason="throttled",kind="refresh"\} [1-9]/);
    expect(metrics).toMatch(/modelgate_secret_read_failures_total\{reason="read_failed",kind="refresh"\} [1-9]/);
    expect(metrics).toMatch(/modelgate_secret_age_seconds\{account="from-gcp"\} \d/);
  });

  it('turns each key back to ok once its store answers again', async () => {
    ssm.setMode('ok');
    gcp.setMode('ok');
    azure.setMode('ok');
    await waitFor(() => allIn(gateway, 'ok'));
    expect(await ask(gateway, 'from-azure')).toBe('upstream gpt-4o-mini says hi');
    expect(leakedSecrets(gateway.logs.lines, values)).toEqual([]);
    expect(gateway.logs.entries().some((e) => e.event === 'secret_read_failed' && e.ref === STORES[2]!.ref && e.reason === 'throttled')).toBe(true);
  });
});

describe('when the run is over', () => {
  it('never put a root key value in a log line, /readyz or /metrics', () => {
    expect(leakedSecrets(world.gateway.logs.lines, values)).toEqual([]);
    expect(leakedSecrets(exposed, values)).toEqual([]);
    expect(exposed.length).toBeGreaterThan(3);
  });
});
