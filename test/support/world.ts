// One test world: a temp dir with a policy tree, root keys (env:// and file://), a local
// upstream, a signing key, a first signed bundle on disk, and a gateway serving it.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signingPair, startTestGateway, type TestGateway, type TestGatewayOptions } from './gateway.ts';
import { buildBundle, mintTestKeys, type TestKeys, type TreeOptions, writePolicyTree } from './policies.ts';
import { startUpstream, type Upstream } from './upstream.ts';

export interface World {
  dir: string;
  policies: string;
  bundlePath: string;
  keys: TestKeys;
  rootKeys: { openai: string; azure: string };
  upstream: Upstream;
  signer: ReturnType<typeof signingPair>;
  gateway: TestGateway;
  /** Every secret of this world: searched for in the captured logs. */
  secrets(): string[];
  /** Rewrites the policy tree (with extra options) and writes bundle `serial` to bundlePath. */
  publish(serial: number, tree?: Partial<TreeOptions>): Promise<Buffer>;
  close(): Promise<void>;
}

export async function createWorld(options: { tree?: Partial<TreeOptions>; gateway?: Partial<TestGatewayOptions> } = {}): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'mg-world-'));
  const policies = join(dir, 'policies');
  const bundlePath = join(dir, 'bundle.json');
  const keys = mintTestKeys();
  const rootKeys = { openai: `sk-test-${randomBytes(18).toString('hex')}`, azure: randomBytes(16).toString('hex') };
  const openaiKeyVar = `MG_TEST_OPENAI_KEY_${randomBytes(4).toString('hex').toUpperCase()}`;
  process.env[openaiKeyVar] = rootKeys.openai;
  const azureKeyFile = join(dir, 'azure.key');
  await writeFile(azureKeyFile, rootKeys.azure + '\n', { mode: 0o600 });
  const upstream = await startUpstream({ openaiKey: rootKeys.openai, azureKey: rootKeys.azure, azureApiVersion: '2024-10-21' });
  const signer = signingPair();
  const baseTree: TreeOptions = { upstreamUrl: upstream.url, azureKeyFile, openaiKeyVar, ...options.tree };

  const publish = async (serial: number, tree: Partial<TreeOptions> = {}): Promise<Buffer> => {
    await rm(policies, { recursive: true, force: true });
    await writePolicyTree(policies, keys, { ...baseTree, ...tree });
    const bytes = await buildBundle(policies, serial, signer.privateKey);
    await writeFile(bundlePath, bytes);
    return bytes;
  };
  await publish(1);
  const gateway = await startTestGateway({ bundle: bundlePath, publicKeys: [signer.publicKey], ...options.gateway });
  return {
    dir,
    policies,
    bundlePath,
    keys,
    rootKeys,
    upstream,
    signer,
    gateway,
    secrets: () => [...Object.values(keys), rootKeys.openai, rootKeys.azure],
    publish,
    async close() {
      await gateway.close();
      await upstream.close();
      delete process.env[openaiKeyVar];
      await rm(dir, { recursive: true, force: true });
    },
  };
}
