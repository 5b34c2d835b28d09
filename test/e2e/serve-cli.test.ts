// `modelgate serve` as a process: --help, usage errors (exit 2), and SIGHUP reloading the bundle (one sent while it starts too).
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signingPair, waitFor } from '../support/gateway.ts';
import { leakedSecrets } from '../support/logs.ts';
import { AUDIENCE, buildBundle, mintTestKeys, type TestKeys, writePolicyTree } from '../support/policies.ts';
import { scaled } from '../support/time-scale.ts';

const bin = fileURLToPath(new URL('../../bin/modelgate.js', import.meta.url));
let dir: string;
let keys: TestKeys;
const signer = signingPair();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mg-cli-'));
  keys = mintTestKeys();
  await writePolicyTree(join(dir, 'p'), keys, { upstreamUrl: 'http://127.0.0.1:9', azureKeyFile: join(dir, 'none'), openaiKeyVar: 'MG_CLI_KEY' });
  await writeFile(join(dir, 'public.pem'), signer.publicKey.export({ type: 'spki', format: 'pem' }));
  await writeFile(join(dir, 'bundle.json'), await buildBundle(join(dir, 'p'), 1, signer.privateKey));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, MODELGATE_BUNDLE: '', MODELGATE_AUDIENCE: '' },
      timeout: scaled(20_000),
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('when serve is asked for help', () => {
  it('prints the usage and exits 0', async () => {
    const result = await run(['serve', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('--bundle URL|PATH');
    expect(result.stdout).toContain('--on-expiry');
  });
});

describe('when serve is called wrongly', () => {
  it('exits 2 without --bundle', async () => {
    const result = await run(['serve', '--public-key', join(dir, 'public.pem'), '--audience', AUDIENCE]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--bundle is required');
  });

  it('exits 2 on an unknown flag', async () => {
    expect((await run(['serve', '--bundel', 'x'])).code).toBe(2);
  });

  it('exits 2 for plain http:// to a non-loopback host', async () => {
    const result = await run(['serve', '--bundle', 'http://bundles.example.com/b.json', '--public-key', join(dir, 'public.pem'), '--audience', AUDIENCE]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('https://');
  });
});

describe('when serve runs and receives SIGHUP', () => {
  it('reloads the bundle on the signal, with the next poll an hour away', async () => {
    const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [
      bin,
      'serve',
      '--bundle',
      join(dir, 'bundle.json'),
      '--public-key',
      join(dir, 'public.pem'),
      '--audience',
      AUDIENCE,
      '--port',
      '0',
      '--poll',
      '1h',
      '--cache-dir',
      'none',
    ]);
    const lines: string[] = [];
    child.stdout.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter(Boolean)));
    try {
      await waitFor(() => lines.some((l) => l.includes('"event":"listening"')), scaled(20_000));
      const address = (JSON.parse(lines.find((l) => l.includes('"event":"listening"'))!) as { address: string }).address;
      const serial = async (): Promise<number> => ((await (await fetch(`${address}/readyz`)).json()) as { bundle: { serial: number } }).bundle.serial;
      await waitFor(async () => (await fetch(`${address}/readyz`)).status === 200);
      expect(await serial()).toBe(1);
      await writeFile(join(dir, 'bundle.json'), await buildBundle(join(dir, 'p'), 2, signer.privateKey));
      child.kill('SIGHUP');
      await waitFor(async () => (await serial()) === 2);
      const res = await fetch(`${address}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${keys.bob}` },
        body: JSON.stringify({ model: 'mock/gpt-4o-mini', messages: [] }),
      });
      expect(res.status).toBe(200);
      await waitFor(() => lines.some((l) => l.includes('"msg":"request"')));
    } finally {
      const exited = new Promise((r) => child.on('close', r));
      child.kill('SIGTERM');
      await exited;
    }
    expect(lines.some((l) => l.includes('"event":"reload"'))).toBe(true);
    expect(leakedSecrets(lines, Object.values(keys))).toEqual([]);
  });
});

describe('when serve receives SIGHUP while it starts', () => {
  it('keeps starting, and reloads once it has started', async () => {
    // A bundle host that holds the first download until the signal has been sent.
    let requests = 0;
    let release = (): void => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const host = createServer((_req, res) => {
      requests++;
      const answer = async (): Promise<void> => {
        if (requests === 1) await held;
        res.writeHead(200, { 'content-type': 'application/json' }).end(await readFile(join(dir, 'bundle.json')));
      };
      void answer();
    });
    await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
    const bundleUrl = `http://127.0.0.1:${(host.address() as AddressInfo).port}/bundle.json`;
    const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [
      bin,
      'serve',
      ...['--bundle', bundleUrl, '--public-key', join(dir, 'public.pem'), '--audience', AUDIENCE],
      ...['--port', '0', '--poll', '1h', '--cache-dir', 'none'],
    ]);
    const lines: string[] = [];
    child.stdout.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter(Boolean)));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    try {
      // The first download is under way: the gateway has not started yet.
      await waitFor(() => requests === 1, scaled(20_000));
      expect(lines.some((l) => l.includes('"event":"listening"'))).toBe(false);
      child.kill('SIGHUP');
      // SIGHUP's default action would end the process here.
      await waitFor(() => lines.some((l) => l.includes('"event":"reload"')) || child.exitCode !== null || child.signalCode !== null, scaled(20_000));
      expect(child.signalCode).toBe(null);
      release();
      await waitFor(() => lines.some((l) => l.includes('"event":"listening"')) || child.exitCode !== null, scaled(20_000));
      expect(child.exitCode).toBe(null);
      expect(child.signalCode).toBe(null);
      // The reload asked for during the start: one more download, once started.
      await waitFor(() => requests === 2, scaled(20_000));
      const address = (JSON.parse(lines.find((l) => l.includes('"event":"listening"')) as string) as { address: string }).address;
      await waitFor(async () => (await fetch(`${address}/readyz`)).status === 200, scaled(20_000));
    } finally {
      release();
      child.kill('SIGTERM');
      await exited;
      host.closeAllConnections();
      await new Promise((r) => host.close(r));
    }
  });
});
