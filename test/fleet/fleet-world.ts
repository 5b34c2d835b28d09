// A policy tree, a signed bundle, its public key and a held upstream (held-upstream.ts) in a temp
// folder, for `modelgate serve` run as a child process (test/support/serve-process.ts).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signingPair } from '../support/gateway.ts';
import { AUDIENCE, buildBundle, mintTestKeys, type TestKeys, writePolicyTree } from '../support/policies.ts';
import { type HeldUpstream, startHeldUpstream } from './held-upstream.ts';

export interface FleetWorld {
  dir: string;
  keys: TestKeys;
  rootKey: string;
  upstream: HeldUpstream;
  /** The `serve` arguments that load this world's bundle (add --port and the rest). */
  serveArgs: string[];
  /** The environment that holds the provider root key. */
  env: NodeJS.ProcessEnv;
  secrets(): string[];
  close(): Promise<void>;
}

export async function createFleetWorld(): Promise<FleetWorld> {
  const dir = await mkdtemp(join(tmpdir(), 'mg-fleet-'));
  const keys = mintTestKeys();
  const rootKey = `sk-fleet-${randomBytes(18).toString('hex')}`;
  const keyVar = `MG_FLEET_KEY_${randomBytes(4).toString('hex').toUpperCase()}`;
  const upstream = await startHeldUpstream(rootKey);
  const signer = signingPair();
  await writePolicyTree(join(dir, 'policies'), keys, { upstreamUrl: upstream.url, azureKeyFile: join(dir, 'none.key'), openaiKeyVar: keyVar });
  await writeFile(join(dir, 'bundle.json'), await buildBundle(join(dir, 'policies'), 1, signer.privateKey));
  await writeFile(join(dir, 'public.pem'), signer.publicKey.export({ type: 'spki', format: 'pem' }));
  return {
    dir,
    keys,
    rootKey,
    upstream,
    serveArgs: ['--bundle', join(dir, 'bundle.json'), '--public-key', join(dir, 'public.pem'), '--audience', AUDIENCE],
    env: { [keyVar]: rootKey },
    secrets: () => [...Object.values(keys), rootKey],
    async close() {
      await upstream.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The JSON lines of a process's output that have `event` (or "audit": the audit lines). */
export function logEvents(lines: string[], event: string): Record<string, unknown>[] {
  return lines.flatMap((line) => {
    if (!line.startsWith('{')) return [];
    const parsed = JSON.parse(line) as Record<string, unknown>;
    return parsed.event === event || (event === 'audit' && parsed.audit === true) ? [parsed] : [];
  });
}
