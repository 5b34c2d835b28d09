// The container image as users build and run it: the repository's Dockerfile built with podman
// (FROM a stand-in of the Node base image, stand-in-base.ts), run with a read-only root file
// system as its non-root user, against a recording upstream and a bundle host on 127.0.0.1. The
// official openai client makes one request through it; its audit line is read from the
// container's log; `podman stop` (SIGTERM to node as PID 1) ends it through the graceful drain.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BundleHost, startBundleHost } from '../support/bundle-host.ts';
import { signingPair, waitFor } from '../support/gateway.ts';
import { IMAGE_ENV, IMAGE_NODE_ARGS } from '../support/image-node.ts';
import { leakedSecrets } from '../support/logs.ts';
import { AUDIENCE, buildBundle, mintTestKeys, type TestKeys, writePolicyTree } from '../support/policies.ts';
import { scaled } from '../support/time-scale.ts';
import { startUpstream, type Upstream } from '../support/upstream.ts';
import { mustSucceed, type Podman, podman } from './podman.ts';
import { baseImages, ensureStandInBase } from './stand-in-base.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const IMAGE = 'localhost/modelgate:test-image';
const CONTAINER = `modelgate-test-${process.pid}`;
const ROOT_KEY_VAR = 'MG_IMAGE_OPENAI_KEY';
const BUILD_GUARD_MS = scaled(240_000);
const GUARD_MS = scaled(30_000);

let dir: string;
let pm: Podman;
let keys: TestKeys;
let upstream: Upstream;
let bundles: BundleHost;
const rootKey = `sk-image-${Date.now().toString(36)}0123456789abcdef`;

/** n distinct free ports: all held open until each is known (one released port may come back). */
async function freePorts(n: number): Promise<number[]> {
  const servers = Array.from({ length: n }, () => createServer());
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))));
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

