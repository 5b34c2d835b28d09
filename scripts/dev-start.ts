// `npm start`: an offline gateway in one command, on a fresh clone.
// 1. a dev signing key, generated once into .dev/ (git-ignored);
// 2. policies/ copied to .dev/policies/ with dev API keys for alice and service:llmapp1 added
//    there (the tracked policies/keys/ is never touched; key plaintexts stay in .dev/ for reuse);
// 3. the copy compiled and signed into .dev/bundle.json;
// 4. the runtime serving it on 127.0.0.1:8080 (PORT overrides), where the mock account answers offline.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { chmod, cp, mkdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileBundle } from '../compiler/bundle/compile-bundle.ts';
import { parseBundleSource } from '../runtime/bundle/download.ts';
import { envSecretSource } from '../runtime/secrets/env-source.ts';
import { fileSecretSource } from '../runtime/secrets/file-source.ts';
import { startRuntime } from '../runtime/start.ts';
import { mintApiKey } from '../schemas/formats/api-key.ts';
import { generateSigningKeyPair } from '../schemas/formats/signing-keys.ts';
import { writeFileAtomic } from '../schemas/io/write-atomic.ts';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const dev = join(root, '.dev');
const DEV_PRINCIPALS = ['alice', 'service:llmapp1'] as const;

interface DevKey {
  principal: string;
  id: string;
  key: string;
  sha256: string;
}

async function readJson<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return null;
  }
}

async function signingKey(): Promise<{ privatePem: string; publicPem: string }> {
  const path = join(dev, 'signing-key.pem');
  try {
    const privatePem = await readFile(path, 'utf8');
    const publicPem = createPublicKey(createPrivateKey(privatePem)).export({ type: 'spki', format: 'pem' }).toString();
    return { privatePem, publicPem };
  } catch {
    const pair = generateSigningKeyPair();
    await writeFileAtomic(path, pair.privatePem, 0o600);
    console.log('modelgate dev: generated a dev signing key in .dev/signing-key.pem');
    return pair;
  }
}

async function devKeys(): Promise<DevKey[]> {
  const path = join(dev, 'api-keys.json');
  const known = (await readJson<DevKey[]>(path)) ?? [];
  const keys = DEV_PRINCIPALS.map((principal) => known.find((k) => k.principal === principal) ?? { principal, ...mintApiKey() });
  await writeFileAtomic(path, JSON.stringify(keys, null, 2) + '\n', 0o600);
  await chmod(path, 0o600);
  return keys;
}

// The serial never goes backwards, even for two starts within one second: the runtime's cache
// keeps a serial floor and refuses an older (or a different same-serial) bundle.
async function nextSerial(): Promise<number> {
  const path = join(dev, 'serial');
  const last = Number((await readFile(path, 'utf8').catch(() => '0')).trim()) || 0;
  const serial = Math.max(last + 1, Math.floor(Date.now() / 1000));
  await writeFileAtomic(path, `${serial}\n`, 0o644);
  return serial;
}

async function main(): Promise<number> {
  await mkdir(dev, { recursive: true });
  const { privatePem, publicPem } = await signingKey();
  await writeFileAtomic(join(dev, 'signing-key.pub.pem'), publicPem, 0o644);
  const keys = await devKeys();

  const policies = join(dev, 'policies');
  await rm(policies, { recursive: true, force: true });
  await cp(join(root, 'policies'), policies, { recursive: true });
  await mkdir(join(policies, 'keys'), { recursive: true });
  for (const k of keys) {
    await writeFileAtomic(
      join(policies, 'keys', `${k.id}.yaml`),
      `id: ${k.id}\nprincipal: ${k.principal}\nsha256: ${k.sha256}\ncreated: 2026-01-01T00:00:00Z\ndescription: dev key made by npm start (plaintext in .dev/api-keys.json)\n`,
      0o644,
    );
  }

  const serial = await nextSerial();
  const { analysis, bundle } = await compileBundle(policies, { signingKey: createPrivateKey(privatePem), serial, revision: 'dev', createdAt: new Date() });
  if (bundle === null) {
    console.error('modelgate dev: the policies do not compile:');
    for (const d of analysis.diagnostics) console.error(`  ${JSON.stringify(d)}`);
    return 1;
  }
  const { payload } = bundle;
  const bundlePath = join(dev, 'bundle.json');
  await writeFileAtomic(bundlePath, bundle.envelope, 0o644);

  const source = parseBundleSource(bundlePath);
  if ('problem' in source) throw new Error(source.problem);
  const port = Number(process.env.PORT ?? 8080);
  let runtime;
  try {
    runtime = await startRuntime(
      {
        bundle: source,
        trustedKeys: [createPublicKey(publicPem)],
        audience: payload.audience,
        host: '127.0.0.1',
        port,
        cacheDir: join(dev, 'cache'),
        pollMs: 10_000,
        expiryPolicy: 'fail-closed',
        bodyLimit: 4 * 1024 * 1024,
        upstreamTimeoutMs: 120_000,
        maxBundleBytes: 64 * 1024 * 1024,
        fetchTimeoutMs: 30_000,
      },
      {
        // Offline by design: env:// and file:// only, so the example accounts' cloud references are
        // reported as unsupported instead of probing cloud credential endpoints from a laptop.
        secretSources: [envSecretSource(), fileSecretSource()],
      },
    );
  } catch (error) {
    console.error(
      `modelgate dev: cannot listen on 127.0.0.1:${port} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); set PORT to use another port`,
    );
    return 2;
  }
  const alice = keys[0] as DevKey;
  const app = keys[1] as DevKey;
  console.log(`
modelgate dev gateway listening on ${runtime.url}  (bundle serial ${serial}, audience ${payload.audience})
  dev API keys (kept in .dev/api-keys.json and reused on the next start):
    alice            ${alice.key}
    service:llmapp1  ${app.key}
  try the offline mock account:
    curl -s ${runtime.url}/v1/chat/completions -H "Authorization: Bearer ${alice.key}" -H "content-type: application/json" -d '{"model": "mock/gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}'
    curl -s ${runtime.url}/v1/models -H "Authorization: Bearer ${app.key}"
  model names are account/model: mock/gpt-4o-mini, mock/text-embedding-3-small (see docs/quickstart.md)
  edit policies/ and restart to recompile. Ctrl-C stops.
`);
  await new Promise<void>((resolveStop) => {
    process.once('SIGINT', resolveStop);
    process.once('SIGTERM', resolveStop);
  });
  await runtime.close();
  return 0;
}

process.exitCode = await main();
