// API keys from creation to revocation: every key expires, and the records can be listed and revoked.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeFiles } from '../../compiler/io/analyze-folder.ts';
import { policyFiles } from '../support/policy-files.ts';
import { runCli } from '../support/run-cli.ts';

const EXAMPLE = new URL('../../policies', import.meta.url).pathname;
const DAY = 86_400_000;
let work: string;
let policies: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mg-keys-'));
  policies = join(work, 'policies');
  await cp(EXAMPLE, policies, { recursive: true });
});
afterAll(() => rm(work, { recursive: true, force: true }));

const create = async (...extra: string[]) => runCli(['keys', 'create', '--principal', 'alice', '--policies', policies, '--format', 'json', ...extra]);

describe('when keys create is not told an expiry', () => {
  it('sets 90 days, or gateway.yaml keys.default_expiry', async () => {
    const first = await create();
    expect(first.code).toBe(0);
    const expires = Date.parse((JSON.parse(first.stdout) as { expires: string }).expires);
    expect(Math.abs(expires - (Date.now() + 90 * DAY))).toBeLessThan(60_000);

    const gateway = join(policies, 'gateway.yaml');
    const original = await readFile(gateway, 'utf8');
    await writeFile(gateway, `${original}keys:\n  default_expiry: 30d\n`);
    const second = await create();
    await writeFile(gateway, original);
    expect(second.code).toBe(0);
    expect(Math.abs(Date.parse((JSON.parse(second.stdout) as { expires: string }).expires) - (Date.now() + 30 * DAY))).toBeLessThan(60_000);
  });
});

describe('when keys create is told an expiry in the past or too far ahead', () => {
  it.each(['2020-01-01T00:00:00Z', '731d', '9999-01-01'])('refuses --expires %s (exit 2) and writes nothing', async (when) => {
    const result = await create('--expires', when);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--expires');
  });
});

describe('when a key record has no expiry', () => {
  it('check warns MG_KEY_NO_EXPIRY, unless the key is revoked', async () => {
    const record = (extra: string) => `id: AAAAAAAAAAAA\nprincipal: alice\nsha256: ${'ab'.repeat(32)}\ncreated: 2026-01-01T00:00:00Z\n${extra}`;
    const now = new Date('2026-11-27T12:00:00Z');
    const warned = await analyzeFiles(policyFiles({ 'keys/AAAAAAAAAAAA.yaml': record('') }), { now });
    expect(warned.diagnostics.map((d) => `${d.severity} ${d.code} ${d.file}:${d.line}`)).toEqual(['warning MG_KEY_NO_EXPIRY keys/AAAAAAAAAAAA.yaml:1']);
    expect((await analyzeFiles(policyFiles({ 'keys/AAAAAAAAAAAA.yaml': record('revoked: true\n') }), { now })).diagnostics).toEqual([]);
  });
});

describe('keys list and keys revoke', () => {
  it('lists records by principal, revokes one in place (comments kept), and a second revoke is a no-op', async () => {
    const made = JSON.parse((await create('--description', 'to revoke')).stdout) as { id: string; record: string };
    await writeFile(made.record, `# issued for the laptop\n${await readFile(made.record, 'utf8')}`);

    const listed = await runCli(['keys', 'list', '--principal', 'alice', '--policies', policies, '--format', 'json']);
    expect(listed.code).toBe(0);
    const keys = (JSON.parse(listed.stdout) as { keys: { id: string; principal: string; status: string; file: string }[] }).keys;
    expect(keys.every((k) => k.principal === 'alice')).toBe(true);
    expect(keys.find((k) => k.id === made.id)).toMatchObject({ file: `keys/${made.id}.yaml` });
    expect(keys.find((k) => k.id === made.id)).toMatchObject({ status: 'active' });
    const all = JSON.parse((await runCli(['keys', 'list', '--policies', policies, '--format', 'json'])).stdout) as { keys: { id: string; status: string }[] };
    expect(all.keys.find((k) => k.id === 'IBdP6E0MYcpC')).toMatchObject({ status: 'revoked' });

    const revoked = await runCli(['keys', 'revoke', made.id, '--policies', policies]);
    expect(revoked.code).toBe(0);
    const text = await readFile(made.record, 'utf8');
    expect(text).toContain('# issued for the laptop');
    expect(text).toMatch(/^revoked: true$/m);
    const again = await runCli(['keys', 'revoke', made.id, '--policies', policies, '--format', 'json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ ok: true, status: 'already-revoked' });
    expect((await runCli(['keys', 'list', '--principal', 'alice', '--policies', policies])).stdout).toMatch(new RegExp(`${made.id}\\s+alice\\s+revoked`));

    const missing = await runCli(['keys', 'revoke', 'ZZZZZZZZZZZZ', '--policies', policies, '--format', 'json']);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout)).toMatchObject({ ok: false, code: 'MG_CLI_KEY_NOT_FOUND' });
    expect((await runCli(['check', '--policies', policies])).code).toBe(0);
  }, 120_000);
});
