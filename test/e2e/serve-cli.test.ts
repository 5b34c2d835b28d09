// `modelgate serve` as a process: --help, usage errors (exit 2), and SIGHUP reloading the bundle.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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