beforeAll(async () => {
  const version = await import('./podman.ts').then((m) => m.run('podman', ['--version'], { guardMs: GUARD_MS }));
  if (version.code !== 0) throw new Error('podman is required (apt-get install -y podman runc); .ci/run installs it');
  dir = await mkdtemp(join(tmpdir(), 'mg-image-'));
  await chmod(dir, 0o755); // read by the image's user (10001)
  pm = await podman(dir);
  keys = mintTestKeys();
  upstream = await startUpstream({ openaiKey: rootKey, azureKey: 'unused-azure-key' });
  const signer = signingPair();
  await writePolicyTree(join(dir, 'policies'), keys, { upstreamUrl: upstream.url, azureKeyFile: '/nonexistent/azure.key', openaiKeyVar: ROOT_KEY_VAR });
  bundles = await startBundleHost(await buildBundle(join(dir, 'policies'), 1, signer.privateKey));
  await writeFile(join(dir, 'public.pem'), signer.publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
});

afterAll(async () => {
  await pm?.(['rm', '--force', '--volumes', '--ignore', CONTAINER], GUARD_MS);
  await upstream?.close();
  await bundles?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('when the Dockerfile is built and run with a read-only root file system', () => {
  it('serves a request through the openai client, audits it, and drains on SIGTERM with exit 0', async () => {
    const dockerfile = join(ROOT, 'Dockerfile');
    await ensureStandInBase(pm, await baseImages(dockerfile), BUILD_GUARD_MS);
    mustSucceed(await pm(['build', '--isolation', 'chroot', '--network', 'host', '--file', dockerfile, '--tag', IMAGE, ROOT], BUILD_GUARD_MS), 'podman build');

    const user = mustSucceed(await pm(['image', 'inspect', '--format', '{{.Config.User}}', IMAGE], GUARD_MS), 'inspect').stdout.trim();
    expect(user).toBe('10001:10001');

    const [port, adminPort] = (await freePorts(2)) as [number, number];
    mustSucceed(
      await pm(
        [
          'run',
          '--detach',
          '--name',
          CONTAINER,
          '--read-only',
          '--network',
          'host',
          // The image's VOLUME /var/cache/modelgate: an anonymous volume, writable by the image's user.
          '--volume',
          `${join(dir, 'public.pem')}:/etc/modelgate/keys/signing-key.pub.pem:ro`,
          '--env',
          `MODELGATE_BUNDLE=${bundles.url}`,
          '--env',
          'MODELGATE_PUBLIC_KEYS=/etc/modelgate/keys/signing-key.pub.pem',
          '--env',
          `MODELGATE_AUDIENCE=${AUDIENCE}`,
          '--env',
          'MODELGATE_HOST=127.0.0.1',
          '--env',
          'MODELGATE_ADMIN_HOST=127.0.0.1',
          '--env',
          `MODELGATE_PORT=${port}`,
          '--env',
          `MODELGATE_ADMIN_PORT=${adminPort}`,
          '--env',
          'MODELGATE_SHUTDOWN_DELAY=1s',
          '--env',
          `${ROOT_KEY_VAR}=${rootKey}`,
          IMAGE,
        ],
        GUARD_MS,
      ),
      'podman run',
    );
    const logs = async (): Promise<string[]> => {
      const result = await pm(['logs', CONTAINER], GUARD_MS);
      return (result.stdout + result.stderr).split('\n').filter((l) => l !== '');
    };
    const readyz = async (): Promise<number> => (await fetch(`http://127.0.0.1:${adminPort}/readyz`).catch(() => null))?.status ?? 0;
    try {
      await waitFor(async () => (await readyz()) === 200, GUARD_MS);
    } catch (error) {
      throw new Error(`the container never became ready:\n${(await logs()).join('\n')}`, { cause: error });
    }

    const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: keys.alice, maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: 'local/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    expect(completion.choices[0]?.message.content).toBe('upstream gpt-4o-mini-2024-07-18 says hi');
    expect(upstream.received.at(-1)?.headers.authorization).toBe(`Bearer ${rootKey}`);

    await waitFor(async () => (await logs()).some((l) => l.includes('"audit":true')), GUARD_MS);
    const audit = JSON.parse((await logs()).find((l) => l.includes('"audit":true')) as string) as Record<string, unknown>;
    expect(audit).toMatchObject({ principal: 'alice', model: 'local/gpt-4o-mini', decision: 'allow', status: 200, account: 'local' });
    // The cache on its volume was written: the root file system is read-only, the volume is not.
    expect((await logs()).some((l) => l.includes('bundle_cache_failed'))).toBe(false);
    const cached = await pm(['exec', CONTAINER, 'node', '-e', "console.log(require('fs').readdirSync('/var/cache/modelgate').sort().join(','))"], GUARD_MS);
    expect(mustSucceed(cached, 'podman exec').stdout.trim()).toBe('bundle.json,serial-floor.json');
    // The gateway (PID 1) runs with one V8 background thread and glibc's mmap threshold fixed
    // (Dockerfile): swaps leave the event loop its core and give their memory back.
    const cmdline = await pm(
      ['exec', CONTAINER, 'node', '-p', "require('fs').readFileSync('/proc/1/cmdline', 'utf8').split('\\0').slice(0, 3).join(' ')"],
      GUARD_MS,
    );
    expect(mustSucceed(cmdline, 'podman exec').stdout.trim()).toBe(['node', ...IMAGE_NODE_ARGS, '/app/bin/modelgate.js'].join(' '));
    const environ = await pm(
      [
        'exec',
        CONTAINER,
        'node',
        '-p',
        `require('fs').readFileSync('/proc/1/environ', 'utf8').split('\\0').filter((e) => ${JSON.stringify(Object.keys(IMAGE_ENV))}.includes(e.split('=')[0])).join(',')`,
      ],
      GUARD_MS,
    );
    expect(mustSucceed(environ, 'podman exec').stdout.trim()).toBe(
      Object.entries(IMAGE_ENV)
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
    );

    mustSucceed(await pm(['stop', '--time', String(Math.ceil(GUARD_MS / 1000)), CONTAINER], GUARD_MS), 'podman stop');
    const exit = mustSucceed(await pm(['inspect', '--format', '{{.State.ExitCode}}', CONTAINER], GUARD_MS), 'inspect').stdout.trim();
    expect(exit).toBe('0');
    const lines = await logs();
    expect(lines.some((l) => l.includes('"event":"shutdown_draining"'))).toBe(true);
    expect(lines.at(-1)).toContain('"event":"shutdown_closed"');
    expect(leakedSecrets(lines, [...Object.values(keys), rootKey])).toEqual([]);
  });
});
