// `modelgate resign`: when the policies cannot compile only because the identity lock is out of
// date, the last good bundle is signed again (same policy, new serial and expiry) so that
// gateways do not run into its expiry.
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/run-cli.ts';

const EXAMPLE = new URL('../../policies', import.meta.url).pathname;
let work: string;
let policies: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mg-resign-'));
  policies = join(work, 'policies');
  await cp(EXAMPLE, policies, { recursive: true });
  expect((await runCli(['keygen', '--out', join(work, 'k')])).code).toBe(0);
  expect((await runCli(['keygen', '--out', join(work, 'other')])).code).toBe(0);
});
afterAll(() => rm(work, { recursive: true, force: true }));

const payloadOf = async (file: string) =>
  JSON.parse(Buffer.from((JSON.parse(await readFile(file, 'utf8')) as { payload: string }).payload, 'base64').toString()) as Record<string, unknown>;

describe('when the last good bundle has expired and the policies cannot be compiled', () => {
  it('re-signs its payload unchanged but for a higher serial and fresh dates, and verify accepts it', async () => {
    const old = join(work, 'old.json');
    const key = join(work, 'k/signing-key.pem');
    const pub = join(work, 'k/signing-key.pub.pem');
    expect(
      (await runCli(['compile', '--policies', policies, '--out', old, '--signing-key', key, '--created-at', '2026-10-01T00:00:00Z', '--revision', 'abc123']))
        .code,
    ).toBe(0);
    expect((await runCli(['verify', old, '--public-key', pub])).stderr).toContain('MG_BUNDLE_EXPIRED');

    const fresh = join(work, 'fresh.json');
    const result = await runCli(['resign', old, '--public-key', pub, '--signing-key', key, '--out', fresh, '--format', 'json']);
    expect(result.code).toBe(0);
    const verified = await runCli(['verify', fresh, '--public-key', pub, '--format', 'json']);
    expect(verified.code).toBe(0);

    const before = await payloadOf(old);
    const after = await payloadOf(fresh);
    expect(after.serial as number).toBeGreaterThan(before.serial as number);
    expect(Date.parse(after.expires_at as string) - Date.parse(after.created_at as string)).toBe(7 * 86_400_000);
    expect(Math.abs(Date.parse(after.created_at as string) - Date.now())).toBeLessThan(120_000);
    const { serial: _a, created_at: _b, expires_at: _c, ...restBefore } = before;
    const { serial: _d, created_at: _e, expires_at: _f, ...restAfter } = after;
    expect(restAfter).toEqual(restBefore);
    expect(restAfter.revision).toBe('abc123');
  }, 120_000);

  it('refuses a bundle that does not verify with the trusted key', async () => {
    const old = join(work, 'old.json');
    const result = await runCli([
      'resign',
      old,
      '--public-key',
      join(work, 'other/signing-key.pub.pem'),
      '--signing-key',
      join(work, 'k/signing-key.pem'),
      '--out',
      join(work, 'x.json'),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('MG_BUNDLE_BAD_SIGNATURE');
  });
});
