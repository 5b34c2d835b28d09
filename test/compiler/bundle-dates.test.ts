// Bundle dates that would outlive or outrun the gateways: a created_at in the future (whose serial
// would poison every gateway's floor) and a lifetime no bundle can hold.
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeFiles } from '../../compiler/io/analyze-folder.ts';
import { createdInFuture, MAX_CLOCK_SKEW_MS } from '../../schemas/bundle/expiry.ts';
import { policyFiles } from '../support/policy-files.ts';
import { runCli } from '../support/run-cli.ts';

const EXAMPLE = new URL('../../policies', import.meta.url).pathname;
let work: string;
let policies: string;
let key: string;
let pub: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mg-dates-'));
  policies = join(work, 'policies');
  await cp(EXAMPLE, policies, { recursive: true });
  expect((await runCli(['keygen', '--out', join(work, 'k')])).code).toBe(0);
  key = join(work, 'k/signing-key.pem');
  pub = join(work, 'k/signing-key.pub.pem');
});
afterAll(() => rm(work, { recursive: true, force: true }));

describe('createdInFuture (the shared rule the runtime calls before trusting a serial)', () => {
  it('allows clock skew up to MAX_CLOCK_SKEW_MS and refuses anything later', () => {
    const now = Date.parse('2026-11-30T00:00:00Z');
    const at = (ms: number) => ({ created_at: new Date(now + ms).toISOString() });
    expect(createdInFuture(at(0), now)).toBe(false);
    expect(createdInFuture(at(MAX_CLOCK_SKEW_MS), now)).toBe(false);
    expect(createdInFuture(at(MAX_CLOCK_SKEW_MS + 1000), now)).toBe(true);
    expect(createdInFuture({ created_at: '2033-01-01T00:00:00Z' }, now)).toBe(true);
  });
});

describe('when a bundle is dated in the future', () => {
  it('compile --created-at refuses it unless --allow-future-created-at, and verify and publish refuse the result', async () => {
    const out = join(work, 'future.json');
    const args = ['compile', '--policies', policies, '--out', out, '--signing-key', key, '--created-at', '2033-01-01T00:00:00Z'];
    const refused = await runCli(args);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('serial floor');

    expect((await runCli([...args, '--allow-future-created-at'])).code).toBe(0);
    const verified = await runCli(['verify', out, '--public-key', pub, '--format', 'json']);
    expect(verified.code).toBe(1);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: false, code: 'MG_BUNDLE_CREATED_IN_FUTURE' });

    const published = await runCli(['publish', out, '--to', `file://${join(work, 'site')}`, '--public-key', pub]);
    expect(published.code).toBe(1);
    expect(published.stderr).toContain('MG_BUNDLE_CREATED_IN_FUTURE');
    const unverified = await runCli(['publish', out, '--to', `file://${join(work, 'site')}`]);
    expect(unverified.code).toBe(1);
    expect(unverified.stderr).toContain('MG_BUNDLE_CREATED_IN_FUTURE');
  });

  it('still compiles, verifies and publishes a bundle dated now', async () => {
    const out = join(work, 'now.json');
    expect((await runCli(['compile', '--policies', policies, '--out', out, '--signing-key', key])).code).toBe(0);
    expect((await runCli(['verify', out, '--public-key', pub])).code).toBe(0);
    expect((await runCli(['publish', out, '--to', `file://${join(work, 'site2')}`, '--public-key', pub])).code).toBe(0);
  });
});

describe('when gateway.yaml sets a bundle lifetime no bundle can hold', () => {
  const NOW = new Date('2026-11-27T12:00:00Z');
  const lifetime = async (value: string) =>
    (await analyzeFiles(policyFiles({ 'gateway.yaml': `audience: test-gateway\nbundle:\n  lifetime: ${value}\n` }), { now: NOW })).diagnostics.map(
      (d) => `${d.code} ${d.file}:${d.line}:${d.col} ${d.message}`,
    );

  it.each(['99999999999d', '5000000d', '367d', '8785h', '7 days'])('check reports %s as MG_SCHEMA_INVALID_VALUE at the field', async (value) => {
    expect(await lifetime(value)).toEqual(['MG_SCHEMA_INVALID_VALUE gateway.yaml:3:13 "bundle.lifetime" must be a duration within the allowed bound']);
  });

  it.each(['7d', '36h', '90m', '366d'])('accepts %s', async (value) => {
    expect(await lifetime(value)).toEqual([]);
  });

  it('compile answers a huge lifetime with the diagnostic (exit 1), not "unexpected error"', async () => {
    const dir = join(work, 'huge');
    await cp(EXAMPLE, dir, { recursive: true });
    await writeFile(join(dir, 'gateway.yaml'), 'audience: dev-gateway\nbundle:\n  lifetime: 99999999999d\n');
    const result = await runCli(['compile', '--policies', dir, '--out', join(work, 'huge.json'), '--signing-key', key]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('MG_SCHEMA_INVALID_VALUE');
    expect(result.stderr).not.toContain('unexpected error');
  });
});

describe('when a CLI time is past the year 9999', () => {
  it('keys create --expires answers with a usage error, not a crash', async () => {
    const result = await runCli(['keys', 'create', '--principal', 'alice', '--expires', '99999999999999d', '--policies', policies]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--expires');
    expect(result.stderr).not.toContain('unexpected error');
  });
});
