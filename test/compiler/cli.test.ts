// The modelgate CLI end to end, as a user runs it: real processes, real files.
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseApiKey, sha256Hex } from '../../schemas/formats/api-key.ts';
import { runCli } from '../support/run-cli.ts';

const EXAMPLE = new URL('../../policies', import.meta.url).pathname;
let work: string;
let policies: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mg-cli-'));
  policies = join(work, 'policies');
  await cp(EXAMPLE, policies, { recursive: true });
});
afterAll(() => rm(work, { recursive: true, force: true }));

describe('keygen -> compile -> verify', () => {
  it('round-trips, and a bundle for another audience or with one byte changed fails verify', async () => {
    expect((await runCli(['keygen', '--out', join(work, 'k')])).code).toBe(0);
    const compiled = await runCli([
      'compile',
      '--policies',
      policies,
      '--out',
      join(work, 'bundle.json'),
      '--signing-key',
      join(work, 'k/signing-key.pem'),
      '--format',
      'json',
    ]);
    expect(compiled.code).toBe(0);
    const summary = JSON.parse(compiled.stdout) as { serial: number; audience: string; counts: { principals: number } };
    expect(summary.audience).toBe('dev-gateway');
    expect(summary.counts.principals).toBe(6);

    const verified = await runCli(['verify', join(work, 'bundle.json'), '--public-key', join(work, 'k/signing-key.pub.pem'), '--format', 'json']);
    expect(verified.code).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, serial: summary.serial, audience: 'dev-gateway' });

    const wrongAudience = await runCli([
      'verify',
      join(work, 'bundle.json'),
      '--public-key',
      join(work, 'k/signing-key.pub.pem'),
      '--audience',
      'prod-gateway',
    ]);
    expect(wrongAudience.code).toBe(1);
    expect(wrongAudience.stderr).toContain('MG_BUNDLE_AUDIENCE');

    const bytes = await readFile(join(work, 'bundle.json'));
    const tampered = Buffer.from(bytes);
    const at = Math.floor(bytes.length / 2);
    tampered[at] = tampered[at]! ^ 0x01;
    await writeFile(join(work, 'tampered.json'), tampered);
    const refused = await runCli(['verify', join(work, 'tampered.json'), '--public-key', join(work, 'k/signing-key.pub.pem')]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/MG_BUNDLE_(BAD_SIGNATURE|MALFORMED)/);
  });

  it('never lets the serial go backwards when compiling over a previous bundle', async () => {
    const out = join(work, 'serial.json');
    const key = join(work, 'k/signing-key.pem');
    const first = JSON.parse(
      (await runCli(['compile', '--policies', policies, '--out', out, '--signing-key', key, '--serial', '9999999999', '--format', 'json'])).stdout,
    ) as { serial: number };
    const second = JSON.parse((await runCli(['compile', '--policies', policies, '--out', out, '--signing-key', key, '--format', 'json'])).stdout) as {
      serial: number;
    };
    expect(first.serial).toBe(9999999999);
    expect(second.serial).toBe(10000000000);
  });

  it('writes byte-identical bundles for the same inputs', async () => {
    const args = (out: string) => [
      'compile',
      '--policies',
      policies,
      '--out',
      join(work, out),
      '--signing-key',
      join(work, 'k/signing-key.pem'),
      '--serial',
      '7',
      '--revision',
      'abc',
      '--created-at',
      '2026-11-01T00:00:00Z',
    ];
    expect((await runCli(args('a.json'))).code).toBe(0);
    expect((await runCli(args('b.json'))).code).toBe(0);
    expect(await readFile(join(work, 'a.json'))).toEqual(await readFile(join(work, 'b.json')));
  });

  it('refuses a signing key that is not Ed25519 with exit 2', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await writeFile(join(work, 'rsa.pem'), rsa);
    const result = await runCli(['compile', '--policies', policies, '--out', join(work, 'x.json'), '--signing-key', join(work, 'rsa.pem')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Ed25519');
  });
});

describe('keys create', () => {
  it('writes a record holding only the hash and prints the key once', async () => {
    const result = await runCli(['keys', 'create', '--principal', 'service:llmapp1', '--expires', '30d', '--policies', policies, '--format', 'json']);
    expect(result.code).toBe(0);
    const created = JSON.parse(result.stdout) as { id: string; key: string; record: string };
    expect(parseApiKey(created.key)).toBe(created.id);
    const record = await readFile(created.record, 'utf8');
    expect(record).toContain(`sha256: ${sha256Hex(created.key)}`);
    expect(record).not.toContain(created.key.split('_')[2]);
    expect(record).toContain('principal: service:llmapp1');
    const check = await runCli(['check', '--policies', policies]);
    expect(check.code).toBe(0);
  });

  it('refuses an unknown principal with a suggestion and writes nothing', async () => {
    const before = await readdir(join(policies, 'keys'));
    const result = await runCli(['keys', 'create', '--principal', 'alcie', '--policies', policies]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('did you mean "alice"');
    expect(await readdir(join(policies, 'keys'))).toEqual(before);
  });
});

describe('explain', () => {
  it('names the granting rule, and says why not once the grant has lapsed', async () => {
    const allowed = await runCli(['explain', 'carol', 'openai-main/gpt-4o-mini', '--at', '2027-01-01T00:00:00Z', '--policies', policies, '--format', 'json']);
    expect(allowed.code).toBe(0);
    expect(JSON.parse(allowed.stdout)).toMatchObject({ allowed: true, granted_by: 'authz/openai.yaml:5:5' });
    const lapsed = await runCli(['explain', 'carol', 'openai-main/gpt-4o-mini', '--at', '2027-04-01T00:00:00Z', '--policies', policies]);
    expect(lapsed.stdout).toContain('DENY carol -> openai-main/gpt-4o-mini');
    expect(lapsed.code, 'a DENY exits 1 so scripts can test access by exit code').toBe(1);
    expect(lapsed.stdout).toContain('every rule that granted it has expired');
  });

  it('reports a team grant through the team', async () => {
    const result = await runCli(['explain', 'bob', 'openai-main/gpt-4o', '--policies', policies]);
    expect(result.stdout).toContain('ALLOW bob -> openai-main/gpt-4o');
    expect(result.stdout).toContain('applies via team ml-platform');
  });

  it('denies a disabled model to everyone', async () => {
    const result = await runCli(['explain', 'alice', 'openai-main/gpt-4-32k', '--policies', policies, '--format', 'json']);
    expect(JSON.parse(result.stdout)).toMatchObject({ allowed: false, reason: 'model_disabled' });
    expect(result.code).toBe(1);
  });
});

describe('usage and help', () => {
  it.each(['check', 'compile', 'verify', 'explain', 'keygen', 'keys create'])('prints help for %s and exits 0', async (command) => {
    const result = await runCli([...command.split(' '), '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`modelgate ${command}`);
  });

  it('exits 2 on an unknown command, an unknown flag or a missing argument', async () => {
    expect((await runCli(['frobnicate'])).code).toBe(2);
    expect((await runCli(['check', '--polices', 'x'])).code).toBe(2);
    expect((await runCli(['verify', 'x.json'])).code).toBe(2);
    expect((await runCli(['check', '--policies', join(work, 'missing')])).code).toBe(2);
  });
});
